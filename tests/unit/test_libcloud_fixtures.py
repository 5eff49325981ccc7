"""libcloud+<driver>:// mappings on libcloud's own recorded responses, and its two tables.

GCE, Azure ARM and OpenStack have no emulator here. libcloud ships the canned HTTP answers of
its own test suite inside its wheel (``libcloud/test/compute/fixtures``) together with the
mock connections that serve them; the fixtures below reuse those test classes' ``setUp`` to
get drivers whose every request is answered from those recordings. These are recorded
responses, not live clouds: they prove the state, tag, GPU and error mappings, not that a
cloud accepts the requests today.
"""

from __future__ import annotations

import importlib
import importlib.resources
import json
import sys
import types
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

import portacloud
from portacloud.compute.driver import LaunchRequest
from portacloud.compute.models import InstanceState

pytest.importorskip("libcloud")
pytest.importorskip("requests_mock")  # libcloud's test harness imports it

from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import InvalidCredsError, LibcloudError, MalformedResponseError
from libcloud.compute.base import Node
from libcloud.compute.types import NodeState
from libcloud.storage.types import ObjectDoesNotExistError, ObjectHashMismatchError
from requests import exceptions as requests_exc

from portacloud_libcloud.compute import (
    GCE_ACCELERATORS,
    LibcloudComputeDriver,
    gce_accelerator,
)
from portacloud_libcloud.errors import BY_CODE, http_status, map_libcloud_error, native_code
from portacloud_libcloud.metadata import AZURE_CODEC, PLAIN_CODEC
from portacloud_libcloud.provider import driver_name
from portacloud_libcloud.states import STATES, instance_state, native_status

S = InstanceState


# --------------------------------------------------------------------------- the harness


def _install_secrets() -> None:
    """libcloud's tests import ``libcloud.test.secrets``, which the wheel ships only as
    ``secrets.py-dist``: load that text as the module instead of writing into site-packages."""
    if "libcloud.test.secrets" in sys.modules:
        return
    source = (importlib.resources.files("libcloud") / "test" / "secrets.py-dist").read_text()
    module = types.ModuleType("libcloud.test.secrets")
    exec(compile(source, "libcloud/test/secrets.py-dist", "exec"), module.__dict__)
    sys.modules["libcloud.test.secrets"] = module


def _recorded(module: str, test_class: str, connection_classes: list[Any]) -> Iterator[Any]:
    """A libcloud driver on recorded responses, from one of libcloud's own test classes.

    The test classes point shared connection classes at their mocks; the previous targets are
    put back afterwards so no other test meets a mock.
    """
    _install_secrets()
    # Imported here, not at module level: pytest would otherwise collect libcloud's classes.
    cls = getattr(importlib.import_module(module), test_class)
    saved = [
        (c, c.__dict__.get("conn_class"), c.__dict__.get("auth_url")) for c in connection_classes
    ]
    cls.setUpClass()
    case = cls("setUp")
    case.setUp()
    try:
        yield case.driver
    finally:
        cls.tearDownClass()
        for conn, conn_class, auth_url in saved:
            for name, value in (("conn_class", conn_class), ("auth_url", auth_url)):
                if value is None:
                    if name in conn.__dict__:
                        delattr(conn, name)
                else:
                    setattr(conn, name, value)


@pytest.fixture
def gce() -> Iterator[LibcloudComputeDriver]:
    from libcloud.common.google import GoogleBaseAuthConnection
    from libcloud.compute.drivers.gce import GCENodeDriver

    yield from (
        LibcloudComputeDriver(native, driver="gce", provider="libcloud+gce", region="us-central1-a")
        for native in _recorded(
            "libcloud.test.compute.test_gce",
            "GCENodeDriverTest",
            [GCENodeDriver.connectionCls, GoogleBaseAuthConnection],
        )
    )


def _azure_native() -> Iterator[Any]:
    from libcloud.compute.drivers.azure_arm import AzureNodeDriver

    return _recorded(
        "libcloud.test.compute.test_azure_arm",
        "AzureNodeDriverTests",
        [AzureNodeDriver.connectionCls],
    )


