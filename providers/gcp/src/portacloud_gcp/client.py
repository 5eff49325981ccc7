"""The google-cloud-storage client a ``gs://`` driver talks through, and its raw HTTP helpers."""

from __future__ import annotations

from typing import Any

from portacloud.errors import InvalidArgumentError
from portacloud.providerkit.fork_pools import fresh_pools_in_children
from portacloud.providerkit.requests_env import settle_environment

__all__ = ["TIMEOUT", "can_sign", "http_error", "make_client", "same_principal"]

#: Seconds any one request may take (connect and each read).
TIMEOUT = 60.0

#: Connections kept open for reuse (requests keeps 10): callers with more threads than that,
#: such as a migration's 16, would otherwise open and drop one for most requests.
_POOL_CONNECTIONS = 64


def make_client(
    *, project: str | None, endpoint: str | None, credentials: object, emulator: bool
) -> Any:
    """A ``storage.Client`` whose requests session refuses unframed answers and pools deeper."""
    from google.auth.credentials import AnonymousCredentials, Credentials
    from google.cloud import storage  # type: ignore[import-untyped]

    from portacloud_gcp.errors import map_gcs_error

    if credentials is not None and not isinstance(credentials, Credentials):
        raise InvalidArgumentError(
            "option credentials must be a google.auth.credentials.Credentials, "
            f"not {type(credentials).__name__}"
        )
    if credentials is None and emulator:
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    kwargs: dict[str, Any] = {"project": project, "credentials": credentials}
    if endpoint is not None:
        kwargs["client_options"] = {"api_endpoint": endpoint.rstrip("/")}
    try:
        client = storage.Client(**kwargs)
    except Exception as exc:
        mapped = map_gcs_error(exc)
        if mapped is None:
            raise
        raise mapped from exc
    # Every answer must say where it ends (see _require_framing).
    client._http.hooks["response"].append(_require_framing)
    _deepen_pool(client._http)
    # Proxies and the CA bundle are read from the environment once per host, not per request.
    settle_environment(client._http)
    _fresh_pools_in_children(client._http)
    # The SDK fetches bucket metadata for tracing in background threads, with its own retries;
    # those requests would escape the one retry owner (docs/decisions/0001-retries.md).
    if getattr(client, "_bucket_metadata_cache", None) is not None:
        client._bucket_metadata_cache = None
    return client


def _deepen_pool(session: Any) -> None:
    """Keep ``_POOL_CONNECTIONS`` connections for reuse where the session has plain adapters
    (an mTLS adapter mounted by google-auth is left as it is)."""
    from requests.adapters import HTTPAdapter

    for scheme in ("http://", "https://"):
        if type(session.get_adapter(scheme)) is HTTPAdapter:
            session.mount(
                scheme,
                HTTPAdapter(pool_connections=_POOL_CONNECTIONS, pool_maxsize=_POOL_CONNECTIONS),
            )


def _fresh_pools_in_children(session: Any) -> None:
    """Keep a forked child out of the parent's pooled connections: the API's, and those of
    the token requests google-auth sends through a session of its own."""
    fresh_pools_in_children(session)
    auth_request = getattr(session, "_auth_request", None)
    if auth_request is not None and getattr(auth_request, "session", None) is not None:
        fresh_pools_in_children(auth_request.session)


def _require_framing(response: Any, *args: Any, **kwargs: Any) -> Any:
    """Refuse an answer with neither Content-Length nor chunked encoding (a requests hook).

    GCS frames every answer with a body. One without framing is one whose connection closed
    inside the header block: it still parses, minus the headers that did not arrive, and its
    body reads as empty, which the SDK would take for an empty JSON answer or object.
    """
    import requests

    if response.request.method == "HEAD" or response.status_code in (204, 304):
        return response
    headers = response.headers
    if "Content-Length" in headers or "chunked" in headers.get("Transfer-Encoding", "").lower():
        return response
    response.close()
    raise requests.exceptions.ChunkedEncodingError(
        "the answer was cut short: it has no Content-Length"
    )


def can_sign(client: Any) -> bool:
    """Whether the client's credentials can sign V4 URLs themselves."""
    from google.auth.credentials import Signing

    return isinstance(getattr(client, "_credentials", None), Signing)


def same_principal(source: Any, target: Any) -> bool:
    """Whether ``target`` (a ``storage.Client``) reaches what ``source`` does, as the same
    principal, so that a rewrite it sends can read the source's objects.

    True only where that is certain without a request: one API endpoint and project, and
    either the very same credentials, or credentials of one kind naming one principal (the
    same service account, the same user's refresh token, or both anonymous). Anything else
    (another kind, credentials that name no principal before they are refreshed) answers
    False, and the caller streams instead.
    """
    endpoint = [str(c._connection.API_BASE_URL).rstrip("/") for c in (source, target)]
    if endpoint[0] != endpoint[1] or source.project != target.project:
        return False
    theirs, ours = source._credentials, target._credentials
    if theirs is ours:
        return True
    if type(theirs) is not type(ours):
        return False
    from google.auth.credentials import AnonymousCredentials

    if isinstance(theirs, AnonymousCredentials):
        return True
    for name in ("service_account_email", "refresh_token"):
        mine = getattr(ours, name, None)
        if isinstance(mine, str) and mine and getattr(theirs, name, None) == mine:
            return True
    return False


def http_error(response: Any) -> Exception:
    """The SDK's own exception for a failed raw request, so errors.py maps it like the rest."""
    from google.api_core import exceptions as api_exceptions

    error: Exception = api_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
    return error
