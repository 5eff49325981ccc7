"""requests sessions that read the environment once per host, not on every request.

A ``requests.Session`` with ``trust_env`` (the default) looks up proxies (``HTTPS_PROXY``,
``NO_PROXY``...) and the CA bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) for every request
it sends: it walks the whole of ``os.environ`` twice and decodes every entry each time. Measured
on Azurite, that was 13-15% of the CPU of an Azure SDK Put Blob (about 0.5 ms of 3.4 ms), paid
again for every object of a migration. botocore reads the same variables once, when it builds
a client; :func:`settle_environment` gives the SDK sessions of the Azure and GCS providers the
same behaviour, once per scheme and host, so that ``NO_PROXY`` still decides per host.

The settings are otherwise exactly what requests computes (its own method runs, once): a
request given explicit ``proxies`` goes through it unchanged, and a session whose ``trust_env``
is off, or whose own ``proxies``, ``verify``, ``stream`` or ``cert`` changed, is answered
afresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

__all__ = ["settle_environment"]

_S = TypeVar("_S")

_Merge = Callable[[str, Any, Any, Any, Any], dict[str, Any]]


def settle_environment(session: _S) -> _S:
    """Make ``session`` (a ``requests.Session``) read the environment once per host.

    Args:
        session: The session an SDK client sends its requests through; its
            ``merge_environment_settings`` is wrapped on this instance only.

    Returns:
        ``session``, for use in an expression.
    """
    own: Any = session
    original: _Merge = own.merge_environment_settings
    settled: dict[tuple[object, ...], dict[str, Any]] = {}

    def merge_environment_settings(
        url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if proxies or not own.trust_env:
            return original(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        try:
            # requests adds the environment's proxies to a given mapping, not to None: say which.
            own_settings = (own.stream, own.verify, own.cert, frozenset(own.proxies.items()))
            key = (parts.scheme, parts.netloc, proxies is None, stream, verify, cert, own_settings)
            found = settled.get(key)
        except TypeError:  # a setting that cannot be a key (a list for cert): ask requests
            return original(url, proxies, stream, verify, cert)
        if found is None:
            # Two threads may both compute it: the answers are the same, either one is kept.
            found = settled[key] = original(
                url, None if proxies is None else {}, stream, verify, cert
            )
        # Each request gets its own proxies mapping: requests and adapters may add to it.
        return {**found, "proxies": dict(found["proxies"])}

    own.merge_environment_settings = merge_environment_settings
    return session
