"""libcloud's EC2 driver pointed at an EC2-compatible endpoint other than AWS (moto).

Out of the box, libcloud 3.9's EC2 driver against moto silently returns empty lists. Four fixes
make it work; each is harmless against AWS:

1. sign with SigV4 (libcloud signs us-east-1 with SigV2, and moto routes requests to a service
   by the credential scope of a SigV4 ``Authorization`` header);
2. moto answers ``xmlns="http://ec2.amazonaws.com/doc/2016-11-15"`` where AWS and libcloud's
   XPaths use the trailing ``/``: the response namespace is rewritten;
3. moto's error bodies carry that namespace too, so libcloud's ``Errors/Error`` lookup finds
   nothing and every error arrives without its code: the namespace is dropped from errors;
4. libcloud numbers ``CreateTags``/``DeleteTags`` lists from 0 (``ResourceId.0``); the EC2
   query API numbers from 1, which moto insists on (``MissingParameter`` otherwise).

The driver uses it whenever ``host`` names an endpoint that is not ``*.amazonaws.com``.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

__all__ = ["moto_compatible_ec2"]

_NAMESPACE_WITHOUT_SLASH = 'doc/2016-11-15"'
_NAMESPACE_WITH_SLASH = 'doc/2016-11-15/"'
_ANY_NAMESPACE = re.compile(r'\sxmlns="[^"]*"')
_LIST_PARAM = re.compile(r"^(ResourceId|Tag)\.(\d+)")


def _text(body: Any) -> str:
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")


def _renumber(params: dict[str, Any]) -> dict[str, Any]:
    return {
        _LIST_PARAM.sub(lambda m: f"{m.group(1)}.{int(m.group(2)) + 1}", k): v
        for k, v in params.items()
    }


def moto_compatible_ec2(driver_cls: Any) -> Any:
    """Return a subclass of libcloud's EC2 driver class with the fixes above.

    Args:
        driver_cls: ``get_driver("ec2")`` (``EC2NodeDriver``) or a subclass.
    """
    ec2: Any = importlib.import_module("libcloud.compute.drivers.ec2")
    base_response: Any = ec2.EC2Response
    base_conn: Any = driver_cls.connectionCls

    def parse_body(self: Any) -> Any:
        self.body = _text(self.body).replace(_NAMESPACE_WITHOUT_SLASH, _NAMESPACE_WITH_SLASH)
        return base_response.parse_body(self)

    def parse_error(self: Any) -> Any:
        # AWS error bodies have no namespace; libcloud's lookup relies on that.
        self.body = _ANY_NAMESPACE.sub("", _text(self.body), count=1)
        return base_response.parse_error(self)

    def request(self: Any, action: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        if params and params.get("Action") in ("CreateTags", "DeleteTags"):
            params = _renumber(params)
        return base_conn.request(self, action, params, *args, **kwargs)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("signature_version", "4")
        driver_cls.__init__(self, *args, **kwargs)

    response = type(
        "MotoCompatibleEC2Response",
        (base_response,),
        {"parse_body": parse_body, "parse_error": parse_error, "__module__": __name__},
    )
    connection = type(
        f"MotoCompatible{base_conn.__name__}",
        (base_conn,),
        {"responseCls": response, "request": request, "__module__": __name__},
    )
    return type(
        f"MotoCompatible{driver_cls.__name__}",
        (driver_cls,),
        {"connectionCls": connection, "__init__": init, "__module__": __name__},
    )
