"""The ``local://`` scheme: jobs, services and instances on this machine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult

from portacloud.errors import InvalidArgumentError
from portacloud.providerkit.options import reject_unknown_options
from portacloud.providers.local_compute import LocalComputeDriver
from portacloud.providers.local_jobs import LocalJobDriver, open_local_jobs
from portacloud.providers.local_services import LocalServiceDriver, open_local_services

__all__ = ["LocalProvider", "provider"]


class LocalProvider:
    """Opens ``local://[name]`` job queues and compute handles."""

    def open_jobs(self, url: SplitResult, options: Mapping[str, Any]) -> LocalJobDriver:
        """A local job queue (``local://NAME?gpus=N&gpu_type=T``)."""
        return open_local_jobs(url, options)

    def open_services(self, url: SplitResult, options: Mapping[str, Any]) -> LocalServiceDriver:
        """Local services (``local://NAME?gpus=N&gpu_type=T``)."""
        return open_local_services(url, options)

    def open_compute(self, url: SplitResult, options: Mapping[str, Any]) -> LocalComputeDriver:
        """Local sandbox instances (``local://NAME``)."""
        reject_unknown_options("local", options, allowed=())
        if url.path not in ("", "/"):
            raise InvalidArgumentError("local:// takes a name only: local://NAME")
        return LocalComputeDriver(url.netloc or "default")


provider = LocalProvider()
