"""The portable resource request shared by GPU jobs and compute instances."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from portacloud.compute.gpus import canonical_gpu

__all__ = ["Resources"]

_GPU_SPEC = re.compile(
    r"^(?:(?P<type>[A-Za-z][A-Za-z0-9_.-]*?)(?::(?P<count>\d+))?|(?P<only>\d+))$"
)


class Resources(BaseModel):
    """What a job or an instance needs.

    Attributes:
        cpus: vCPUs (fractions allowed for jobs), or ``None`` for the backend's default.
        memory_gb: Memory in GiB, or ``None``.
        gpus: A GPU count (``2``), or ``"TYPE:COUNT"`` (``"A100:8"``), or ``"TYPE"`` for one.
            ``TYPE`` is any name of the GPU taxonomy (:mod:`portacloud.compute.gpus`) and is
            stored in canonical form (``nvidia-tesla-t4:1`` becomes ``T4:1``).
        disk_gb: Local disk in GiB, or ``None``.
        spot: Whether preemptible capacity is acceptable.

    Examples:
        >>> Resources(gpus="A100:8").gpu_count
        8
        >>> Resources(gpus=2).gpu_type is None
        True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpus: float | None = Field(default=None, gt=0, le=1024)
    memory_gb: float | None = Field(default=None, gt=0, le=65536)
    gpus: int | str | None = None
    disk_gb: float | None = Field(default=None, gt=0)
    spot: bool = False

    @field_validator("gpus", mode="before")
    @classmethod
    def _check_gpus(cls, value: object) -> int | str | None:
        """Validate the count and resolve the model through the one GPU taxonomy.

        Raises:
            ValueError: a malformed value or a count out of range (pydantic reports it).
            InvalidArgumentError: an unknown GPU model, with the same "did you mean" message
                as ``portacloud offers``; it is raised as is so no caller can mistake it for
                a count error.
        """
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"gpus must be a count or 'TYPE:COUNT', not {value!r}")
        if isinstance(value, int):
            if not 0 <= value <= 64:
                raise ValueError("a GPU count must be between 0 and 64")
            return value
        match = _GPU_SPEC.match(value.strip())
        if not match:
            raise ValueError(f"gpus {value!r}: use a count (2) or 'TYPE:COUNT' ('A100:8')")
        if match.group("only"):
            return cls._check_gpus(int(match.group("only")))
        count = int(match.group("count") or 1)
        if not 1 <= count <= 64:
            raise ValueError("a GPU count must be between 1 and 64")
        return f"{canonical_gpu(match.group('type'))}:{count}"

    @property
    def gpu_count(self) -> int:
        """How many GPUs are asked for (0 when none)."""
        if self.gpus is None:
            return 0
        if isinstance(self.gpus, int):
            return self.gpus
        return int(self.gpus.rsplit(":", 1)[1])

    @property
    def gpu_type(self) -> str | None:
        """The canonical GPU model asked for, or ``None`` for any."""
        if isinstance(self.gpus, str):
            return self.gpus.rsplit(":", 1)[0]
        return None