@pytest.fixture
def azure() -> Iterator[LibcloudComputeDriver]:
    """Subscription-wide (the recordings hold no resource-group listing)."""
    yield from (
        LibcloudComputeDriver(
            native, driver="azure_arm", provider="libcloud+azure-arm", region="eastus"
        )
        for native in _azure_native()
    )


@pytest.fixture
def openstack() -> Iterator[LibcloudComputeDriver]:
    from libcloud.compute.drivers.openstack import OpenStack_1_1_NodeDriver

    yield from (
        LibcloudComputeDriver(
            native, driver="openstack", provider="libcloud+openstack", region="RegionOne"
        )
        for native in _recorded(
            "libcloud.test.compute.test_openstack",
            "OpenStack_1_1_Tests",
            [OpenStack_1_1_NodeDriver.connectionCls],
        )
    )


def _spy(obj: Any, name: str) -> list[Any]:
    """Record what ``obj.name`` returns, still calling it."""
    calls: list[Any] = []
    original = getattr(obj, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        calls.append(result)
        return result

    setattr(obj, name, wrapper)
    return calls


# --------------------------------------------------------------------------- GCE (recorded)


def test_gce_running_and_stopped_instances(gce: LibcloudComputeDriver) -> None:
    running = gce.get("node-name")
    assert (running.state, running.billing) == (S.RUNNING, True)
    assert running.id == "node-name"
    assert running.instance_type == "n1-standard-1"
    assert running.region == "us-central1-a"
    assert running.created_at is not None
    assert running.created_at.tzinfo is not None
    # GCE's TERMINATED is a stopped VM that keeps its disk: STOPPED, and no longer billed.
    stopped = gce.get("stopped-node")
    assert (stopped.state, stopped.billing) == (S.STOPPED, False)
    assert [i.id for i in gce.list({})] == ["node-name"]


def test_gce_suspended_instance_is_stopped_without_billing(gce: LibcloudComputeDriver) -> None:
    nodes = gce.native_driver.list_nodes(ex_zone="all")
    suspended = next(n for n in nodes if n.extra["status"] == "SUSPENDED")
    assert instance_state("gce", suspended, native_status("gce", suspended)) == (S.STOPPED, False)


def test_gce_start_and_stop_go_through(gce: LibcloudComputeDriver) -> None:
    assert gce.start("stopped-node").id == "stopped-node"
    assert gce.stop("node-name").id == "node-name"


def test_gce_gpu_request_carries_accelerators_and_tags(gce: LibcloudComputeDriver) -> None:
    requests = _spy(gce.native_driver, "_create_node_req")
    created = gce.create(
        LaunchRequest(
            name="node-name",
            instance_type="n1-standard-1",
            image="debian-7",
            tags={"team": "ml", "portacloud:managed": "true"},
            gpu="K80",
            gpu_count=2,
            spot=True,
        )
    )
    assert created.id == "node-name"
    _, body = requests[-1]
    (accelerator,) = body["guestAccelerators"]
    assert accelerator["acceleratorType"].endswith("/acceleratorTypes/nvidia-tesla-k80")
    assert accelerator["acceleratorCount"] == 2
    assert body["scheduling"] == {"preemptible": True, "onHostMaintenance": "TERMINATE"}
    items = {i["key"]: i["value"] for i in body["metadata"]["items"]}
    assert json.loads(items["portacloud-tags"]) == {
        "Name": "node-name",
        "team": "ml",
        "portacloud:managed": "true",
    }


def test_gce_tags_are_read_back_from_metadata(gce: LibcloudComputeDriver) -> None:
    node = gce.native_driver.ex_get_node("node-name", "us-central1-a")
    node.extra["metadata"] = {
        "items": [{"key": "portacloud-tags", "value": '{"portacloud:managed": "true"}'}]
    }
    assert gce._instance(node).managed is True


def test_gce_accelerator_arguments() -> None:
    assert gce_accelerator("n1-standard-8", "T4", 1) == {
        "ex_accelerator_type": "nvidia-tesla-t4",
        "ex_accelerator_count": 1,
        "ex_on_host_maintenance": "TERMINATE",
    }
    # A2/A3/G2 machine types carry their GPUs: nothing to attach, but no live migration.
    assert gce_accelerator("a2-highgpu-1g", "A100", 1) == {"ex_on_host_maintenance": "TERMINATE"}
    assert gce_accelerator("g2-standard-4", "L4", 1) == {"ex_on_host_maintenance": "TERMINATE"}
    assert gce_accelerator("e2-standard-2", None, 0) == {}
    with pytest.raises(portacloud.InvalidArgumentError, match="n1"):
        gce_accelerator("e2-standard-2", "T4", 1)
    with pytest.raises(portacloud.InvalidArgumentError, match="no accelerator"):
        gce_accelerator("n1-standard-8", "MI300X", 1)
    assert set(GCE_ACCELERATORS) >= {"T4", "V100", "A100", "A100-80GB", "H100", "L4"}


# --------------------------------------------------------------------------- Azure ARM (recorded)


def test_azure_states_come_from_the_instance_view(azure: LibcloudComputeDriver) -> None:
    instances = azure.list({})
    assert [i.name for i in instances] == ["test-node-1", "test-node-2"]
    for instance in instances:
        # The recording says ProvisioningState/updating + PowerState/running: a running VM
        # being reconfigured, where libcloud reports UPDATING.
        assert (instance.state, instance.billing) == (S.RUNNING, True)
        assert instance.instance_type == "Standard_A1"
        assert instance.region == "eastus"
        assert instance.id.endswith(f"/virtualMachines/{instance.name}")


def test_azure_create_sends_the_gpu_size_tags_and_image(azure: LibcloudComputeDriver) -> None:
    azure = LibcloudComputeDriver(
        azure.native_driver,
        driver="azure_arm",
        provider="libcloud+azure-arm",
        region="eastus",
        options={"resource_group": "000000", "network": "000000", "subnet": "000000"},
    )
    image = azure.resolve_image("ubuntu-22.04")
    assert image == "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest"
    created = azure.create(
        LaunchRequest(
            name="test-node-1",
            instance_type="Standard_NC6s_v3",
            image=image,
            tags={"portacloud:managed": "true"},
            gpu="V100",
            gpu_count=1,
        )
    )
    # The recording echoes the request body: the size alone asks Azure for the GPU.
    assert created.instance_type == "Standard_NC6s_v3"
    assert created.image == image
    assert created.tags["portacloud:managed"] == "true"
    assert created.tags["Name"] == "test-node-1"
    assert created.managed


def test_azure_create_needs_a_resource_group(azure: LibcloudComputeDriver) -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="resource_group"):
        azure.create(LaunchRequest(name="x", instance_type="Standard_A1", image="a:b:c:d"))
    with pytest.raises(portacloud.InvalidArgumentError, match="URN"):
        azure._image("not-a-urn")
    assert azure.capabilities.spot is False
    assert azure.capabilities.catalog == "azure"


