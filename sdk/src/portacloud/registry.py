"""URL schemes to providers, through the ``portacloud.providers`` entry-point group.

This module opens drivers; :mod:`portacloud.openers` wraps them in the portable types.

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
    ServicesProvider,
    StorageProvider,
)
from portacloud.providerkit.options import merge_options
from portacloud.urls import parse_url

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint
    from urllib.parse import SplitResult

    from portacloud.compute.driver import ComputeDriver
    from portacloud.jobs.driver import JobDriver
    from portacloud.retry import RetryPolicy
    from portacloud.services.driver import ServiceDriver
    from portacloud.storage.driver import BucketDriver

__all__ = [
    "ENTRY_POINT_GROUP",
    "KNOWN_PACKAGES",
    "Registry",
    "StorageProvider",
    "available_schemes",
    "default_registry",
    "load_provider",
    "parse_url",
]

ENTRY_POINT_GROUP = "portacloud.providers"

#: The provider packages this project publishes (by the extra that installs each) and their
#: schemes: what an error can suggest when one is not installed.
KNOWN_PACKAGES: Mapping[str, tuple[str, ...]] = {
    "aws": ("s3", "aws"),
    "gcp": ("gs",),
    "azure": ("az",),
    "libcloud": ("libcloud",),
    "ray": ("ray",),
    "slurm": ("slurm",),
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
        family = _family(scheme)
        extra = next((name for name, known in KNOWN_PACKAGES.items() if family in known), None)
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

    def storage_engines(self, scheme: str) -> tuple[str, ...]:
        """The data paths a storage provider offers through its ``engine`` option (none: ``()``)."""
        engines: tuple[str, ...] = getattr(self.storage(scheme), "engines", ())
        return engines

    def jobs(self, scheme: str) -> JobsProvider:
        """The provider of ``scheme``, checked to run jobs."""
        provider: JobsProvider = self._typed(scheme, JobsProvider, "run jobs")
        return provider

    def services(self, scheme: str) -> ServicesProvider:
        """The provider of ``scheme``, checked to run services."""
        provider: ServicesProvider = self._typed(scheme, ServicesProvider, "run services")
        return provider

    def compute(self, scheme: str) -> ComputeProvider:
        """The provider of ``scheme``, checked to manage instances."""
        provider: ComputeProvider = self._typed(scheme, ComputeProvider, "manage instances")
        return provider

    def bucket_driver(
        self, url: str, *, retry: RetryPolicy, options: Mapping[str, Any]
    ) -> tuple[BucketDriver, str]:
        """The driver of the bucket a URL names, and the key prefix the URL's path names.

        ``options`` are the caller's keywords; the URL's query options join them here.
        """
        parts, query = parse_url(url)
        merged = merge_options(query, options)
        provider = self.storage(parts.scheme)
        opened: tuple[BucketDriver, str] = _open(
            provider.open_bucket, parts, merged, retry, "open_bucket", url
        )
        return opened

    def split_object_url(self, url: str) -> tuple[str, str]:
        """The URL of the bucket holding the object a URL names, and the object's key."""
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
        return bucket_url, key

    def jobs_driver(self, url: str, *, retry: RetryPolicy, options: Mapping[str, Any]) -> JobDriver:
        """The driver of the job queue a URL names."""
        parts, query = parse_url(url)
        provider = self.jobs(parts.scheme)
        merged = merge_options(query, options)
        driver: JobDriver = _open(provider.open_jobs, parts, merged, retry, "open_jobs", url)
        return driver

    def services_driver(
        self, url: str, *, retry: RetryPolicy, options: Mapping[str, Any]
    ) -> ServiceDriver:
        """The driver of the service backend a URL names."""
        parts, query = parse_url(url)
        provider = self.services(parts.scheme)
        merged = merge_options(query, options)
        opener = provider.open_services
        driver: ServiceDriver = _open(opener, parts, merged, retry, "open_services", url)
        return driver

    def compute_driver(
        self, url: str, *, retry: RetryPolicy, options: Mapping[str, Any]
    ) -> ComputeDriver:
        """The driver of the provider and region a compute URL names."""
        parts, query = parse_url(url)
        provider = self.compute(parts.scheme)
        merged = merge_options(query, options)
        opener = provider.open_compute
        driver: ComputeDriver = _open(opener, parts, merged, retry, "open_compute", url)
        return driver


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
