"""The ``ComputeDriver`` over any apache-libcloud compute driver.

``libcloud+ec2://REGION``, ``libcloud+gce://ZONE?project=P``,
``libcloud+azure-arm://LOCATION?resource_group=RG&network=VNET``,
``libcloud+openstack://REGION`` and any other libcloud compute driver (``libcloud+<name>://``).

What each driver needs is kept in one place per concern:

- states: :mod:`portacloud_libcloud.states` (one table, the cloud's own status first);
- capabilities, GPUs and portable image names: :mod:`portacloud_libcloud.compute_profiles`;
- tags and details of a node: :mod:`portacloud_libcloud.nodes`.

Against an EC2 endpoint that is not AWS (moto), the driver class gets the fixes of
:mod:`portacloud_libcloud.moto_shim`. GCE, Azure ARM and OpenStack are tested on libcloud's own
recorded responses (tests/unit/test_libcloud_fixtures.py), not on live clouds.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import importlib
import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import SplitResult, unquote

from portacloud.compute.driver import LaunchRequest
from portacloud.compute.models import Instance, InstanceState
from portacloud.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    UnsupportedError,
)
from portacloud_libcloud.compute_profiles import (
    DEFAULT_PROFILE,
    GCE_ACCELERATORS,
    GCE_TAGS_KEY,
    IMAGES,
    PROFILES,
    Ec2Image,
    gce_accelerator,
)
from portacloud_libcloud.drivers import NativeDrivers, driver_class, guarded
from portacloud_libcloud.errors import map_libcloud_error
from portacloud_libcloud.nodes import first, node_details, node_tags
from portacloud_libcloud.options import ComputeOptions, driver_name, parse_libcloud_options
from portacloud_libcloud.states import instance_state, native_status

__all__ = [
    "GCE_ACCELERATORS",
    "IMAGES",
    "LibcloudComputeDriver",
    "gce_accelerator",
    "open_libcloud_compute",
]


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


class LibcloudComputeDriver(NativeDrivers):
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
        super().__init__(native, factory)
        self.driver = driver
        self.provider = provider
        self.region = region
        self._options = dict(options or {})
        self._terminated: set[str] = set()
        base: Any = importlib.import_module("libcloud.compute.base")
        self._base = base
        stop = type(native).stop_node is not base.NodeDriver.stop_node
        self.capabilities = PROFILES.get(driver, DEFAULT_PROFILE).capabilities(stop=stop)

    # ------------------------------------------------------------------ nodes -> instances

    def _azure_codes(self, node: Any) -> tuple[str, ...]:
        azure: Any = importlib.import_module("libcloud.compute.drivers.azure_arm")
        response = self.native_driver.connection.request(
            f"{node.id}/InstanceView", params={"api-version": azure.INSTANCE_VIEW_API_VERSION}
        )
        statuses = (response.object or {}).get("statuses") or ()
        return tuple(str(s.get("code", "")) for s in statuses)

    def _instance(self, node: Any) -> Instance:
        codes = self._azure_codes(node) if self.driver == "azure_arm" else ()
        state, billing = instance_state(self.driver, node, native_status(self.driver, node, codes))
        tags = node_tags(self.driver, node)
        details = node_details(self.driver, self.region, node)
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
            public_ip=first(getattr(node, "public_ips", None)),
            private_ip=first(getattr(node, "private_ips", None)),
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
        if isinstance(known, Ec2Image):
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
            metadata = {GCE_TAGS_KEY: json.dumps(tags, sort_keys=True)}
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
            if all(node_tags(self.driver, node).get(k) == v for k, v in tags.items()):
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


def _is_aws_host(host: str) -> bool:
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def open_libcloud_compute(url: SplitResult, options: Mapping[str, Any]) -> LibcloudComputeDriver:
    """Open ``libcloud+<driver>://region`` (see the module docstring)."""
    from portacloud_libcloud.credentials import compute_args
    from portacloud_libcloud.moto_shim import moto_compatible_ec2

    scheme = url.scheme
    name = driver_name(scheme)
    parsed, extra = parse_libcloud_options(ComputeOptions, scheme, options)
    region = unquote(url.netloc)
    if not region and name in PROFILES:
        raise InvalidArgumentError(f"{scheme}:// URLs name a region or zone: {scheme}://REGION")
    if url.path.strip("/"):
        raise InvalidArgumentError(f"{scheme}:// URLs have no path: {scheme}://REGION?options")
    cls = driver_class("compute", name)
    args = compute_args(name, region, parsed, extra, scheme=scheme)
    host = args.kwargs.get("host")
    if name == "ec2" and isinstance(host, str) and not _is_aws_host(host):
        cls = moto_compatible_ec2(cls)
    native = guarded("compute", name, lambda: cls(*args.args, **args.kwargs))
    return LibcloudComputeDriver(
        native,
        driver=name,
        provider=scheme,
        region=region,
        options=parsed.azure_settings(),
        factory=lambda: cls(*args.args, **args.kwargs),
    )
