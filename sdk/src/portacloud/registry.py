"""URL schemes to providers, through the ``portacloud.providers`` entry-point group.

Providers are found by entry point and imported only when a URL of theirs is opened, so
``import portacloud`` never imports a vendor SDK. A :class:`Registry` holds the providers one
program uses: the installed ones by default, or exactly those a test or an application gives it.
A scheme ``family+variant`` with no provider of its own is served by the provider of ``family``
(``libcloud+s3://`` by ``libcloud``), as SQLAlchemy resolves ``dialect+driver``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from portacloud.errors import InternalError, InvalidArgumentError, UnsupportedError, guarded_call
from portacloud.providerkit.contracts import (
    ComputeProvider,
    JobsProvider,
    ObjectURLSplitter,
    StorageProvider,
)
from portacloud.providerkit.options import merge_options
from portacloud.urls import parse_url

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint
    from urllib.parse import SplitResult

    from portacloud.compute.compute import Compute
    from portacloud.compute.driver import ComputeDriver
    from portacloud.jobs.driver import JobDriver
    from portacloud.jobs.queue import JobQueue
    from portacloud.retry import RetryPolicy
    from portacloud.storage.bucket import Bucket

__all__ = [
    "ENTRY_POINT_GROUP",
    "KNOWN_PACKAGES",
    "Registry",
    "StorageProvider",
    "available_schemes",
    "default_registry",
    "load_provider",
    "open_bucket",
    "open_compute",
    "open_jobs",
    "open_object",
    "parse_url",
]

ENTRY_POINT_GROUP = "portacloud.providers"

#: Schemes of the provider packages this project publishes, and the extra that installs each:
#: what an error can suggest when one is not installed.
KNOWN_PACKAGES: Mapping[str, str] = {
    "s3": "aws",
    "aws": "aws",
    "gs": "gcp",
    "az": "azure",
    "libcloud": "libcloud",
    "ray": "ray",
    "slurm": "slurm",
}


def _family(scheme: str) -> str:
    return scheme.split("+", 1)[0]


class Registry:
    """The providers one program can open, by URL scheme.

    Args:
        providers: Scheme to provider object. ``None``: the installed
            ``portacloud.providers`` entry points, each imported on first use.
    """

    def __init__(self, providers: Mapping[str, object] | None = None) -> None:
        self._given = dict(providers) if providers is not None else None
        self._loaded: dict[str, object] = {}

    def __repr__(self) -> str:
        return f"Registry(schemes={self.schemes()!r})"

    def _points(self) -> Mapping[str, object]:
        return self._given if self._given is not None else _installed_entry_points()

    def schemes(self) -> list[str]:
        """The URL schemes this registry can open."""
        return sorted(self._points())

    def load(self, scheme: str) -> object:
        """Import and return the provider object for ``scheme``.

        Raises:
            UnsupportedError: naming the package to install for a known scheme, or the
                schemes this registry has for an unknown one.
            InternalError: the provider is installed but fails to import.
        """
        points = self._points()
        name = scheme if scheme in points else _family(scheme)
        if name not in points:
            raise self._not_installed(scheme)
        if name not in self._loaded:
            point = points[name]
            # Installed providers are entry points, loaded now; given ones are objects already.
            self._loaded[name] = point if self._given is not None else _load_point(scheme, point)
        return self._loaded[name]

    def _not_installed(self, scheme: str) -> UnsupportedError:
        extra = KNOWN_PACKAGES.get(_family(scheme))
        if extra is not None:
            return UnsupportedError(
                f"'{scheme}://' needs the portacloud-{extra} provider: "
                f'pip install "portacloud[{extra}]"'
            )
        return UnsupportedError(
            f"unknown URL scheme {scheme!r}; installed schemes: {', '.join(self.schemes())}"
        )

    def _typed(self, scheme: str, protocol: Any, what: str) -> Any:
        # runtime_checkable Protocols check the opener is there; mypy checks its signature in
        # the provider's own package.
        provider = self.load(scheme)
        if not isinstance(provider, protocol):
            raise UnsupportedError(f"'{scheme}://' ({_origin(provider)}) does not {what}")
        return provider

    def storage(self, scheme: str) -> StorageProvider:
        """The provider of ``scheme``, checked to open buckets."""
        provider: StorageProvider = self._typed(scheme, StorageProvider, "provide storage")
        return provider

    def jobs(self, scheme: str) -> JobsProvider:
        """The provider of ``scheme``, checked to run jobs."""
        provider: JobsProvider = self._typed(scheme, JobsProvider, "run jobs")
        return provider

    def compute(self, scheme: str) -> ComputeProvider:
        """The provider of ``scheme``, checked to manage instances."""
        provider: ComputeProvider = self._typed(scheme, ComputeProvider, "manage instances")
        return provider

    def open_bucket(self, url: str, *, retry: RetryPolicy | None = None, **options: Any) -> Bucket:
        """Open the bucket a URL names (see :func:`portacloud.open_bucket`)."""
        from portacloud.retry import RetryPolicy
        from portacloud.storage.bucket import Bucket

        parts, query = parse_url(url)
        merged = merge_options(query, options)
        provider = self.storage(parts.scheme)
        policy = retry or RetryPolicy()
        driver, prefix = _open(provider.open_bucket, parts, merged, policy, "open_bucket", url)
        return Bucket(driver, url=url, prefix=prefix, retry=policy, options=options)

    def open_object(self, url: str, **options: Any) -> tuple[Bucket, str]:
        """Open the bucket holding the object a URL names (see :func:`open_object`)."""
        parts, query = parse_url(url)
        provider = self.storage(parts.scheme)
        if isinstance(provider, ObjectURLSplitter):
            bucket_url, key = provider.split_object_url(parts)
        else:
            # Only the one '/' after the bucket is a separator: 's3://b//k' names the key '/k'.
            bucket_url, key = f"{parts.scheme}://{parts.netloc}", parts.path[1:]
        if not key:
            raise InvalidArgumentError(f"{url!r} names a bucket, not an object")
        if query:
            from urllib.parse import urlencode

            bucket_url += "?" + urlencode(query)
        return self.open_bucket(bucket_url, **options), key

    def open_jobs(
        self,
        url: str,
        *,
        outputs: str | None = None,
        retry: RetryPolicy | None = None,
        **options: Any,
    ) -> JobQueue:
        """Open the job queue a URL names (see :func:`portacloud.open_jobs`)."""
        from portacloud.home import portacloud_home
        from portacloud.jobs.queue import JobQueue
        from portacloud.retry import RetryPolicy

        parts, query = parse_url(url)
        merged = merge_options(query, options)
        if outputs is None:
            outputs = (portacloud_home() / "job-outputs").as_uri()
        else:
            parse_url(outputs)  # refuse a malformed URL or one carrying credentials, up front
        provider = self.jobs(parts.scheme)
        policy = retry or RetryPolicy()
        driver: JobDriver = _open(provider.open_jobs, parts, merged, policy, "open_jobs", url)
        return JobQueue(driver, url=url, outputs=outputs, options=options)

    def open_compute(
        self, url: str, *, retry: RetryPolicy | None = None, **options: Any
    ) -> Compute:
        """Open compute instances a URL names (see :func:`portacloud.open_compute`)."""
        from portacloud.compute.compute import Compute
        from portacloud.retry import RetryPolicy

        parts, query = parse_url(url)
        merged = merge_options(query, options)
        provider = self.compute(parts.scheme)
        policy = retry or RetryPolicy()
        opener = provider.open_compute
        driver: ComputeDriver = _open(opener, parts, merged, policy, "open_compute", url)
        return Compute(driver, url=url, options=options)


@functools.cache
def _installed_entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _load_point(scheme: str, point: Any) -> object:
    try:
        return point.load()
    except Exception as exc:  # a broken install must still read as one portacloud error
        raise InternalError(
            f"the provider for '{scheme}://' ({_package(point)}) is installed but failed to "
            f"import: {type(exc).__name__}: {exc}"
        ) from exc


def _package(point: Any) -> str:
    dist = getattr(point, "dist", None)
    name = getattr(dist, "name", None)
    return f"package {name}, {point.value}" if name else point.value


def _origin(provider: object) -> str:
    return f"{type(provider).__module__}.{type(provider).__qualname__}"


@functools.cache
def _takes_retry(opener: Callable[..., Any]) -> bool:
    try:
        return "retry" in inspect.signature(opener).parameters
    except (TypeError, ValueError):
        return False


def _open(  # noqa: PLR0917 - a private helper with one caller shape
    opener: Callable[..., Any],
    parts: SplitResult,
    options: dict[str, Any],
    retry: RetryPolicy,
    operation: str,
    url: str,
) -> Any:
    """Call a provider's opener so that only portacloud errors, with context, leave it.

    Vendor SDKs log credentials and signatures at DEBUG; redaction is switched on before any
    provider can create a client, whichever provider it is. The retry policy reaches openers
    that declare a ``retry`` parameter (every provider of this project does).
    """
    from portacloud.logging_redaction import install_redaction

    install_redaction()
    func = getattr(opener, "__func__", opener)
    extra = {"retry": retry} if _takes_retry(func) else {}
    return guarded_call(
        lambda: opener(parts, options, **extra),
        map_error=lambda exc: None,
        provider=parts.scheme,
        operation=operation,
        resource=url,
    )


@functools.cache
def default_registry() -> Registry:
    """The registry of the installed providers, which the module-level openers use."""
    return Registry()


def available_schemes() -> list[str]:
    """The URL schemes of the providers installed now."""
    return default_registry().schemes()


def load_provider(scheme: str) -> object:
    """Import and return the installed provider object registered for ``scheme``."""
    return default_registry().load(scheme)


def open_bucket(url: str, *, retry: RetryPolicy | None = None, **options: Any) -> Bucket:
    """Open the bucket a URL names.

    Args:
        url: ``memory://name``, ``file:///abs/path``, ``s3://bucket/prefix``... Query
            parameters are provider options (``s3://b?region=eu-west-1``).
        retry: The retry policy for this bucket's calls, the provider's own included.
        **options: Provider options; the same names as the query parameters.

    Returns:
        A :class:`~portacloud.Bucket` whose keys are relative to the URL's prefix.
    """
    return default_registry().open_bucket(url, retry=retry, **options)


def open_object(url: str, **options: Any) -> tuple[Bucket, str]:
    """Open the bucket that holds the object a URL names, and return it with the key.

    ``s3://bucket/path/to/key`` gives the bucket ``s3://bucket`` and the key ``path/to/key``.
    Providers whose URLs are not ``scheme://bucket/key`` shaped (``file://``) split them
    themselves with ``split_object_url``.
    """
    return default_registry().open_object(url, **options)


def open_jobs(
    url: str, *, outputs: str | None = None, retry: RetryPolicy | None = None, **options: Any
) -> JobQueue:
    """Open the job queue a URL names.

    Args:
        url: ``local://``, ``local://?gpus=2``, ``ray://127.0.0.1:8265``, ``slurm://debug``...
        outputs: The storage URL under which each job gets its ``PORTACLOUD_OUTPUT_URI``
            (default: ``file://$PORTACLOUD_HOME/job-outputs``).
        retry: The retry policy of the provider's own calls (status reads, listings).
        **options: Provider options; the same names as the URL's query parameters.
    """
    return default_registry().open_jobs(url, outputs=outputs, retry=retry, **options)


def open_compute(url: str, *, retry: RetryPolicy | None = None, **options: Any) -> Compute:
    """Open compute instances on the provider and region a URL names.

    Args:
        url: ``local://``, ``aws://us-east-1?endpoint_url=...``, ``libcloud+gce://zone``...
        retry: The retry policy of the provider's own calls (describes, listings).
        **options: Provider options; the same names as the URL's query parameters.
    """
    return default_registry().open_compute(url, retry=retry, **options)
