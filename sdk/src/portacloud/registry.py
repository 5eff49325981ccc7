"""URL schemes to providers, through the ``portacloud.providers`` entry-point group.

Providers are found by entry point and imported only when a URL of theirs is opened, so
``import portacloud`` never imports a vendor SDK.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import SplitResult, parse_qsl, urlsplit

from portacloud.errors import (
    InternalError,
    InvalidArgumentError,
    UnsupportedError,
    guarded_call,
)

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from portacloud.compute.compute import Compute
    from portacloud.jobs.queue import JobQueue
    from portacloud.retry import RetryPolicy
    from portacloud.storage.bucket import Bucket
    from portacloud.storage.driver import BucketDriver

__all__ = [
    "StorageProvider",
    "available_schemes",
    "load_provider",
    "open_bucket",
    "open_compute",
    "open_jobs",
    "open_object",
    "parse_url",
]

ENTRY_POINT_GROUP = "portacloud.providers"

#: Schemes portacloud knows about, and the extra that installs each.
KNOWN_SCHEMES: dict[str, str] = {
    "s3": "aws",
    "aws": "aws",
    "gs": "gcp",
    "gce": "gcp",
    "az": "azure",
    "azure": "azure",
    "libcloud": "libcloud",
    "ray": "ray",
    "slurm": "slurm",
    "k8s": "kubernetes",
}

_SECRET_NAME = re.compile(
    r"(secret|password|passwd|token|credential|signature|^sig$|^sas|key$|connection_string)",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


class StorageProvider(Protocol):
    """What a ``portacloud.providers`` entry point must offer to open buckets."""

    def open_bucket(self, url: SplitResult, options: Mapping[str, Any]) -> tuple[BucketDriver, str]:
        """Return a driver for the URL's bucket and the key prefix the URL names."""


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_schemes() -> list[str]:
    """The URL schemes of the providers installed now."""
    return sorted(_entry_points())


def _family(scheme: str) -> str:
    return "libcloud" if scheme.startswith("libcloud+") else scheme


def load_provider(scheme: str) -> Any:
    """Import and return the provider object registered for ``scheme``.

    Raises:
        UnsupportedError: naming the package to install for a known scheme, or the installed
            schemes for an unknown one.
    """
    points = _entry_points()
    point = points.get(scheme) or points.get(_family(scheme))
    if point is None:
        extra = KNOWN_SCHEMES.get(_family(scheme))
        if extra is not None:
            raise UnsupportedError(
                f"'{scheme}://' needs the portacloud-{extra} provider: "
                f'pip install "portacloud[{extra}]"'
            )
        raise UnsupportedError(
            f"unknown URL scheme {scheme!r}; installed schemes: {', '.join(available_schemes())}"
        )
    try:
        return point.load()
    except Exception as exc:  # a broken install must still read as one portacloud error
        raise InternalError(
            f"the provider for '{scheme}://' ({point.value}) is installed but failed to "
            f"import: {type(exc).__name__}: {exc}"
        ) from exc


