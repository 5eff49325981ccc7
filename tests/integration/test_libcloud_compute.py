"""libcloud+ec2:// against a moto server this module starts on 127.0.0.1:19310.

libcloud's EC2 driver talks to moto through the fixes of portacloud_libcloud.moto_shim (SigV4,
namespaces, tag numbering). The server is this module's own, started and stopped by PID, so
these tests neither depend on nor disturb the shared servers of scripts/services.sh. It runs
as moto.sh runs the shared one: unknown instance types are refused (as on AWS), and it knows
stand-in records of Canonical's Ubuntu 22.04/24.04 images (moto's own stop at 16.04), so the
portable name ``ubuntu-22.04`` resolves exactly as on AWS. State is inspected with boto3.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

import portacloud
from portacloud import InstanceState, Resources

pytestmark = pytest.mark.integration

PORT = 19310
ENDPOINT = f"http://127.0.0.1:{PORT}"
URL = f"libcloud+ec2://us-east-1?host=127.0.0.1&port={PORT}&secure=false"
STAND_IN_2204 = "ami-0ca7e0fa2204a0001"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@lc"
S = InstanceState

# moto_server's own main(), after adding the stand-in Canonical images.
_SERVE = """
import sys
from moto.ec2.models import amis
for ami_id, release, codename, volume in (
    ("ami-0ca7e0fa2204a0001", "22.04", "jammy", "hvm-ssd"),
    ("ami-0ca7e0fa2404a0001", "24.04", "noble", "hvm-ssd-gp3"),
):
    amis.AMIS.append({
        "ami_id": ami_id,
        "name": f"ubuntu/images/{volume}/ubuntu-{codename}-{release}-amd64-server-20250101",
        "description": f"Canonical, Ubuntu, {release} LTS (stand-in)",
        "owner_id": "099720109477", "public": True, "state": "available",
        "architecture": "x86_64", "virtualization_type": "hvm", "hypervisor": "xen",
        "image_type": "machine", "platform": None, "root_device_type": "ebs",
        "root_device_name": "/dev/sda1", "sriov": "simple",
        "creation_date": "2025-01-01T00:00:00.000Z",
    })