# --------------------------------------------------------------------------- OpenStack (recorded)


def test_openstack_states_flavors_and_images(openstack: LibcloudComputeDriver) -> None:
    by_id = {i.id: i for i in openstack.list({})}
    assert (by_id["12064"].state, by_id["12064"].billing) == (S.RUNNING, True)
    assert by_id["12065"].state is S.PENDING  # status BUILD
    assert by_id["12064"].instance_type == "2"
    assert by_id["12064"].image == "7"
    got = openstack.get("12064")
    assert got.name == "lc-test"
    assert got.public_ip == "50.57.94.30"


def test_openstack_error_state(openstack: LibcloudComputeDriver) -> None:
    from libcloud.test.compute.test_openstack import OpenStack_2_0_MockHttp

    OpenStack_2_0_MockHttp.type = "ERROR_STATE_NO_IMAGE_ID"
    try:
        (instance,) = openstack.list({})
    finally:
        OpenStack_2_0_MockHttp.type = None
    assert instance.state is S.ERROR


def test_openstack_create_resolves_the_flavor_and_stores_tags(
    openstack: LibcloudComputeDriver,
) -> None:
    created = openstack.create(
        LaunchRequest(name="racktest", instance_type="1", image="11", tags={"team": "ml"})
    )
    assert created.id == "26f7fbee-8ce1-4c28-887a-bfe8e4bb10fe"
    assert created.state is S.PENDING
    with pytest.raises(portacloud.InvalidArgumentError, match="flavor"):
        openstack.create(LaunchRequest(name="x", instance_type="no-such-flavor", image="11"))