def parse_url(url: object) -> tuple[SplitResult, dict[str, str]]:
    """Split a resource URL into its parts and its query options.

    URLs name resources only: credentials in the user-info part or in the query are refused, so
    they cannot end up in logs, profiles or reprs.
    """
    if not isinstance(url, str) or "://" not in url:
        raise InvalidArgumentError(f"expected a URL such as 's3://bucket/prefix', got {url!r}")
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidArgumentError(f"URLs cannot contain control characters: {url!r}")
    try:
        # A '#' belongs to the key: object URLs never carry fragments.
        parts = urlsplit(url, allow_fragments=False)
    except ValueError as exc:
        raise InvalidArgumentError(f"malformed URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if not _SCHEME.match(scheme):
        raise InvalidArgumentError(f"malformed URL scheme {parts.scheme!r}")
    if "@" in parts.netloc:
        raise InvalidArgumentError(
            "URLs never carry credentials (user:password@...); use the provider's usual "
            "credential chain or typed options"
        )
    try:
        query = dict(
            parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        )
    except ValueError as exc:
        raise InvalidArgumentError(f"malformed URL query: {exc}") from exc
    secret = sorted(name for name in query if _SECRET_NAME.search(name))
    if secret:
        raise InvalidArgumentError(
            f"URLs never carry credentials; remove {', '.join(secret)} from the query and use "
            "the provider's credential chain or typed options"
        )
    return parts._replace(scheme=scheme, query="", fragment=""), query


def _open(
    opener: Any, parts: SplitResult, options: dict[str, Any], *, operation: str, url: str
) -> Any:
    """Call a provider's opener so that only portacloud errors, with context, leave it.

    Vendor SDKs log credentials and signatures at DEBUG; redaction is switched on before any
    provider can create a client, whichever provider it is.
    """
    from portacloud.logging_redaction import install_redaction

    install_redaction()
    return guarded_call(
        lambda: opener(parts, options),
        map_error=lambda exc: None,
        provider=parts.scheme,
        operation=operation,
        resource=url,
    )


def open_bucket(url: str, *, retry: RetryPolicy | None = None, **options: Any) -> Bucket:
    """Open the bucket a URL names.

    Args:
        url: ``memory://name``, ``file:///abs/path``, ``s3://bucket/prefix``... Query
            parameters are provider options (``s3://b?region=eu-west-1``).
        retry: The retry policy for this bucket's calls.
        **options: Provider options; the same names as the query parameters.

    Returns:
        A :class:`~portacloud.Bucket` whose keys are relative to the URL's prefix.
    """
    from portacloud.storage.bucket import Bucket

    parts, query = parse_url(url)
    clash = sorted(set(query) & set(options))
    if clash:
        raise InvalidArgumentError(
            f"option(s) {', '.join(clash)} given both in the URL and as arguments"
        )
    provider = load_provider(parts.scheme)
    opener = getattr(provider, "open_bucket", None)
    if opener is None:
        raise UnsupportedError(f"'{parts.scheme}://' does not provide storage")
    driver, prefix = _open(opener, parts, {**query, **options}, operation="open_bucket", url=url)
    return Bucket(driver, url=url, prefix=prefix, retry=retry, options=options)


def open_object(url: str, **options: Any) -> tuple[Bucket, str]:
    """Open the bucket that holds the object a URL names, and return it with the key.

    ``s3://bucket/path/to/key`` gives the bucket ``s3://bucket`` and the key ``path/to/key``.
    Providers whose URLs are not ``scheme://bucket/key`` shaped (``file://``) split them
    themselves with ``split_object_url``.
    """
    parts, query = parse_url(url)
    provider = load_provider(parts.scheme)
    splitter = getattr(provider, "split_object_url", None)
    if splitter is not None:
        bucket_url, key = splitter(parts)
    else:
        # Only the one '/' after the bucket is a separator: 's3://b//k' names the key '/k'.
        bucket_url, key = f"{parts.scheme}://{parts.netloc}", parts.path[1:]
    if not key:
        raise InvalidArgumentError(f"{url!r} names a bucket, not an object")
    if query:
        from urllib.parse import urlencode

        bucket_url += "?" + urlencode(query)
    return open_bucket(bucket_url, **options), key


def open_jobs(url: str, *, outputs: str | None = None, **options: Any) -> JobQueue:
    """Open the job queue a URL names.

    Args:
        url: ``local://``, ``local://?gpus=2``, ``ray://127.0.0.1:8265``, ``slurm://debug``...
        outputs: The storage URL under which each job gets its ``PORTACLOUD_OUTPUT_URI``
            (default: ``file://$PORTACLOUD_HOME/job-outputs``).
        **options: Provider options; the same names as the URL's query parameters.
    """
    from portacloud.jobs.queue import JobQueue
    from portacloud.profiles import portacloud_home

    parts, query = parse_url(url)
    clash = sorted(set(query) & set(options))
    if clash:
        raise InvalidArgumentError(
            f"option(s) {', '.join(clash)} given both in the URL and as arguments"
        )
    if outputs is None:
        outputs = (portacloud_home() / "job-outputs").as_uri()
    else:
        parse_url(outputs)  # refuse a malformed URL or one carrying credentials, up front
    provider = load_provider(parts.scheme)
    opener = getattr(provider, "open_jobs", None)
    if opener is None:
        raise UnsupportedError(f"'{parts.scheme}://' does not run jobs")
    driver = _open(opener, parts, {**query, **options}, operation="open_jobs", url=url)
    return JobQueue(driver, url=url, outputs=outputs, options=options)


def open_compute(url: str, **options: Any) -> Compute:
    """Open compute instances on the provider and region a URL names.

    Args:
        url: ``local://``, ``aws://us-east-1?endpoint_url=...``, ``libcloud+gce://zone``...
        **options: Provider options; the same names as the URL's query parameters.
    """
    from portacloud.compute.compute import Compute

    parts, query = parse_url(url)
    clash = sorted(set(query) & set(options))
    if clash:
        raise InvalidArgumentError(
            f"option(s) {', '.join(clash)} given both in the URL and as arguments"
        )
    provider = load_provider(parts.scheme)
    opener = getattr(provider, "open_compute", None)
    if opener is None:
        raise UnsupportedError(f"'{parts.scheme}://' does not manage instances")
    driver = _open(opener, parts, {**query, **options}, operation="open_compute", url=url)
    return Compute(driver, url=url, options=options)
