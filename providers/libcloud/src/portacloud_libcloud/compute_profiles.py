"""What portacloud knows of each libcloud compute driver: capabilities, images and GPUs.

- GPUs: GCE attaches accelerators to N1 machine types (``ex_accelerator_type`` /
  ``ex_accelerator_count``, with ``ex_on_host_maintenance="TERMINATE"``); the A2/A3/A4/G2/G4
  types carry theirs, as every EC2 and Azure size does, so the size alone asks for them;
- images: portable names (``ubuntu-22.04``...) per cloud in :data:`IMAGES`, ids passed through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portacloud.compute.models import ComputeCapabilities
from portacloud.errors import InvalidArgumentError

__all__ = [
    "DEFAULT_PROFILE",
    "GCE_ACCELERATORS",
    "GCE_TAGS_KEY",
    "IMAGES",
    "PROFILES",
    "ComputeProfile",
    "Ec2Image",
    "gce_accelerator",
]

#: Canonical GPU names (the catalog's) -> GCE accelerator types.
GCE_ACCELERATORS: Mapping[str, str] = {
    "K80": "nvidia-tesla-k80",
    "P4": "nvidia-tesla-p4",
    "P100": "nvidia-tesla-p100",
    "T4": "nvidia-tesla-t4",
    "V100": "nvidia-tesla-v100",
    "L4": "nvidia-l4",
    "A100": "nvidia-tesla-a100",
    "A100-80GB": "nvidia-a100-80gb",
    "H100": "nvidia-h100-80gb",
    "H100-MEGA": "nvidia-h100-mega-80gb",
    "H200": "nvidia-h200-141gb",
    "B200": "nvidia-b200",
}
# GCE machine families whose GPUs come with the machine type.
_GCE_BUNDLED = re.compile(r"^(a2|a3|a4|g2|g4)-")
_GCE_ATTACHABLE = re.compile(r"^n1-")
GCE_TAGS_KEY = "portacloud-tags"

_CANONICAL = "099720109477"
_AMAZON = "137112412989"


@dataclass(frozen=True, slots=True)
class Ec2Image:
    owner: str
    name_pattern: str


#: Portable image names per driver: EC2 owner + name filter (newest wins), GCE image family
#: (project/family), Azure Marketplace URN (publisher:offer:sku:version).
IMAGES: Mapping[str, Mapping[str, object]] = {
    "ec2": {
        "ubuntu-20.04": Ec2Image(
            _CANONICAL, "ubuntu/images/hvm-ssd*/ubuntu-focal-20.04-amd64-server-*"
        ),
        "ubuntu-22.04": Ec2Image(
            _CANONICAL, "ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-amd64-server-*"
        ),
        "ubuntu-24.04": Ec2Image(
            _CANONICAL, "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
        ),
        "amazon-linux-2023": Ec2Image(_AMAZON, "al2023-ami-2023.*-kernel-*-x86_64"),
    },
    "gce": {
        "ubuntu-20.04": "ubuntu-os-cloud/ubuntu-2004-lts",
        "ubuntu-22.04": "ubuntu-os-cloud/ubuntu-2204-lts",
        "ubuntu-24.04": "ubuntu-os-cloud/ubuntu-2404-lts-amd64",
        "debian-12": "debian-cloud/debian-12",
    },
    "azure_arm": {
        "ubuntu-20.04": "Canonical:0001-com-ubuntu-server-focal:20_04-lts-gen2:latest",
        "ubuntu-22.04": "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest",
        "ubuntu-24.04": "Canonical:ubuntu-24_04-lts:server:latest",
        "debian-12": "Debian:debian-12:12-gen2:latest",
    },
}


@dataclass(frozen=True, slots=True)
class ComputeProfile:
    """What one libcloud compute driver offers through portacloud.

    Attributes:
        catalog: The instance-type catalog of the cloud (``aws``, ``gcp``, ``azure``).
        spot: Spot (preemptible) capacity can be asked for.
        profiled: portacloud knows how the driver stores tags, keys and GPUs.
        notes: What a caller should know.
    """

    catalog: str | None
    spot: bool
    profiled: bool = True
    notes: tuple[str, ...] = ()

    def capabilities(self, *, stop: bool) -> ComputeCapabilities:
        """The portable capabilities, ``stop`` as the driver class offers it."""
        # What portacloud profiled a driver for (where tags, keys and GPUs go) it can offer.
        offered = dict.fromkeys(("gpus", "tags", "ssh_keys"), self.profiled)
        return ComputeCapabilities(
            stop=stop, spot=self.spot, catalog=self.catalog, notes=self.notes, **offered
        )


_RECORDED = "tested on libcloud's recorded responses, not on a live cloud"
#: Per libcloud compute driver name (``libcloud+<name>://``).
PROFILES: Mapping[str, ComputeProfile] = {
    "ec2": ComputeProfile(
        "aws",
        True,
        notes=("billing is the instance charge only: EBS volumes still bill while STOPPED",),
    ),
    "gce": ComputeProfile(
        "gcp",
        True,
        notes=(
            "instance ids are GCE instance names (unique per project and zone)",
            "tags live in the instance metadata entry 'portacloud-tags' (JSON)",
            "GPUs attach to n1 types as accelerators; a2/a3/a4/g2/g4 types carry their own",
            _RECORDED,
        ),
    ),
    "azure_arm": ComputeProfile(
        "azure",
        False,
        notes=(
            "instance ids are Azure resource ids; stop deallocates (billing false)",
            "libcloud's Azure driver cannot ask for spot capacity",
            _RECORDED,
        ),
    ),
    "openstack": ComputeProfile(
        None,
        False,
        notes=(
            "instance types are flavor names or ids; images are image names or ids",
            "a SHUTOFF server is counted as billing, as most OpenStack clouds charge it",
            _RECORDED,
        ),
    ),
}
#: Any other libcloud compute driver.
DEFAULT_PROFILE = ComputeProfile(
    None,
    False,
    profiled=False,
    notes=("driver not profiled by portacloud: tags are not stored, types and images by id",),
)


def gce_accelerator(machine_type: str, gpu: str | None, count: int) -> dict[str, Any]:
    """The GCE ``create_node`` arguments that give ``machine_type`` ``count`` x ``gpu``.

    Raises:
        InvalidArgumentError: a GPU GCE does not attach, or a machine type that takes none.
    """
    if not gpu or count <= 0:
        return {}
    if _GCE_BUNDLED.match(machine_type):
        # The machine type carries its GPUs; they cannot live-migrate.
        return {"ex_on_host_maintenance": "TERMINATE"}
    accelerator = GCE_ACCELERATORS.get(gpu)
    if accelerator is None:
        raise InvalidArgumentError(
            f"GCE has no accelerator for GPU {gpu!r}; known: {', '.join(GCE_ACCELERATORS)}"
        )
    if not _GCE_ATTACHABLE.match(machine_type):
        raise InvalidArgumentError(
            f"GCE attaches GPUs to n1 machine types only, not {machine_type!r}"
        )
    return {
        "ex_accelerator_type": accelerator,
        "ex_accelerator_count": count,
        "ex_on_host_maintenance": "TERMINATE",
    }