# --------------------------------------------------------------------------- the state table


def _node(state: NodeState, **extra: Any) -> Node:
    return Node(
        id="n", name="n", state=state, public_ips=[], private_ips=[], driver=None, extra=extra
    )


@pytest.mark.parametrize(
    ("driver", "libcloud_state", "extra", "expected"),
    [
        # libcloud folds EC2 "stopping" and "shutting-down" into UNKNOWN.
        ("ec2", NodeState.UNKNOWN, {"status": "stopping"}, (S.STOPPING, False)),
        ("ec2", NodeState.UNKNOWN, {"status": "shutting-down"}, (S.TERMINATING, False)),
        ("ec2", NodeState.PENDING, {"status": "pending"}, (S.PENDING, False)),
        ("ec2", NodeState.RUNNING, {"status": "running"}, (S.RUNNING, True)),
        ("ec2", NodeState.STOPPED, {"status": "stopped"}, (S.STOPPED, False)),
        # libcloud maps GCE STOPPING to PENDING and TERMINATED (stopped) to STOPPED.
        ("gce", NodeState.PENDING, {"status": "STOPPING"}, (S.STOPPING, True)),
        ("gce", NodeState.STOPPED, {"status": "TERMINATED"}, (S.STOPPED, False)),
        ("gce", NodeState.PENDING, {"status": "PROVISIONING"}, (S.PENDING, False)),
        ("gce", NodeState.UNKNOWN, {"status": "REPAIRING"}, (S.PENDING, False)),
        # OpenStack: a task or vm_state says more than libcloud's state.
        ("openstack", NodeState.RUNNING, {"task_state": "powering-off"}, (S.STOPPING, True)),
        ("openstack", NodeState.STOPPED, {"vm_state": "stopped"}, (S.STOPPED, True)),
        (
            "openstack",
            NodeState.UNKNOWN,
            {"vm_state": "shelved_offloaded"},
            (S.STOPPED, False),
        ),
        ("openstack", NodeState.RUNNING, {"task_state": "image_snapshot"}, (S.RUNNING, True)),
        # Any other driver: libcloud's state alone.
        ("dummy", NodeState.PAUSED, {}, (S.STOPPED, True)),
        ("dummy", NodeState.SUSPENDED, {}, (S.STOPPED, False)),
        ("dummy", NodeState.REBOOTING, {}, (S.RUNNING, True)),
        ("dummy", NodeState.TERMINATED, {}, (S.TERMINATED, False)),
        ("dummy", NodeState.UNKNOWN, {}, (S.UNKNOWN, True)),
    ],
)
def test_state_table(
    driver: str, libcloud_state: NodeState, extra: dict[str, str], expected: tuple[S, bool]
) -> None:
    node = _node(libcloud_state, **extra)
    assert instance_state(driver, node, native_status(driver, node)) == expected


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (("ProvisioningState/succeeded", "PowerState/running"), (S.RUNNING, True)),
        (("ProvisioningState/updating", "PowerState/running"), (S.RUNNING, True)),
        (("ProvisioningState/creating",), (S.PENDING, True)),
        (("ProvisioningState/failed/AllocationFailed", "PowerState/running"), (S.ERROR, True)),
        (("ProvisioningState/deleting", "PowerState/running"), (S.TERMINATING, False)),
        (("ProvisioningState/succeeded", "PowerState/deallocating"), (S.STOPPING, True)),
        # Stopped but allocated: libcloud's PAUSED, and Azure still bills it.
        (("ProvisioningState/succeeded", "PowerState/stopped"), (S.STOPPED, True)),
        (("ProvisioningState/succeeded", "PowerState/deallocated"), (S.STOPPED, False)),
    ],
)
def test_azure_instance_view_codes(codes: tuple[str, ...], expected: tuple[S, bool]) -> None:
    node = _node(NodeState.UNKNOWN)
    assert instance_state("azure_arm", node, native_status("azure_arm", node, codes)) == expected


