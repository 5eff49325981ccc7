"""libcloud's S3 storage driver, fixed for S3-compatible endpoints in two places.

1. libcloud's SigV4 signer adds ``Version=2006-03-01`` to every GET, an EC2 habit that S3
   itself ignores. SeaweedFS answers such a bucket listing with 501 ``NotImplemented`` ("A
   header you provided implies functionality that is not implemented"). Dropping the parameter
   before signing changes nothing for AWS (boto3 never sends it).
2. ``get_object_cdn_url`` (presigned URLs) signs the ``host`` header without the port while
   the URL it returns carries one, so on any endpoint with a non-default port (a local server)
   every presigned URL fails with 403. The override signs ``host:port`` as HTTP clients send
   it; on default ports it is libcloud's own method.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

__all__ = ["s3_compatible"]


def s3_compatible(driver_cls: Any) -> Any:
    """Return a subclass of an S3-family driver class whose connection omits ``Version``.

    Args:
        driver_cls: ``get_driver("s3")`` or another subclass of libcloud's
            ``BaseS3StorageDriver``; anything else is returned unchanged.
    """
    s3: Any = importlib.import_module("libcloud.storage.drivers.s3")
    if not (isinstance(driver_cls, type) and issubclass(driver_cls, s3.BaseS3StorageDriver)):
        return driver_cls
    cls: Any = driver_cls
    base_conn = cls.connectionCls

    def add_default_params(self: Any, params: dict[str, Any]) -> dict[str, Any]:
        params = base_conn.add_default_params(self, params)
        params.pop("Version", None)
        return params

    conn = type(
        f"PortacloudCompat{base_conn.__name__}",
        (base_conn,),
        {"add_default_params": add_default_params, "__module__": __name__},
    )

    def get_object_cdn_url(
        self: Any, obj: Any, ex_expiry: float = 24.0, ex_method: str = "GET"
    ) -> str:
        return _presign(driver_cls, self, obj, ex_expiry=ex_expiry, ex_method=ex_method)

    return type(
        f"Portacloud{driver_cls.__name__}",
        (driver_cls,),
        {
            "connectionCls": conn,
            "get_object_cdn_url": get_object_cdn_url,
            "__module__": __name__,
        },
    )


def _presign(base: Any, driver: Any, obj: Any, *, ex_expiry: float, ex_method: str) -> str:
    """A SigV4 query-string presigned URL whose signed ``host`` matches the URL's."""
    connection = driver.connection
    default_port = 443 if driver.secure else 80
    if not connection.port or int(connection.port) == default_port:
        url: str = base.get_object_cdn_url(driver, obj, ex_expiry=ex_expiry, ex_method=ex_method)
        return url
    aws: Any = importlib.import_module("libcloud.common.aws")
    host = f"{connection.host}:{connection.port}"
    path = driver._get_object_path(obj.container, obj.name)
    now = datetime.now(UTC)
    scope = (driver.key, now.strftime("%Y%m%d"), driver.region, "s3", "aws4_request")
    params: dict[str, Any] = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "/".join(scope),
        "X-Amz-Date": now.strftime("%Y%m%dT%H%M%SZ"),
        "X-Amz-Expires": int(ex_expiry * 3600),
        "X-Amz-SignedHeaders": "host",
    }
    params["X-Amz-Signature"] = connection.signer._get_signature(
        params=dict(params),
        headers={"host": host},
        dt=now,
        method=ex_method,
        path=path,
        data=aws.UnsignedPayloadSentinel,
    )
    scheme = "https" if driver.secure else "http"
    return f"{scheme}://{host}{path}?{urlencode(params)}"
