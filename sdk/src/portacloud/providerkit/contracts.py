"""What a ``portacloud.providers`` entry point must offer, as typed Protocols.

An entry point loads to an object with one or more openers. Each opener takes the URL (split,
its query removed) and the merged options, and returns a driver: :mod:`portacloud.registry`
checks at load time that the object has the opener asked for and that it is callable, and names
the package when it does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import SplitResult

if TYPE_CHECKING:
    from portacloud.compute.driver import ComputeDriver
    from portacloud.jobs.driver import JobDriver
    from portacloud.services.driver import ServiceDriver
    from portacloud.storage.driver import BucketDriver

__all__ = [
    "ComputeProvider",
    "JobsProvider",
    "ObjectURLSplitter",
    "ServicesProvider",
    "StorageProvider",
]


@runtime_checkable
class StorageProvider(Protocol):
    """A provider of buckets (``s3://``, ``gs://``...)."""

    def open_bucket(self, url: SplitResult, options: Mapping[str, Any]) -> tuple[BucketDriver, str]:
        """Return a driver for the URL's bucket and the key prefix the URL names."""


@runtime_checkable
class ObjectURLSplitter(Protocol):
    """A storage provider whose URLs are paths (``file:///abs/path``), not ``scheme://bucket/key``.

    Its URLs take no host, their paths are percent-decoded, and it splits an object's URL into
    its bucket's URL and the key itself (the CLI and ``open_object`` rely on all three).
    """

    def split_object_url(self, url: SplitResult) -> tuple[str, str]:
        """Return the bucket's URL and the key an object URL names."""


@runtime_checkable
class JobsProvider(Protocol):
    """A provider of job queues (``local://``, ``ray://``, ``slurm://``)."""

    def open_jobs(self, url: SplitResult, options: Mapping[str, Any]) -> JobDriver:
        """Return a driver for the queue the URL names."""


@runtime_checkable
class ServicesProvider(Protocol):
    """A provider of long-running services (``local://``, ``ray://``, ``slurm://``)."""

    def open_services(self, url: SplitResult, options: Mapping[str, Any]) -> ServiceDriver:
        """Return a driver for the service backend the URL names."""


@runtime_checkable
class ComputeProvider(Protocol):
    """A provider of compute instances (``aws://``, ``libcloud+ec2://``...)."""

    def open_compute(self, url: SplitResult, options: Mapping[str, Any]) -> ComputeDriver:
        """Return a driver for the provider and region the URL names."""