from moto.server import main
sys.exit(main(sys.argv[1:]))
"""


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _port_free() -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", PORT)) != 0


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's moto server: started here, stopped here by its PID."""
    try:
        import moto.server  # noqa: F401 - only checks that moto[server] is installed
    except ImportError:
        _missing("moto[server] is not installed (the workspace's servers dependency group)")
    if not _port_free():
        pytest.fail(f"127.0.0.1:{PORT} is taken: this module starts its own moto there")
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "true"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", _SERVE, "-H", "127.0.0.1", "-p", str(PORT)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{ENDPOINT}/moto-api/", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield ENDPOINT
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def compute(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[portacloud.Compute]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with portacloud.open_compute(URL) as handle:
        yield handle


@pytest.fixture
def ec2(moto_server: str) -> Iterator[Any]:
    """A plain boto3 EC2 client, to inspect what the driver did."""
    import boto3

    client = boto3.client(
        "ec2",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    yield client
    client.close()


def _described(ec2: Any, instance_id: str) -> dict[str, Any]:
    (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    (instance,) = reservation["Instances"]
    assert isinstance(instance, dict)
    return instance


def test_capabilities_and_portable_image(compute: portacloud.Compute) -> None:
    caps = compute.capabilities
    assert compute.provider == "libcloud+ec2"
    assert (caps.stop, caps.spot, caps.gpus, caps.tags, caps.ssh_keys) == (True,) * 5
    assert caps.catalog == "aws"
    assert compute.region == "us-east-1"
    instance = compute.create({"name": "img", "instance_type": "t3.micro"})
    assert instance.image == STAND_IN_2204  # ubuntu-22.04, Canonical's owner id, newest
    compute.terminate(instance.id)


def test_lifecycle_states_and_billing(compute: portacloud.Compute, ec2: Any) -> None:
    created = compute.create({"name": "life", "instance_type": "t3.micro", "image": STAND_IN_2204})
    assert created.state in (S.PENDING, S.RUNNING)
    running = compute.wait(created.id, S.RUNNING, timeout=30)
    assert running.billing is True
    assert running.instance_type == "t3.micro"
    assert running.created_at is not None
    stopped = compute.stop(created.id)
    assert stopped.state in (S.STOPPING, S.STOPPED)
    stopped = compute.wait(created.id, S.STOPPED, timeout=30)
    assert stopped.billing is False
    assert _described(ec2, created.id)["State"]["Name"] == "stopped"
    assert compute.start(created.id).state in (S.PENDING, S.RUNNING)
    first = compute.terminate(created.id)
    assert first.state in (S.TERMINATING, S.TERMINATED)
    assert first.billing is False
    assert compute.terminate(created.id).state is S.TERMINATED
    assert _described(ec2, created.id)["State"]["Name"] == "terminated"
    # moto would start a terminated instance; AWS refuses, and so does the driver.
    with pytest.raises(portacloud.FailedPreconditionError):
        compute.start(created.id)


def test_tags_reach_ec2_and_filter_lists(compute: portacloud.Compute, ec2: Any) -> None:
    first = compute.create(
        {"name": "t1", "instance_type": "t3.micro", "image": STAND_IN_2204, "tags": {"b": "1"}}
    )
    second = compute.create(
        {"name": "t2", "instance_type": "t3.micro", "image": STAND_IN_2204, "tags": {"b": "2"}}
    )
    try:
        tags = {t["Key"]: t["Value"] for t in _described(ec2, first.id)["Tags"]}
        assert tags["b"] == "1"
        assert tags["Name"] == "t1"
        assert tags["portacloud:managed"] == "true"
        assert [i.id for i in compute.list(tags={"b": "2"})] == [second.id]
        managed = {i.id for i in compute.list(managed=True)}
        assert {first.id, second.id} <= managed
        assert compute.get(first.id).tags == first.tags
    finally:
        for instance in (first, second):
            compute.terminate(instance.id)


def test_gpu_types_come_from_the_catalog(compute: portacloud.Compute, ec2: Any) -> None:
    created = compute.create(
        {"name": "gpu", "resources": Resources(gpus="T4:1"), "image": STAND_IN_2204}
    )
    try:
        # EC2 sizes carry their GPUs: the catalog's cheapest T4 type is the request.
        assert created.instance_type == "g4dn.xlarge"
        assert _described(ec2, created.id)["InstanceType"] == "g4dn.xlarge"
        info = ec2.describe_instance_types(InstanceTypes=["g4dn.xlarge"])["InstanceTypes"][0]
        assert info["GpuInfo"]["Gpus"][0]["Name"] == "T4"
    finally:
        compute.terminate(created.id)


def test_spot_and_ssh_key(compute: portacloud.Compute, ec2: Any) -> None:
    spot = compute.create(
        {"name": "spot", "instance_type": "t3.micro", "image": STAND_IN_2204, "spot": True}
    )
    keyed = [
        compute.create(
            {
                "name": f"key{i}",
                "instance_type": "t3.micro",
                "image": STAND_IN_2204,
                "ssh_public_key": KEY,
            }
        )
        for i in range(2)  # the same key twice: imported once, reused
    ]
    try:
        assert compute.get(spot.id).spot is True
        assert _described(ec2, spot.id)["InstanceLifecycle"] == "spot"
        names = {_described(ec2, k.id)["KeyName"] for k in keyed}
        (name,) = names
        assert name.startswith("portacloud-")
        assert [p["KeyName"] for p in ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"]] == [name]
    finally:
        for instance in (spot, *keyed):
            compute.terminate(instance.id)


def test_errors(compute: portacloud.Compute, monkeypatch: pytest.MonkeyPatch) -> None:
    for unknown in ("i-0000000000000000f", "no-such-instance"):
        with pytest.raises(portacloud.NotFoundError) as caught:
            compute.get(unknown)
        assert caught.value.resource == unknown
        assert caught.value.provider == "libcloud+ec2"
        with pytest.raises(portacloud.NotFoundError):
            compute.terminate(unknown)
    with pytest.raises(portacloud.InvalidArgumentError):
        compute.create({"name": "bad", "instance_type": "x9.nonsense", "image": STAND_IN_2204})
    with pytest.raises(portacloud.InvalidArgumentError):
        portacloud.open_compute(URL.replace("us-east-1", "mars-north-9"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(portacloud.UnauthenticatedError, match="AWS_ACCESS_KEY_ID"):
        portacloud.open_compute(URL)
