"""What the S3 and EC2 drivers both ask of boto3; importing this imports no AWS SDK.

Client settings, AWS's own endpoints, timestamps, and the code and status of a ``ClientError``.

botocore's own retries are off in every client built here (``total_max_attempts=1``): the
portable layer or the driver owns retries, under the caller's policy
(docs/decisions/0001-retries.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "client_account",
    "client_config",
    "error_code",
    "http_status",
    "is_aws_endpoint",
    "renew_botocore_pools",
    "utc",
]


def client_config(**settings: Any) -> Any:
    """A botocore ``Config`` with retries off, tagged ``portacloud``, plus ``settings``."""
    config_cls = importlib.import_module("botocore.config").Config
    return config_cls(
        retries={"total_max_attempts": 1, "mode": "standard"},
        user_agent_appid="portacloud",
        **settings,
    )


def is_aws_endpoint(url: str | None, *, suffixes: tuple[str, ...] = ()) -> bool:
    """Whether ``url`` is AWS's own endpoint (``*.amazonaws.com``, ``*.amazonaws.com.cn``).

    Args:
        url: The endpoint URL a client uses.
        suffixes: More host suffixes that count as AWS (EC2's dual-stack ``.api.aws``).
    """
    host = (urlsplit(url).hostname or "") if url else ""
    known = (".amazonaws.com", ".amazonaws.com.cn", *suffixes)
    return host.endswith(known) or host == "amazonaws.com"


def utc(value: object) -> datetime | None:
    """A boto3 timestamp as an aware UTC datetime (naive ones are UTC already)."""
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a ``ClientError`` (``"NoSuchKey"``, or ``"404"`` for HEAD)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code else None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a ``ClientError`` (or of a response dict's owner), if it has one."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def client_account(client: Any) -> tuple[str, str, str | None]:
    """Where a client sends requests and as whom: (endpoint URL, region, access key ID).

    Two clients with equal answers reach the same store as the same principal, so one can
    copy server-side what the other can read. botocore offers the credentials a client signs
    with only through ``_get_credentials``; ``None`` stands for unsigned requests.
    """
    credentials = client._get_credentials()
    key = None if credentials is None else credentials.get_frozen_credentials().access_key
    return str(client.meta.endpoint_url), str(client.meta.region_name), key


def renew_botocore_pools(client: Any) -> object:
    """Give a boto3 client fresh, empty connection pools of the same settings (after a fork).

    botocore offers no public way to do this: its ``URLLib3Session`` is rebuilt here as its own
    ``__init__`` builds it, from the settings it keeps (pool size, timeouts, TLS, proxies).
    Used by :func:`portacloud.providerkit.fork_pools.fresh_pools_in_children`.

    Returns:
        The pool managers the client held before.
    """
    http = client._endpoint.http_session
    replaced = (http._manager, http._proxy_managers)
    manager = type(http._manager)(**http._get_pool_manager_kwargs())
    manager.pool_classes_by_scheme = http._pool_classes_by_scheme
    http._manager = manager
    http._proxy_managers = {}
    return replaced
