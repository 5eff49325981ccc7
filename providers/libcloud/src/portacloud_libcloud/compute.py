"""The ``ComputeDriver`` over any apache-libcloud compute driver.

``libcloud+ec2://REGION``, ``libcloud+gce://ZONE?project=P``,
``libcloud+azure-arm://LOCATION?resource_group=RG&network=VNET``,
``libcloud+openstack://REGION`` and any other libcloud compute driver (``libcloud+<name>://``).

What each driver needs is kept in one place per concern:

- states: :mod:`portacloud_libcloud.states` (one table, the cloud's own status first);
- GPUs: GCE attaches accelerators to N1 machine types (``ex_accelerator_type`` /
  ``ex_accelerator_count``, with ``ex_on_host_maintenance="TERMINATE"``); the A2/A3/A4/G2/G4
  types carry theirs, as every EC2 and Azure size does, so the size alone asks for them;
- tags: EC2 and Azure tags, OpenStack server metadata, and on GCE one metadata entry
  (``portacloud-tags``) holding the tags as JSON, because GCE labels cannot hold ``:``, ``@`` or
  capitals;
- images: portable names (``ubuntu-22.04``...) per cloud in :data:`IMAGES`, ids passed through.

Against an EC2 endpoint that is not AWS (moto), the driver class gets the fixes of
:mod:`portacloud_libcloud.moto_shim`. GCE, Azure ARM and OpenStack are tested on libcloud's own
recorded responses (tests/unit/test_libcloud_fixtures.py), not on live clouds.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import importlib
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, unquote

from portacloud.compute.driver import LaunchRequest
from portacloud.compute.models import ComputeCapabilities, Instance, InstanceState
from portacloud.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
    UnsupportedError,
)
from portacloud.providers.options import reject_unknown_options
from portacloud_libcloud.errors import map_libcloud_error
from portacloud_libcloud.per_thread import PerThread
from portacloud_libcloud.states import instance_state, native_status

__all__ = [
    "GCE_ACCELERATORS",
    "IMAGES",
    "LibcloudComputeDriver",
    "gce_accelerator",
    "open_libcloud_compute",
]

_COMPUTE_OPTIONS = ("project", "resource_group", "network", "subnet", "admin_user")

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
_GCE_TAGS_KEY = "portacloud-tags"

_CANONICAL = "099720109477"
_AMAZON = "137112412989"


@dataclass(frozen=True, slots=True)
class _Ec2Image:
    owner: str
    name_pattern: str


#: Portable image names per driver: EC2 owner + name filter (newest wins), GCE image family
#: (project/family), Azure Marketplace URN (publisher:offer:sku:version).
IMAGES: Mapping[str, Mapping[str, object]] = {
    "ec2": {
        "ubuntu-20.04": _Ec2Image(
            _CANONICAL, "ubuntu/images/hvm-ssd*/ubuntu-focal-20.04-amd64-server-*"
        ),
        "ubuntu-22.04": _Ec2Image(
            _CANONICAL, "ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-amd64-server-*"
        ),
        "ubuntu-24.04": _Ec2Image(
            _CANONICAL, "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"
        ),
        "amazon-linux-2023": _Ec2Image(_AMAZON, "al2023-ami-2023.*-kernel-*-x86_64"),
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
class _Profile:
    catalog: str | None
    spot: bool
    ssh_keys: bool
    gpus: bool
    tags: bool
    notes: tuple[str, ...] = ()


_RECORDED = "tested on libcloud's recorded responses, not on a live cloud"
_PROFILES: Mapping[str, _Profile] = {
    "ec2": _Profile(
        catalog="aws",
        spot=True,
        ssh_keys=True,
        gpus=True,
        tags=True,
        notes=("billing is the instance charge only: EBS volumes still bill while STOPPED",),
    ),
    "gce": _Profile(
        catalog="gcp",
        spot=True,
        ssh_keys=True,
        gpus=True,
        tags=True,
        notes=(
            "instance ids are GCE instance names (unique per project and zone)",
            "tags live in the instance metadata entry 'portacloud-tags' (JSON)",
            "GPUs attach to n1 types as accelerators; a2/a3/a4/g2/g4 types carry their own",
            _RECORDED,
        ),
    ),
    "azure_arm": _Profile(
        catalog="azure",
        spot=False,
        ssh_keys=True,
        gpus=True,
        tags=True,
        notes=(
            "instance ids are Azure resource ids; stop deallocates (billing false)",
            "libcloud's Azure driver cannot ask for spot capacity",
            _RECORDED,
        ),
    ),
    "openstack": _Profile(
        catalog=None,
        spot=False,
        ssh_keys=True,
        gpus=True,
        tags=True,
        notes=(
            "instance types are flavor names or ids; images are image names or ids",
            "a SHUTOFF server is counted as billing, as most OpenStack clouds charge it",
            _RECORDED,
        ),
    ),
}
_DEFAULT_PROFILE = _Profile(
    catalog=None,
    spot=False,
    ssh_keys=False,
    gpus=False,
    tags=False,
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


def _first(values: object) -> str | None:
    if isinstance(values, list | tuple) and values:
        return str(values[0])
    return None


def _utc(value: object) -> datetime | None:
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _key_pair_name(public_key: str) -> str:
    """The same key always gets the same key-pair name, so importing it twice is harmless."""
    parts = public_key.split()
    if len(parts) < 2:
        raise InvalidArgumentError("ssh_public_key must be one OpenSSH public key line")
    try:
        body = base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise InvalidArgumentError("ssh_public_key: the key body is not valid base64") from None
    return "portacloud-" + hashlib.sha256(parts[0].encode() + b" " + body).hexdigest()[:24]


class LibcloudComputeDriver:
    """Instances of one libcloud compute driver and region as a portacloud ``ComputeDriver``.

    Attributes:
        provider: The URL scheme, ``libcloud+<driver>``.
        capabilities: From the driver's profile.
        region: Region, zone or location the URL names.
        driver: libcloud's driver name (``ec2``, ``gce``...).
    """

    def __init__(
        self,
        native: Any,
        *,
        driver: str,
        provider: str,
        region: str,
        options: Mapping[str, str] | None = None,
        factory: Callable[[], Any] | None = None,
    ) -> None:
        """Wrap a libcloud ``NodeDriver``.

        Args:
            native: The libcloud driver instance (of the calling thread).
            driver: libcloud's driver name.
            provider: The URL scheme.
            region: The region (EC2, OpenStack), zone (GCE) or location (Azure).
            options: Driver-specific settings: ``resource_group``, ``network``, ``subnet``,
                ``admin_user`` (Azure).
            factory: Builds the same driver for another thread (see
                :mod:`portacloud_libcloud.per_thread`); ``None`` shares ``native``.
        """
        self._drivers = PerThread(native, factory)
        self.driver = driver
        self.provider = provider
        self.region = region
        self._options = dict(options or {})
        self._profile = _PROFILES.get(driver, _DEFAULT_PROFILE)
        self._terminated: set[str] = set()
        base: Any = importlib.import_module("libcloud.compute.base")
        self._base = base
        stop = type(native).stop_node is not base.NodeDriver.stop_node
        self.capabilities = ComputeCapabilities(
            stop=stop,
            spot=self._profile.spot,
            gpus=self._profile.gpus,
            tags=self._profile.tags,
            ssh_keys=self._profile.ssh_keys,
            catalog=self._profile.catalog,
            notes=self._profile.notes,
        )

    @property
    def native_driver(self) -> Any:
        """The calling thread's libcloud ``NodeDriver``."""
        return self._drivers.get()

    # ------------------------------------------------------------------ nodes -> instances

    def _azure_codes(self, node: Any) -> tuple[str, ...]:
        azure: Any = importlib.import_module("libcloud.compute.drivers.azure_arm")
        response = self.native_driver.connection.request(
            f"{node.id}/InstanceView", params={"api-version": azure.INSTANCE_VIEW_API_VERSION}
        )
        statuses = (response.object or {}).get("statuses") or ()
        return tuple(str(s.get("code", "")) for s in statuses)

    def _tags(self, node: Any) -> dict[str, str]:
        extra = getattr(node, "extra", None) or {}
        if self.driver in ("ec2", "azure_arm"):
            raw = extra.get("tags") or {}
        elif self.driver == "openstack":
            raw = extra.get("metadata") or {}
        elif self.driver == "gce":
            items = (extra.get("metadata") or {}).get("items") or ()
            stored = next((i.get("value") for i in items if i.get("key") == _GCE_TAGS_KEY), None)
            try:
                raw = json.loads(stored) if stored else {}
            except ValueError:
                raw = {}
        else:
            raw = {}
        return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}

    def _details(self, node: Any) -> dict[str, Any]:
        extra = getattr(node, "extra", None) or {}
        size = getattr(node, "size", None)
        image = getattr(node, "image", None)
        out: dict[str, Any] = {
            "id": str(node.id),
            "instance_type": getattr(size, "id", size) if size is not None else None,
            "image": getattr(image, "id", image) if image is not None else None,
            "region": self.region,
            "created_at": _utc(getattr(node, "created_at", None)),
            "spot": False,
        }
        if self.driver == "ec2":
            out["instance_type"] = extra.get("instance_type")
            out["image"] = extra.get("image_id")
            out["region"] = extra.get("availability") or self.region
            out["spot"] = extra.get("instance_lifecycle") == "spot"
        elif self.driver == "gce":
            out["id"] = str(node.name)
            out["instance_type"] = str(extra.get("machineType") or "").rsplit("/", 1)[-1] or None
            zone = extra.get("zone")
            out["region"] = getattr(zone, "name", zone) or self.region
            out["image"] = extra.get("image")
            out["created_at"] = _utc(extra.get("creationTimestamp"))
            scheduling = extra.get("scheduling") or {}
            out["spot"] = bool(
                scheduling.get("preemptible") or scheduling.get("provisioningModel") == "SPOT"
            )
        elif self.driver == "azure_arm":
            properties = extra.get("properties") or {}
            out["instance_type"] = (properties.get("hardwareProfile") or {}).get("vmSize")
            out["region"] = extra.get("location") or self.region
            ref = (properties.get("storageProfile") or {}).get("imageReference") or {}
            parts = [ref.get(k) for k in ("publisher", "offer", "sku", "version")]
            out["image"] = ":".join(str(p) for p in parts) if all(parts) else ref.get("id")
        elif self.driver == "openstack":
            out["instance_type"] = extra.get("flavorId")
            out["image"] = extra.get("imageId")
            out["region"] = extra.get("availability_zone") or self.region
        for name in ("instance_type", "image", "region"):
            if out[name] is not None:
                out[name] = str(out[name])
        return out

    def _instance(self, node: Any) -> Instance:
        codes = self._azure_codes(node) if self.driver == "azure_arm" else ()
        state, billing = instance_state(self.driver, node, native_status(self.driver, node, codes))
        tags = self._tags(node)
        details = self._details(node)
        return Instance(
            id=details["id"],
            name=tags.get("Name") or (str(node.name) if node.name else None),
            state=state,
            billing=billing,
            instance_type=details["instance_type"],
            region=details["region"],
            image=details["image"],
            tags=tags,
            created_at=details["created_at"],
            public_ip=_first(getattr(node, "public_ips", None)),
            private_ip=_first(getattr(node, "private_ips", None)),
            spot=details["spot"],
            provider=self.provider,
        )

    # ------------------------------------------------------------------ lookups

    def _node(self, instance_id: str) -> Any:
        native = self.native_driver
        if self.driver == "ec2":
            nodes = native.list_nodes(ex_node_ids=[instance_id])
        elif self.driver == "gce":
            return native.ex_get_node(instance_id, self.region)
        elif self.driver == "azure_arm":
            return native.ex_get_node(instance_id)
        elif self.driver == "openstack":
            node = native.ex_get_node_details(instance_id)
            nodes = [node] if node is not None else []
        else:
            nodes = [n for n in native.list_nodes() if str(n.id) == instance_id]
        if not nodes:
            raise NotFoundError("no such instance", resource=instance_id)
        return nodes[0]

    def _size(self, instance_type: str) -> Any:
        if self.driver == "gce":
            return instance_type  # create_node resolves a machine-type name in its zone
        if self.driver not in ("ec2", "azure_arm"):
            # OpenStack flavors (and most drivers' sizes) have ids that are not their names.
            for size in self.native_driver.list_sizes():
                if instance_type in (str(size.id), str(size.name)):
                    return size
            if self.driver == "openstack":
                raise InvalidArgumentError(f"no flavor with id or name {instance_type!r}")
        # EC2 and Azure only send the size's id (the type name).
        return self._base.NodeSize(
            id=instance_type,
            name=instance_type,
            ram=0,
            disk=0,
            bandwidth=None,
            price=None,
            driver=self.native_driver,
        )

    def _image(self, image: str) -> Any:
        if self.driver == "gce":
            return image
        if self.driver == "azure_arm":
            parts = image.split(":")
            if len(parts) != 4:
                raise InvalidArgumentError(
                    "an Azure image is a Marketplace URN publisher:offer:sku:version, "
                    f"not {image!r}"
                )
            azure: Any = importlib.import_module("libcloud.compute.drivers.azure_arm")
            publisher, offer, sku, version = parts
            return azure.AzureImage(version, sku, offer, publisher, self.region, self.native_driver)
        return self._base.NodeImage(id=image, name=None, driver=self.native_driver)

    # ------------------------------------------------------------------ ComputeDriver

    def resolve_image(self, image: str) -> str:
        """Map a portable image name to this cloud's image id; pass anything else through."""
        known = IMAGES.get(self.driver, {}).get(image)
        if known is None:
            if self.driver == "openstack":
                return self._openstack_image(image)
            return image
        if isinstance(known, _Ec2Image):
            found = self.native_driver.list_images(
                ex_owner=known.owner, ex_filters={"name": known.name_pattern}
            )
            if not found:
                raise InvalidArgumentError(
                    f"no {image} image (owner {known.owner}, name {known.name_pattern}) in "
                    f"{self.region}; pass an AMI id instead"
                )
            newest = max(found, key=lambda i: str(i.extra.get("creation_date") or ""))
            return str(newest.id)
        if self.driver == "gce":
            project, family = str(known).split("/", 1)
            found = self.native_driver.ex_get_image_from_family(
                family, ex_project_list=[project], ex_standard_projects=False
            )
            return str(found.extra.get("selfLink") or found.name)
        return str(known)

    def _openstack_image(self, image: str) -> str:
        for candidate in self.native_driver.list_images():
            if image in (str(candidate.id), str(candidate.name)):
                return str(candidate.id)
        raise InvalidArgumentError(f"no OpenStack image with id or name {image!r}")

    def _create_args(self, request: LaunchRequest) -> dict[str, Any]:
        tags = {"Name": request.name, **request.tags}
        native = self.native_driver
        if self.driver == "ec2":
            args: dict[str, Any] = {"ex_metadata": tags}
            if request.spot:
                args["ex_spot"] = True
            if request.ssh_public_key:
                args["ex_keyname"] = self._import_key(request.ssh_public_key)
            return args
        if self.driver == "gce":
            metadata = {_GCE_TAGS_KEY: json.dumps(tags, sort_keys=True)}
            if request.ssh_public_key:
                metadata["ssh-keys"] = f"portacloud:{request.ssh_public_key.strip()}"
            args = {"ex_metadata": metadata}
            if request.spot:
                args["ex_preemptible"] = True
            args.update(gce_accelerator(request.instance_type, request.gpu, request.gpu_count))
            return args
        if self.driver == "azure_arm":
            group = self._options.get("resource_group")
            if not group:
                raise InvalidArgumentError(
                    f"{self.provider}:// needs the option resource_group to create instances"
                )
            auth = (
                self._base.NodeAuthSSHKey(request.ssh_public_key)
                if request.ssh_public_key
                # Azure demands a credential; nobody is told this one, so nobody logs in.
                else self._base.NodeAuthPassword(secrets.token_urlsafe(24) + "aA1!")
            )
            return {
                "auth": auth,
                "ex_resource_group": group,
                "location": self._base.NodeLocation(
                    id=self.region, name=self.region, country="", driver=native
                ),
                "ex_network": self._options.get("network"),
                "ex_subnet": self._options.get("subnet", "default"),
                "ex_user_name": self._options.get("admin_user", "portacloud"),
                "ex_tags": tags,
                "ex_use_managed_disks": True,
            }
        if self.driver == "openstack":
            args = {"ex_metadata": tags}
            if request.ssh_public_key:
                args["ex_keyname"] = self._import_key(request.ssh_public_key)
            return args
        return {}

    def _import_key(self, public_key: str) -> str:
        name = _key_pair_name(public_key)
        try:
            self.native_driver.import_key_pair_from_string(name, public_key.strip())
        except Exception as exc:
            mapped = map_libcloud_error(exc)
            # The name is the key's hash: an existing pair of that name holds this very key.
            if not isinstance(mapped, AlreadyExistsError):
                raise
        return name

    def create(self, request: LaunchRequest) -> Instance:
        """``create_node`` with the size, image, tags, GPUs and key the request names."""
        if request.gpu_count and not self.capabilities.gpus:
            raise UnsupportedError(f"{self.provider} cannot be asked for GPUs")
        name = request.name.lower() if self.driver == "gce" else request.name
        node = self.native_driver.create_node(
            name=name,
            size=self._size(request.instance_type),
            image=self._image(request.image),
            **self._create_args(request),
        )
        return self._instance(node)

    def get(self, instance_id: str) -> Instance:
        """Describe one instance; NOT_FOUND for an id the cloud does not know."""
        return self._instance(self._node(instance_id))

    def list(self, tags: Mapping[str, str]) -> builtins.list[Instance]:
        """Instances carrying every tag (filtered server-side on EC2, here everywhere)."""
        native = self.native_driver
        if self.driver == "ec2":
            literal = {k: v for k, v in tags.items() if not any(c in v for c in "*?\\")}
            nodes = native.list_nodes(ex_filters={f"tag:{k}": v for k, v in literal.items()})
        elif self.driver == "azure_arm":
            # The subscription (or the resource group the URL names) holds every location's
            # VMs; the power state is read per match below, not for every VM listed.
            group = self._options.get("resource_group")
            nodes = [
                n
                for n in native.list_nodes(ex_resource_group=group, ex_fetch_power_state=False)
                if str((n.extra or {}).get("location", "")).lower() == self.region.lower()
            ]
        else:
            nodes = native.list_nodes()
        found = []
        for node in nodes:
            if all(self._tags(node).get(k) == v for k, v in tags.items()):
                found.append(self._instance(node))
        return found

    def _startable(self, instance_id: str, operation: str) -> Any:
        """The node, unless it is gone or going: clouds (and moto) differ on what they allow."""
        node = self._node(instance_id)
        state = self._instance(node).state
        if state in (InstanceState.TERMINATING, InstanceState.TERMINATED):
            raise FailedPreconditionError(
                f"cannot {operation} a {state.value} instance", resource=instance_id
            )
        return node

    def start(self, instance_id: str) -> Instance:
        """``start_node``, then describe."""
        self.native_driver.start_node(self._startable(instance_id, "start"))
        return self.get(instance_id)

    def stop(self, instance_id: str) -> Instance:
        """``stop_node`` (on Azure it deallocates, so billing stops), then describe."""
        self.native_driver.stop_node(self._startable(instance_id, "stop"))
        return self.get(instance_id)

    def terminate(self, instance_id: str) -> Instance:
        """``destroy_node``; terminating again is not an error.

        Clouds that forget a deleted instance at once (GCE, Azure, OpenStack) answer a second
        terminate with "not found"; ids this driver terminated are remembered so that the
        second call describes the instance as TERMINATED, while an id never seen stays
        NOT_FOUND.
        """
        try:
            node = self._node(instance_id)
        except Exception as exc:
            if instance_id in self._terminated and self._not_found(exc):
                return self._gone(instance_id)
            raise
        before = self._instance(node)
        if before.state is InstanceState.TERMINATED:
            return before
        self.native_driver.destroy_node(node)
        self._terminated.add(instance_id)
        try:
            return self.get(instance_id)
        except Exception as exc:
            if self._not_found(exc):
                return self._gone(instance_id)
            raise

    @staticmethod
    def _not_found(exc: Exception) -> bool:
        return isinstance(exc, NotFoundError) or isinstance(map_libcloud_error(exc), NotFoundError)

    def _gone(self, instance_id: str) -> Instance:
        return Instance(
            id=instance_id,
            state=InstanceState.TERMINATED,
            billing=False,
            region=self.region,
            provider=self.provider,
        )

    def map_error(self, exc: Exception) -> PortaCloudError | None:
        """Translate through the provider's one table (:mod:`portacloud_libcloud.errors`)."""
        return map_libcloud_error(exc)

    def native(self) -> object | None:
        """The libcloud ``NodeDriver``."""
        native: object = self.native_driver
        return native

    def close(self) -> None:
        """Close the HTTP session of the driver's connection."""
        connection = getattr(self.native_driver, "connection", None)
        http = getattr(connection, "connection", None)
        session = getattr(http, "session", None)
        close = getattr(session, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()


def _is_aws_host(host: str) -> bool:
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def open_libcloud_compute(url: SplitResult, options: Mapping[str, Any]) -> LibcloudComputeDriver:
    """Open ``libcloud+<driver>://region`` (see the module docstring)."""
    from portacloud_libcloud.credentials import COMMON_OPTIONS, compute_args, option_str
    from portacloud_libcloud.moto_shim import moto_compatible_ec2
    from portacloud_libcloud.provider import _native_failure, driver_name

    scheme = url.scheme
    name = driver_name(scheme)
    known = {k: v for k, v in options.items() if not k.startswith("ex_")}
    reject_unknown_options(scheme, known, allowed=(*COMMON_OPTIONS, *_COMPUTE_OPTIONS))
    region = unquote(url.netloc)
    if not region and name in _PROFILES:
        raise InvalidArgumentError(f"{scheme}:// URLs name a region or zone: {scheme}://REGION")
    if url.path.strip("/"):
        raise InvalidArgumentError(f"{scheme}:// URLs have no path: {scheme}://REGION?options")
    providers: Any = importlib.import_module("libcloud.compute.providers")
    if name not in providers.DRIVERS:
        raise UnsupportedError(
            f"libcloud has no compute driver {name!r}; known: "
            + ", ".join(sorted(str(p) for p in providers.DRIVERS))
        )
    args = compute_args(name, region, options, scheme=scheme)
    settings = {
        k: v
        for k in ("resource_group", "network", "subnet", "admin_user")
        if (v := option_str(options, k, scheme=scheme)) is not None
    }
    try:
        cls = providers.get_driver(name)
        host = args.kwargs.get("host")
        if name == "ec2" and isinstance(host, str) and not _is_aws_host(host):
            cls = moto_compatible_ec2(cls)
        native = cls(*args.args, **args.kwargs)
    except PortaCloudError:
        raise
    except Exception as exc:
        raise _native_failure(exc, f"libcloud compute driver {name!r}") from exc
    return LibcloudComputeDriver(
        native,
        driver=name,
        provider=scheme,
        region=region,
        options=settings,
        factory=lambda: cls(*args.args, **args.kwargs),
    )
