"""The SDK clients behind a driver: credentials, the transport, and user-delegation keys.

Credentials never come from the URL. With the ``account`` option the client talks to
``https://ACCOUNT.blob.core.windows.net`` (or ``endpoint_url``) with ``DefaultAzureCredential``.
Without it the account, the endpoint and the shared key come from the
``AZURE_STORAGE_CONNECTION_STRING`` environment variable: a secret, read from the environment
only, handed to the SDK, and never kept in an attribute, a repr or an error message.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from portacloud.errors import InvalidArgumentError, UnauthenticatedError
from portacloud.providerkit.fork_pools import fresh_pools_in_children
from portacloud.providerkit.requests_env import settle_environment
from portacloud_azure.options import AzureOptions

__all__ = ["CONNECTION_STRING_ENV", "DelegationKeys", "same_principal", "service_client"]

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
#: Connections kept open for reuse. requests keeps 10 by default: a caller with more threads
#: than that (a migration runs 16 objects at a time, each large one several blocks) would
#: open, and drop, a new connection for most requests.
_POOL_CONNECTIONS = 64


def service_client(options: AzureOptions) -> tuple[Any, str | None]:
    """Build the ``BlobServiceClient`` and say how it can sign: key, delegation or not at all.

    The SDK's own retries are off: the portable layer and the driver own them
    (docs/decisions/0001-retries.md).
    """
    from azure.storage.blob import BlobServiceClient

    client_options: dict[str, Any] = {
        "retry_total": 0,
        "retry_to_secondary": False,
        "max_single_put_size": options.block_size,
        "max_block_size": options.block_size,
        "transport": _transport(),
    }
    if options.api_version is not None:
        client_options["api_version"] = options.api_version
    endpoint_url = options.endpoint_url
    if options.account is not None:
        from azure.identity import DefaultAzureCredential

        account_url = endpoint_url or f"https://{options.account}.blob.core.windows.net"
        credential = DefaultAzureCredential()
        service = BlobServiceClient(account_url, credential=credential, **client_options)
        return service, "delegation"
    conn = os.environ.get(CONNECTION_STRING_ENV)
    if not conn:
        raise UnauthenticatedError(
            f"no Azure credentials: set {CONNECTION_STRING_ENV}, or pass the account option "
            "to use DefaultAzureCredential (environment, managed identity, Azure CLI)"
        )
    try:
        service = BlobServiceClient.from_connection_string(conn, **client_options)
        if endpoint_url is not None:
            service = BlobServiceClient(
                endpoint_url, credential=_connection_credential(conn), **client_options
            )
    except (ValueError, KeyError, TypeError, AttributeError):
        # The SDK's message can quote the string; it holds the key, so say only what is wrong.
        raise InvalidArgumentError(
            f"{CONNECTION_STRING_ENV} is not a valid Azure Storage connection string"
        ) from None
    signing = "key" if getattr(service.credential, "account_key", None) else None
    return service, signing


def same_principal(source: Any, target: Any) -> bool:
    """Whether ``target`` (a ``BlobServiceClient``) can read what ``source`` reaches.

    True only where that is certain without a request: one account URL and account, and
    either the very same credential object or shared keys of that account (a shared key
    grants the whole account). A SAS may be scoped to one container, and two Entra ID
    credentials built apart may resolve to different principals: both answer False, and the
    caller streams instead.
    """
    if str(source.url) != str(target.url) or source.account_name != target.account_name:
        return False
    theirs, ours = source.credential, target.credential
    if theirs is None or ours is None:  # a SAS in the URL
        return False
    if theirs is ours:
        return True
    keys = [
        (getattr(c, "account_name", None), getattr(c, "account_key", None)) for c in (theirs, ours)
    ]
    return all(name and key for name, key in keys) and keys[0] == keys[1]


def _transport() -> Any:
    """The transport the SDK would build, over a deeper connection pool.

    The same ``RequestsTransport`` with the SDK's own timeouts and adapter (no retries of its
    own, larger socket blocks), only with ``_POOL_CONNECTIONS`` connections kept for reuse and
    the environment read once per host (:mod:`portacloud.providerkit.requests_env`).
    """
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.pipeline.transport._bigger_block_size_http_adapters import (
        BiggerBlockSizeHTTPAdapter,
    )
    from azure.storage.blob._shared.constants import (
        CONNECTION_TIMEOUT,
        DATA_BLOCK_SIZE,
        READ_TIMEOUT,
    )
    from urllib3.util.retry import Retry

    # Proxies and the CA bundle are read from the environment once per host, not per request.
    session = settle_environment(requests.Session())
    adapter = BiggerBlockSizeHTTPAdapter(
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
        pool_connections=_POOL_CONNECTIONS,
        pool_maxsize=_POOL_CONNECTIONS,
    )
    for scheme in ("http://", "https://"):
        session.mount(scheme, adapter)
    # Every client of the service (containers, blobs) shares this transport, hence its session:
    # a forked child must not send requests into the parent's pooled connections.
    fresh_pools_in_children(session)
    return RequestsTransport(
        session=session,
        session_owner=True,
        connection_timeout=CONNECTION_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        connection_data_block_size=DATA_BLOCK_SIZE,
    )


def _connection_credential(conn: str) -> Any:
    """The credential a connection string carries, for use with another endpoint."""
    from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential

    fields = {}
    for part in conn.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            fields[name.strip().lower()] = value.strip()
    if fields.get("accountname") and fields.get("accountkey"):
        return AzureNamedKeyCredential(fields["accountname"], fields["accountkey"])
    if fields.get("sharedaccesssignature"):
        return AzureSasCredential(fields["sharedaccesssignature"])
    raise ValueError("no credential")


class DelegationKeys:
    """User-delegation keys for signing with Entra ID credentials, reused until they expire."""

    def __init__(self, service: Any) -> None:
        self._service = service
        self._lock = threading.Lock()
        self._key: Any = None
        self._expiry: datetime | None = None

    def key_until(self, expiry: datetime) -> Any:
        """A key valid at least until ``expiry`` (fetched at most once a day of URLs)."""
        with self._lock:
            if self._key is None or self._expiry is None or self._expiry < expiry:
                now = datetime.now(UTC)
                # One key for up to a day of URLs (7 days is the service's cap), so signing
                # many URLs costs one request.
                until = min(max(expiry, now + timedelta(days=1)), now + timedelta(days=7))
                self._key = self._service.get_user_delegation_key(
                    key_start_time=now - timedelta(minutes=5), key_expiry_time=until
                )
                self._expiry = until
            return self._key
