"""portacloud: one API for object storage, compute and GPU jobs across clouds.

.. code-block:: python

    import portacloud

    bucket = portacloud.open_bucket("s3://ml-data/run-42")
    bucket.put("metrics.json", b"{}", content_type="application/json")

Public names load on first use (PEP 562), so ``import portacloud`` stays cheap: pydantic and
every provider are imported only when a name that needs them is touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from portacloud.errors import (
    AlreadyExistsError,
    CancelledError,
    ChecksumMismatchError,
    DeadlineExceededError,
    ErrorCode,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PortaCloudError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    UnknownError,
    UnsupportedError,
)

if TYPE_CHECKING:
    from portacloud.compute.compute import Compute
    from portacloud.compute.models import (
        ComputeCapabilities,
        Instance,
        InstanceSpec,
        InstanceState,
        Offer,
    )
    from portacloud.jobs.models import (
        JobCapabilities,
        JobReason,
        JobSpec,
        JobState,
        JobStatus,
        TaskStatus,
    )
    from portacloud.jobs.queue import Job, JobQueue
    from portacloud.migrate import (
        MigrationPlan,
        MigrationResult,
        VerifyResult,
        migrate,
        verify,
    )
    from portacloud.openers import (
        open_async_bucket,
        open_bucket,
        open_compute,
        open_jobs,
        open_services,
    )
    from portacloud.profiles import Connection, Profile, connect, load_profile, portacloud_home
    from portacloud.registry import available_schemes
    from portacloud.resources import Resources
    from portacloud.retry import RetryPolicy
    from portacloud.services.models import (
        ReplicaStatus,
        ServiceCapabilities,
        ServiceSpec,
        ServiceState,
        ServiceStatus,
    )
    from portacloud.services.services import Services
    from portacloud.storage.async_bucket import AsyncBucket
    from portacloud.storage.bucket import Bucket
    from portacloud.storage.capabilities import StorageCapabilities
    from portacloud.storage.erase import EraseResult
    from portacloud.storage.models import ObjectInfo, PrefixInfo

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "MigrationPlan": "portacloud.migrate",
    "MigrationResult": "portacloud.migrate",
    "VerifyResult": "portacloud.migrate",
    "migrate": "portacloud.migrate",
    "verify": "portacloud.migrate",
    "Compute": "portacloud.compute.compute",
    "ComputeCapabilities": "portacloud.compute.models",
    "Instance": "portacloud.compute.models",
    "InstanceSpec": "portacloud.compute.models",
    "InstanceState": "portacloud.compute.models",
    "Offer": "portacloud.compute.models",
    "open_compute": "portacloud.openers",
    "Job": "portacloud.jobs.queue",
    "JobCapabilities": "portacloud.jobs.models",
    "JobQueue": "portacloud.jobs.queue",
    "JobReason": "portacloud.jobs.models",
    "JobSpec": "portacloud.jobs.models",
    "JobState": "portacloud.jobs.models",
    "JobStatus": "portacloud.jobs.models",
    "Resources": "portacloud.resources",
    "TaskStatus": "portacloud.jobs.models",
    "open_jobs": "portacloud.openers",
    "ReplicaStatus": "portacloud.services.models",
    "ServiceCapabilities": "portacloud.services.models",
    "ServiceSpec": "portacloud.services.models",
    "ServiceState": "portacloud.services.models",
    "ServiceStatus": "portacloud.services.models",
    "Services": "portacloud.services.services",
    "open_services": "portacloud.openers",
    "AsyncBucket": "portacloud.storage.async_bucket",
    "Bucket": "portacloud.storage.bucket",
    "Connection": "portacloud.profiles",
    "EraseResult": "portacloud.storage.erase",
    "ObjectInfo": "portacloud.storage.models",
    "PrefixInfo": "portacloud.storage.models",
    "Profile": "portacloud.profiles",
    "RetryPolicy": "portacloud.retry",
    "StorageCapabilities": "portacloud.storage.capabilities",
    "available_schemes": "portacloud.registry",
    "connect": "portacloud.profiles",
    "load_profile": "portacloud.profiles",
    "open_async_bucket": "portacloud.openers",
    "open_bucket": "portacloud.openers",
    "portacloud_home": "portacloud.profiles",
}

__all__ = [
    "AlreadyExistsError",
    "AsyncBucket",
    "Bucket",
    "CancelledError",
    "ChecksumMismatchError",
    "Compute",
    "ComputeCapabilities",
    "Connection",
    "DeadlineExceededError",
    "EraseResult",
    "ErrorCode",
    "FailedPreconditionError",
    "Instance",
    "InstanceSpec",
    "InstanceState",
    "InternalError",
    "InvalidArgumentError",
    "Job",
    "JobCapabilities",
    "JobQueue",
    "JobReason",
    "JobSpec",
    "JobState",
    "JobStatus",
    "MigrationPlan",
    "MigrationResult",
    "NotFoundError",
    "ObjectInfo",
    "Offer",
    "PermissionDeniedError",
    "PortaCloudError",
    "PrefixInfo",
    "Profile",
    "ReplicaStatus",
    "ResourceExhaustedError",
    "Resources",
    "RetryPolicy",
    "ServiceCapabilities",
    "ServiceSpec",
    "ServiceState",
    "ServiceStatus",
    "Services",
    "StorageCapabilities",
    "TaskStatus",
    "UnauthenticatedError",
    "UnavailableError",
    "UnknownError",
    "UnsupportedError",
    "VerifyResult",
    "__version__",
    "available_schemes",
    "connect",
    "load_profile",
    "migrate",
    "open_async_bucket",
    "open_bucket",
    "open_compute",
    "open_jobs",
    "open_services",
    "portacloud_home",
    "verify",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'portacloud' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