def test_every_libcloud_node_state_is_in_the_table() -> None:
    for state in NodeState:
        assert ("*", state.value) in STATES, state


# --------------------------------------------------------------------------- the error table


@pytest.mark.parametrize(
    ("exc", "expected", "retryable"),
    [
        (
            ObjectDoesNotExistError(value=None, driver=None, object_name="k"),
            portacloud.NotFoundError,
            False,
        ),
        (
            ObjectHashMismatchError(value="md5", driver=None, object_name="k"),
            portacloud.ChecksumMismatchError,
            True,
        ),
        (
            LibcloudError("Unknown error. Status code: 412"),
            portacloud.FailedPreconditionError,
            False,
        ),
        (LibcloudError("Unexpected status code: 503"), portacloud.UnavailableError, True),
        (
            InvalidCredsError("<Error><Code>AccessDenied</Code></Error>"),
            portacloud.PermissionDeniedError,
            False,
        ),
        (
            InvalidCredsError("<Error><Code>SignatureDoesNotMatch</Code></Error>"),
            portacloud.UnauthenticatedError,
            False,
        ),
        (
            BaseHTTPError(400, "InvalidInstanceID.NotFound: The instance ID 'i-1' does not exist"),
            portacloud.NotFoundError,
            False,
        ),
        (
            BaseHTTPError(400, "IncorrectInstanceState: The instance is not stopped"),
            portacloud.FailedPreconditionError,
            False,
        ),
        (
            BaseHTTPError(404, "[ResourceNotFound] The VM was not found"),
            portacloud.NotFoundError,
            False,
        ),
        (BaseHTTPError(500, "boom"), portacloud.UnavailableError, True),
        (MalformedResponseError("Failed to parse XML"), portacloud.InternalError, False),
        (requests_exc.ConnectionError("refused"), portacloud.UnavailableError, True),
        (requests_exc.ReadTimeout("slow"), portacloud.DeadlineExceededError, True),
    ],
)
def test_error_table(
    exc: Exception, expected: type[portacloud.PortaCloudError], retryable: bool
) -> None:
    mapped = map_libcloud_error(exc)
    assert type(mapped) is expected
    assert mapped.retryable is retryable


def test_google_errors_map_by_class_and_code() -> None:
    from libcloud.common.google import QuotaExceededError, ResourceNotFoundError

    missing = map_libcloud_error(ResourceNotFoundError({"message": "gone"}, 404, "notFound"))
    assert isinstance(missing, portacloud.NotFoundError)
    quota = map_libcloud_error(QuotaExceededError("quota", 403, "quotaExceeded"))
    assert isinstance(quota, portacloud.ResourceExhaustedError)
    assert not quota.retryable


def test_rate_limit_keeps_retry_after() -> None:
    mapped = map_libcloud_error(RateLimitReachedError(headers={"retry-after": "7"}))
    assert isinstance(mapped, portacloud.ResourceExhaustedError)
    assert mapped.retry_after == 7.0


def test_codes_and_statuses_are_read_from_the_text() -> None:
    assert native_code(LibcloudError("<Error><Code>NoSuchKey</Code></Error>")) == "NoSuchKey"
    assert (
        native_code(BaseHTTPError(400, "InvalidAMIID.Malformed: bad")) == "InvalidAMIID.Malformed"
    )
    assert http_status(LibcloudError("Error uploading chunk 3. Code: 500")) == 500
    assert http_status(BaseHTTPError(429, "slow down")) == 429
    assert "InvalidInstanceType" in BY_CODE


def test_secrets_are_scrubbed_from_messages() -> None:
    exc = LibcloudError(
        "GET http://h/b/k?X-Amz-Signature=abcdef&X-Amz-Credential=AKIAABCDEFGHIJKLMNOP/x "
        "AccountKey=c2VjcmV0 status code: 403"
    )
    message = str(map_libcloud_error(exc))
    assert "abcdef" not in message
    assert "AKIAABCDEFGHIJKLMNOP" not in message
    assert "c2VjcmV0" not in message


