"""Keep credentials out of log records, whichever SDK writes them.

Vendor SDKs log requests at DEBUG: botocore prints every header (the session token, the
``Authorization`` header with the access key id and signature) and every presigned query,
``botocore.auth`` prints the signature it computed, urllib3 prints request lines whose query may
be a SAS token, google-auth and azure.core print what they send. A user who turns on DEBUG to
find a bug must not leak their keys into a log file.

:func:`install_redaction` wraps the logging module's record factory: every record created by a
logger of the vendor SDKs (or of portacloud itself) has its message, and the text of its
exception if it carries one, passed through :func:`redact` before any handler sees it. A record
factory rather than a ``logging.Filter``: a filter on ``botocore`` does not apply to records of
``botocore.auth``, and loggers created later would be missed. Other loggers are untouched.
Providers call it when a bucket, queue or compute client is opened; it is idempotent.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["REDACTED", "install_redaction", "redact"]

REDACTED = "***"

#: Loggers whose records are redacted (a name or its parent).
VENDOR_LOGGERS = (
    "portacloud",
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "requests",
    "azure",
    "msal",
    "google",
    "googleapiclient",
    "oauthlib",
    "requests_oauthlib",
    "aiohttp",
    "httpx",
    "httpcore",
)

_HEADER_NAMES = (
    r"authorization|proxy-authorization|x-amz-security-token|x-amz-content-sha256-signature|"
    r"x-goog-api-key|x-ms-copy-source-authorization|cookie|set-cookie|x-api-key"
)
_QUERY_NAMES = (
    r"x-amz-signature|x-amz-credential|x-amz-security-token|signature|awsaccesskeyid|"
    r"x-goog-signature|x-goog-credential|sig|access_token|refresh_token|id_token|client_secret|"
    r"sharedaccesssignature|accountkey|sharedaccesskey|aws_secret_access_key|aws_session_token|"
    r"password|upload_id|secret|token|passwd"
)

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, raw or JSON-escaped.
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        f"-----PRIVATE KEY {REDACTED}-----",
    ),
    # JSON fields of service-account files and token answers.
    (
        re.compile(
            r'(?i)("(?:private_key|private_key_id|client_secret|refresh_token|access_token|'
            r'id_token|assertion|secret|password|token)"\s*:\s*")[^"]*(")'
        ),
        rf"\g<1>{REDACTED}\g<2>",
    ),
    # Header values, in dict reprs ('Authorization': b'...') and in raw or canonical form.
    (
        re.compile(rf"(?i)(['\"]?\b(?:{_HEADER_NAMES})\b['\"]?\s*[:=]\s*(?-i:b)?['\"]?)[^'\"\r\n,}}]+"),
        rf"\g<1>{REDACTED}",
    ),
    # Passwords and secrets written "name: value" in a server's message.
    (re.compile(r"(?i)\b(password|passwd|secret)(\s*:\s*)[^\s&'\",;}]+"), rf"\g<1>\g<2>{REDACTED}"),
    # Query parameters and connection-string fields.
    (re.compile(rf"(?i)\b({_QUERY_NAMES})=[^&\s'\"<>;,]+"), rf"\g<1>={REDACTED}"),
    # botocore.auth's "Signature:\n<hex>" and SigV4 "Signature=<hex>" in headers.
    (re.compile(r"(?i)(signature:?\s*)[0-9a-f]{64}\b"), rf"\g<1>{REDACTED}"),
    # Shared-key and bearer schemes wherever they appear.
    (re.compile(r"(?i)\b(SharedKey(?:Lite)?\s+[^:\s]+:)\S+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(?i)\b(Bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\g<1>{REDACTED}"),
    # AWS access key ids (long-term and temporary).
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b"), REDACTED),
    # A bare HMAC-SHA256 in base64 (Azure quotes the MAC it expected in AuthenticationFailed).
    (re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])"), REDACTED),
    # Azure account keys and other long base64 secrets that end in padding.
    (re.compile(r"[A-Za-z0-9+/]{60,}={1,2}"), REDACTED),
)


def redact(text: str) -> str:
    """``text`` with anything shaped like a credential replaced by ``***``."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def _is_vendor(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in VENDOR_LOGGERS)


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string is the handler's to report
        return
    record.msg = redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        # Formatters reuse exc_text when it is set: format the traceback now, redacted.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


_lock = threading.Lock()
_installed: Callable[..., logging.LogRecord] | None = None


def install_redaction() -> None:
    """Redact every record of the vendor SDKs' loggers from now on (idempotent)."""
    global _installed  # noqa: PLW0603 - one process-wide factory, installed once
    with _lock:
        if _installed is not None and logging.getLogRecordFactory() is _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if _is_vendor(record.name):
                _scrub(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = factory
