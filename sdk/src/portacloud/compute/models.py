"""Portable instance specs, states and offers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from portacloud.capability_table import CapabilityTable
from portacloud.resources import Resources

__all__ = [
    "MANAGED_TAG",
    "ComputeCapabilities",
    "Instance",
    "InstanceSpec",
    "InstanceState",
    "Offer",
]

#: Tag every instance portacloud creates carries, so leaked ones can be found.
MANAGED_TAG = "portacloud:managed"


class InstanceState(StrEnum):
    """Normalised instance states; each provider maps its own in one table."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"
    UNKNOWN = "UNKNOWN"


class InstanceSpec(BaseModel):
    """What to create.

    Attributes:
        name: A name (1-63 letters, digits and ``-``), stored as the ``Name`` tag where the
            provider has no name field.
        resources: What the instance needs; the cheapest matching catalog type is chosen.
        instance_type: A provider instance type, instead of ``resources``.
        image: A portable image name (``ubuntu-22.04``) or a provider image id.
        tags: Tags (labels) to set; ``portacloud:*`` keys are reserved.
        spot: Ask for preemptible capacity.
        ssh_public_key: An OpenSSH public key to install, where the provider can.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
    resources: Resources | None = None
    instance_type: str | None = None
    image: str = "ubuntu-22.04"
    tags: Mapping[str, str] = Field(default_factory=dict)
    spot: bool = False
    ssh_public_key: str | None = None

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        for key, val in value.items():
            if not key or len(key) > 128 or len(val) > 256:
                raise ValueError(f"tag {key!r}: keys 1-128 and values up to 256 characters")
            if key.lower().startswith("portacloud:"):
                raise ValueError(f"tag {key!r}: the 'portacloud:' prefix is reserved")
        return dict(value)


class Instance(BaseModel):
    """One instance as the provider reports it.

    Attributes:
        id: The provider's id.
        name: Its name.
        state: The normalised state.
        billing: Whether the provider charges for it in this state (an Azure "stopped" VM
            bills, a deallocated one does not).
        instance_type: The provider's type.
        region: Region or zone.
        image: The image id it was created from.
        tags: All tags, ``portacloud:*`` included.
        created_at: Launch time (UTC).
        public_ip: Public address, if any.
        private_ip: Private address, if any.
        spot: Whether it is preemptible capacity.
        provider: The provider's short name.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str | None = None
    state: InstanceState
    billing: bool
    instance_type: str | None = None
    region: str | None = None
    image: str | None = None
    tags: Mapping[str, str] = Field(default_factory=dict)
    created_at: datetime | None = None
    public_ip: str | None = None
    private_ip: str | None = None
    spot: bool = False
    provider: str

    @property
    def managed(self) -> bool:
        """Whether portacloud created it."""
        return self.tags.get(MANAGED_TAG) == "true"


class Offer(BaseModel):
    """One instance type of the catalog that can satisfy a request.

    Attributes:
        provider: ``aws``, ``gcp``, ``azure`` or ``local``.
        instance_type: The provider's type name.
        region: The region the price is for.
        vcpus: vCPUs.
        memory_gb: Memory in GiB.
        gpu: Canonical GPU name, or ``None``.
        gpu_count: GPUs per instance.
        gpu_memory_gb: Memory per GPU in GiB.
        price_per_hour: On-demand USD per hour.
        spot_price_per_hour: Spot USD per hour, when known.
        as_of: When the price was read.
        source: Where it was read.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    instance_type: str
    region: str
    vcpus: float
    memory_gb: float
    gpu: str | None = None
    gpu_count: int = 0
    gpu_memory_gb: float | None = None
    price_per_hour: float
    spot_price_per_hour: float | None = None
    as_of: date
    source: str


class ComputeCapabilities(CapabilityTable):
    """What a compute backend can do.

    Attributes:
        stop: Instances can be stopped and started again.
        spot: Preemptible capacity can be requested.
        gpus: GPU instance types exist.
        tags: Tags are stored and filterable.
        ssh_keys: An SSH public key can be installed.
        catalog: The catalog provider name whose rows apply (``aws``, ``gcp``, ``azure``,
            ``local``), or ``None`` when instance types must be named.
        location: The provider reports the region it creates instances in (EC2's
            ``DescribeAvailabilityZones``), so region policies can check it.
    """

    stop: bool = True
    spot: bool = True
    gpus: bool = True
    tags: bool = True
    ssh_keys: bool = True
    catalog: str | None = None
    location: bool = False