def test_programming_errors_are_not_libclouds_to_map() -> None:
    assert map_libcloud_error(TypeError("bug")) is None
    assert map_libcloud_error(KeyError("bug")) is None


# --------------------------------------------------------------------------- metadata names


def test_azure_metadata_names_round_trip_like_az() -> None:
    stored = AZURE_CODEC.encode({"run-id": "42", "a.b": "x", "1st": "y"}, "0000abcd")
    assert stored == {
        "run_hid": "42",
        "a_db": "x",
        "_s1st": "y",
        "portacloud_hcrc32c": "0000abcd",
    }
    metadata, checksums = AZURE_CODEC.decode(stored)
    assert metadata == {"run-id": "42", "a.b": "x", "1st": "y"}
    assert checksums == {"crc32c": "0000abcd"}


def test_plain_metadata_skips_listing_owner_and_bad_crc() -> None:
    metadata, checksums = PLAIN_CODEC.decode(
        {"owner": {"id": "admin"}, "portacloud-crc32c": "not-hex", "team": "ml"}
    )
    assert metadata == {"team": "ml"}
    assert checksums == {}


# --------------------------------------------------------------------------- URLs and options


def test_driver_names_use_dashes_in_schemes() -> None:
    assert driver_name("libcloud+azure-blobs") == "azure_blobs"
    assert driver_name("libcloud+s3") == "s3"
    with pytest.raises(portacloud.InvalidArgumentError):
        driver_name("libcloud")


def test_unknown_driver_is_unsupported() -> None:
    with pytest.raises(portacloud.UnsupportedError, match="no storage driver"):
        portacloud.open_bucket("libcloud+no-such-cloud://bucket")
    with pytest.raises(portacloud.UnsupportedError, match="no compute driver"):
        portacloud.open_compute("libcloud+no-such-cloud://region")


def test_credentials_never_come_from_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(portacloud.InvalidArgumentError, match="credentials"):
        portacloud.open_bucket("libcloud+s3://bucket?secret=abc")
    with pytest.raises(portacloud.InvalidArgumentError, match="credentials"):
        portacloud.open_compute("libcloud+ec2://us-east-1?key=abc")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(portacloud.UnauthenticatedError, match="AWS_ACCESS_KEY_ID"):
        portacloud.open_bucket("libcloud+s3://bucket?host=127.0.0.1&port=9&secure=false")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT", raising=False)
    with pytest.raises(portacloud.UnauthenticatedError, match="AZURE_STORAGE_CONNECTION_STRING"):
        portacloud.open_bucket("libcloud+azure-blobs://container")


def test_unknown_options_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(portacloud.InvalidArgumentError, match="colour"):
        portacloud.open_bucket("libcloud+s3://bucket?colour=blue")
    with pytest.raises(portacloud.InvalidArgumentError, match="port"):
        portacloud.open_bucket("libcloud+s3://bucket?port=http")
    with pytest.raises(portacloud.InvalidArgumentError, match="region"):
        portacloud.open_compute("libcloud+ec2://")


def test_unreachable_endpoint_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    url = "libcloud+s3://bucket?host=127.0.0.1&port=9&secure=false"
    with pytest.raises(portacloud.UnavailableError) as caught:
        portacloud.open_bucket(url)
    assert caught.value.retryable
    assert urlsplit(url).scheme == caught.value.provider


# --------------------------------------------------------------------------- threads


def test_each_thread_gets_its_own_libcloud_driver() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from portacloud_libcloud.per_thread import PerThread

    first = object()
    built: list[object] = []

    def factory() -> object:
        built.append(object())
        return built[-1]

    drivers = PerThread(first, factory)
    assert drivers.get() is first
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(drivers.get).result()
        again = pool.submit(drivers.get).result()
    assert other is not first
    assert other is again  # one per thread, built once
    assert built == [other]
    shared = PerThread(first, None)
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(shared.get).result() is first
