"""``open_bucket``, ``open_jobs``, ``open_compute``: URLs to the portable handles.

The :class:`~portacloud.registry.Registry` finds the provider and opens its driver; this module
wraps the driver in :class:`~portacloud.Bucket`, :class:`~portacloud.JobQueue` or
:class:`~portacloud.Compute`. Each opener takes ``registry=`` for a program (or a test) that
uses a registry of its own instead of the installed providers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from portacloud.registry import Registry, default_registry
from portacloud.retry import RetryPolicy
from portacloud.urls import parse_url

if TYPE_CHECKING:
    from portacloud.compute.compute import Compute
    from portacloud.jobs.queue import JobQueue
    from portacloud.profiles import Profile
    from portacloud.residency import RegionPolicy
    from portacloud.services.services import Services
    from portacloud.storage.async_bucket import AsyncBucket
    from portacloud.storage.bucket import Bucket

__all__ = [
    "open_async_bucket",
    "open_bucket",
    "open_compute",
    "open_jobs",
    "open_object",
    "open_services",
]


def _loaded(profile: str | Profile | None) -> Profile | None:
    if profile is None or not isinstance(profile, str):
        return profile
    from portacloud.profiles import load_profile

    return load_profile(profile)


def _under(
    profile: str | Profile | None, retry: RetryPolicy | None
) -> tuple[RetryPolicy, RegionPolicy | None]:
    """The retry policy and region policy of a handle opened under ``profile``."""
    found = _loaded(profile)
    if found is None:
        return retry or RetryPolicy(), None
    return retry or found.retry or RetryPolicy(), found.region_policy


def _with_engine(
    url: str, options: dict[str, Any], engine: str | None, registry: Registry
) -> dict[str, Any]:
    """``options`` plus a profile's ``storage_engine`` where the provider has engines and
    neither the URL nor the caller chose one."""
    if engine is None or "engine" in options:
        return options
    parts, query = parse_url(url)
    if "engine" in query or engine not in registry.storage_engines(parts.scheme):
        return options
    return {**options, "engine": engine}


def open_bucket(
    url: str,
    *,
    retry: RetryPolicy | None = None,
    registry: Registry | None = None,
    profile: str | Profile | None = None,
    **options: Any,
) -> Bucket:
    """Open the bucket a URL names.

    Args:
        url: ``memory://name``, ``file:///abs/path``, ``s3://bucket/prefix``... Query
            parameters are provider options (``s3://b?region=eu-west-1``).
        retry: The retry policy for this bucket's calls, the provider's own included
            (default: the profile's, else the portable default).
        registry: The providers to open it with (default: the installed ones).
        profile: A profile of ``portacloud.toml`` (its name, or a loaded
            :class:`~portacloud.profiles.Profile`) whose region policy and retry policy bind
            the bucket; ``None`` for neither. A provider option named ``profile`` (an AWS
            named profile) goes in the URL: ``s3://b?profile=sso``.
        **options: Provider options; the same names as the query parameters.

    Returns:
        A :class:`~portacloud.Bucket` whose keys are relative to the URL's prefix.
    """
    from portacloud.storage.bucket import Bucket

    loaded = _loaded(profile)
    policy, residency = _under(loaded, retry)
    found = registry or default_registry()
    engine = loaded.storage_engine if loaded is not None else None
    options = _with_engine(url, options, engine, found)
    driver, prefix = found.bucket_driver(url, retry=policy, options=options)
    return Bucket(
        driver, url=url, prefix=prefix, retry=policy, options=options, residency=residency
    )


def open_async_bucket(
    url: str,
    *,
    max_workers: int = 16,
    retry: RetryPolicy | None = None,
    registry: Registry | None = None,
    profile: str | Profile | None = None,
    **options: Any,
) -> AsyncBucket:
    """Open the bucket a URL names for asyncio programs.

    Args:
        url: As for :func:`open_bucket`.
        max_workers: Threads at most for the blocking calls (see
            :class:`~portacloud.AsyncBucket`).
        retry: As for :func:`open_bucket`.
        registry: As for :func:`open_bucket`.
        profile: As for :func:`open_bucket`.
        **options: Provider options, as for :func:`open_bucket`.

    Returns:
        An :class:`~portacloud.AsyncBucket`. Opening is not a coroutine: like
        :func:`open_bucket` it may make one blocking request (``s3://`` identifies the
        server), so open buckets before the loop is busy, or with ``asyncio.to_thread``.
    """
    from portacloud.storage.async_bucket import AsyncBucket

    bucket = open_bucket(url, retry=retry, registry=registry, profile=profile, **options)
    return AsyncBucket(bucket, max_workers=max_workers)


def open_object(
    url: str,
    *,
    registry: Registry | None = None,
    profile: str | Profile | None = None,
    **options: Any,
) -> tuple[Bucket, str]:
    """Open the bucket that holds the object a URL names, and return it with the key.

    ``s3://bucket/path/to/key`` gives the bucket ``s3://bucket`` and the key ``path/to/key``.
    Providers whose URLs are not ``scheme://bucket/key`` shaped (``file://``) split them
    themselves with ``split_object_url``.
    """
    bucket_url, key = (registry or default_registry()).split_object_url(url)
    return open_bucket(bucket_url, registry=registry, profile=profile, **options), key


def open_jobs(
    url: str,
    *,
    outputs: str | None = None,
    retry: RetryPolicy | None = None,
    registry: Registry | None = None,
    profile: str | Profile | None = None,
    **options: Any,
) -> JobQueue:
    """Open the job queue a URL names.

    Args:
        url: ``local://``, ``local://?gpus=2``, ``ray://127.0.0.1:8265``, ``slurm://debug``...
        outputs: The storage URL under which each job gets its ``PORTACLOUD_OUTPUT_URI``
            (default: ``file://$PORTACLOUD_HOME/job-outputs``).
        retry: The retry policy of the provider's own calls (status reads, listings).
        registry: The providers to open it with (default: the installed ones).
        profile: A profile whose region policy (for the queue and its outputs) and retry
            policy bind the queue, as in :func:`open_bucket`.
        **options: Provider options; the same names as the URL's query parameters.
    """
    from portacloud.home import portacloud_home
    from portacloud.jobs.queue import JobQueue

    parse_url(url)
    if outputs is None:
        outputs = (portacloud_home() / "job-outputs").as_uri()
    else:
        parse_url(outputs)  # refuse a malformed URL or one carrying credentials, up front
    policy, residency = _under(profile, retry)
    driver = (registry or default_registry()).jobs_driver(url, retry=policy, options=options)
    return JobQueue(
        driver, url=url, outputs=outputs, options=options, retry=policy, residency=residency
    )


def open_services(
    url: str,
    *,
    retry: RetryPolicy | None = None,
    registry: Registry | None = None,
    profile: str | Profile | None = None,
    **options: Any,
) -> Services:
    """Open the service backend a URL names.

    Args:
        url: ``local://``, ``local://?gpus=2``, ``ray://127.0.0.1:8265``, ``slurm://debug``...
        retry: The retry policy of the backend's own calls (status reads, listings).
        registry: The providers to open it with (default: the installed ones).
        profile: A profile whose region and retry policies bind the handle, as in
            :func:`open_bucket`.
        **options: Provider options; the same names as the URL's query parameters.
    """
    from portacloud.services.services import Services

    parse_url(url)
    policy, residency = _under(profile, retry)
    driver = (registry or default_registry()).services_driver(url, retry=policy, options=options)
    return Services(driver, url=url, options=options, retry=policy, residency=residency)


def open_compute(
    url: str,
    *,
    retry: RetryPolicy | None = None,
    registry: Registry | None = None,
    profile: str | Profile | None = None,
    **options: Any,
) -> Compute:
    """Open compute instances on the provider and region a URL names.

    Args:
        url: ``local://``, ``aws://us-east-1?endpoint_url=...``, ``libcloud+gce://zone``...
        retry: The retry policy of the provider's own calls (describes, listings).
        registry: The providers to open it with (default: the installed ones).
        profile: A profile whose region policy and retry policy bind the handle, as in
            :func:`open_bucket`: ``create`` and ``offers`` stay inside its regions.
        **options: Provider options; the same names as the URL's query parameters.
    """
    from portacloud.compute.compute import Compute

    policy, residency = _under(profile, retry)
    driver = (registry or default_registry()).compute_driver(url, retry=policy, options=options)
    return Compute(driver, url=url, options=options, retry=policy, residency=residency)
