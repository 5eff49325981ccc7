"""aws:// (EC2) against moto server (scripts/servers/moto.sh).

The server must run as moto.sh starts it: with ``MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true``
(unknown instance types are refused, as on AWS) and with its stand-in Canonical 22.04/24.04
images. State is arranged and inspected with boto3 directly, behind the driver's back.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from s3_support import CallSpy, client_error, isolate_aws_env

import portacloud
from portacloud import (
    Compute,
    FailedPreconditionError,
    InstanceState,
    InvalidArgumentError,
    NotFoundError,
    PortaCloudError,
    Resources,
    UnauthenticatedError,
)
from portacloud.errors import ErrorCode
from portacloud.retry import RetryPolicy
from portacloud_aws.compute import EC2Driver, key_pair_name, provider

pytestmark = pytest.mark.integration

CANONICAL = "099720109477"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@ec2"
ENDPOINT_VARIABLE = "PORTACLOUD_TEST_MOTO_ENDPOINT"


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def endpoint() -> str:
    value = os.environ.get(ENDPOINT_VARIABLE)
    if not value:
        _missing(f"moto not running: scripts/services.sh start ({ENDPOINT_VARIABLE} is unset)")
    assert value is not None
    return value


def raw_ec2(endpoint: str) -> Any:
    """A plain boto3 EC2 client with retries off, to arrange and inspect state."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ec2",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def moto_as_started_by_moto_sh(endpoint: str) -> None:
    """Skip (fail in CI) against a moto that lacks what moto.sh gives it."""
    client = raw_ec2(endpoint)
    try:
        client.describe_regions()
    except BotoCoreError as exc:
        client.close()
        _missing(f"moto at {endpoint} does not answer: {exc}")
    try:
        jammy = client.describe_images(
            Owners=[CANONICAL],
            Filters=[{"Name": "name", "Values": ["ubuntu/images/*/ubuntu-jammy-22.04-amd64-*"]}],
        )["Images"]
        try:
            probe = client.run_instances(
                ImageId="ami-785db401", InstanceType="x9.nosuch", MinCount=1, MaxCount=1
            )
        except ClientError:
            validated = True
        else:
            validated = False
            client.terminate_instances(InstanceIds=[probe["Instances"][0]["InstanceId"]])
    finally:
        client.close()
    if not validated or not jammy:
        _missing(
            "moto runs without MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true or the stand-in "
            "Ubuntu images: restart it with scripts/servers/moto.sh"
        )


@pytest.fixture
def raw(endpoint: str) -> Iterator[Any]:
    client = raw_ec2(endpoint)
    yield client
    client.close()


@pytest.fixture
def url(endpoint: str, monkeypatch: pytest.MonkeyPatch, moto_as_started_by_moto_sh: None) -> str:
    isolate_aws_env(monkeypatch)
    return f"aws://us-east-1?endpoint_url={endpoint}"


@pytest.fixture
def compute(url: str) -> Iterator[Compute]:
    with portacloud.open_compute(url) as handle:
        yield handle


@pytest.fixture
def batch_tag() -> dict[str, str]:
    """A tag no other test (or earlier run against the same server) has used."""
    return {"test-batch": uuid.uuid4().hex}


@pytest.fixture
def cleanup(raw: Any) -> Iterator[list[str]]:
    """Ids to terminate (through boto3, whatever the driver did) after the test."""
    ids: list[str] = []
    yield ids
    if ids:
        raw.terminate_instances(InstanceIds=ids)


def raw_instance(raw: Any, instance_id: str) -> dict[str, Any]:
    reservations = raw.describe_instances(InstanceIds=[instance_id])["Reservations"]
    found: dict[str, Any] = reservations[0]["Instances"][0]
    return found


def newest_image(raw: Any, owner: str, pattern: str) -> str:
    images = raw.describe_images(Owners=[owner], Filters=[{"Name": "name", "Values": [pattern]}])[
        "Images"
    ]
    newest = max(images, key=lambda i: (i.get("CreationDate", ""), i["Name"]))
    return str(newest["ImageId"])


# ------------------------------------------------------------------------------ lifecycle


def test_lifecycle_create_stop_start_terminate(
    compute: Compute, raw: Any, cleanup: list[str], batch_tag: dict[str, str]
) -> None:
    created = compute.create({"name": "life", "instance_type": "t3.micro", "tags": batch_tag})
    cleanup.append(created.id)
    assert created.state in (InstanceState.PENDING, InstanceState.RUNNING)
    assert created.provider == "aws"
    assert created.region == "us-east-1a"
    assert created.created_at is not None
    assert created.created_at.utcoffset() is not None
    assert created.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]

    native = raw_instance(raw, created.id)
    assert native["InstanceType"] == "t3.micro"
    assert native["ImageId"] == newest_image(
        raw, CANONICAL, "ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-amd64-server-*"
    )
    assert native.get("InstanceLifecycle") != "spot"
    tags = {t["Key"]: t["Value"] for t in native["Tags"]}
    assert tags["Name"] == "life"
    assert tags["portacloud:managed"] == "true"
    assert set(tags) >= {"portacloud:creator", "portacloud:created-at", "test-batch"}

    running = compute.wait(created.id, InstanceState.RUNNING, timeout=30)
    assert running.billing is True
    assert running.private_ip == native["PrivateIpAddress"]

    compute.stop(created.id)
    stopped = compute.wait(created.id, InstanceState.STOPPED, timeout=30)
    assert stopped.billing is False
    assert raw_instance(raw, created.id)["State"]["Name"] == "stopped"

    compute.start(created.id)
    assert compute.wait(created.id, InstanceState.RUNNING, timeout=30).billing is True

    first = compute.terminate(created.id)
    assert first.state in (InstanceState.TERMINATING, InstanceState.TERMINATED)
    assert compute.wait(created.id, InstanceState.TERMINATED, timeout=30).billing is False
    assert compute.terminate(created.id).state is InstanceState.TERMINATED
    assert raw_instance(raw, created.id)["State"]["Name"] == "terminated"


def test_start_and_stop_of_a_terminated_instance_fail_precondition(
    compute: Compute, raw: Any, cleanup: list[str]
) -> None:
    created = compute.create({"name": "gone", "instance_type": "t3.micro"})
    cleanup.append(created.id)
    compute.terminate(created.id)
    compute.wait(created.id, InstanceState.TERMINATED, timeout=30)
    for operation in (compute.start, compute.stop):
        with pytest.raises(FailedPreconditionError):
            operation(created.id)
    # moto would have let it through; the refusal happened before any state change
    assert raw_instance(raw, created.id)["State"]["Name"] == "terminated"


def test_unknown_instance_type_is_invalid_argument(
    compute: Compute, raw: Any, batch_tag: dict[str, str]
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        compute.create({"name": "bad-type", "instance_type": "x9.nosuch", "tags": batch_tag})
    error = caught.value
    assert error.code is ErrorCode.INVALID_ARGUMENT
    assert error.provider == "aws"
    assert error.operation == "create"
    assert "x9.nosuch" in str(error)
    assert isinstance(error.as_native(ClientError), ClientError)
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in batch_tag.items()]
    assert raw.describe_instances(Filters=filters)["Reservations"] == []


def test_spot_and_ssh_key(compute: Compute, raw: Any, cleanup: list[str]) -> None:
    first = compute.create(
        {"name": "spot", "instance_type": "t3.micro", "spot": True, "ssh_public_key": KEY}
    )
    cleanup.append(first.id)
    second = compute.create({"name": "keyed", "instance_type": "t3.micro", "ssh_public_key": KEY})
    cleanup.append(second.id)
    assert first.spot is True
    assert second.spot is False
    assert raw_instance(raw, first.id)["InstanceLifecycle"] == "spot"
    name = key_pair_name(KEY)
    assert raw_instance(raw, first.id)["KeyName"] == name
    assert raw_instance(raw, second.id)["KeyName"] == name
    assert [k["KeyName"] for k in raw.describe_key_pairs(KeyNames=[name])["KeyPairs"]] == [name]


# ------------------------------------------------------------------------------ tags and lists


def test_tags_and_filters(
    compute: Compute, raw: Any, cleanup: list[str], batch_tag: dict[str, str]
) -> None:
    a = compute.create({"name": "a", "instance_type": "t3.micro", "tags": {**batch_tag, "i": "0"}})
    b = compute.create({"name": "b", "instance_type": "t3.micro", "tags": {**batch_tag, "i": "1"}})
    cleanup.extend([a.id, b.id])
    # made behind portacloud's back: same batch tag, no managed tags
    foreign = raw.run_instances(
        ImageId="ami-785db401",
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": k, "Value": v} for k, v in batch_tag.items()],
            }
        ],
    )["Instances"][0]["InstanceId"]
    cleanup.append(foreign)

    assert {i.id for i in compute.list(tags=batch_tag)} == {a.id, b.id, foreign}
    assert {i.id for i in compute.list(tags=batch_tag, managed=True)} == {a.id, b.id}
    assert [i.id for i in compute.list(tags={**batch_tag, "i": "1"})] == [b.id]
    assert compute.list(tags={"test-batch": uuid.uuid4().hex}) == []
    listed = {i.id: i for i in compute.list(tags=batch_tag)}
    assert listed[a.id].name == "a"
    assert listed[a.id].tags["i"] == "0"
    assert listed[a.id].managed is True
    assert listed[foreign].managed is False
    assert listed[foreign].name is None


def test_wildcards_in_tag_values_are_literal(
    compute: Compute, cleanup: list[str], batch_tag: dict[str, str]
) -> None:
    star = compute.create(
        {"name": "star", "instance_type": "t3.micro", "tags": {**batch_tag, "p": "a*"}}
    )
    plain = compute.create(
        {"name": "plain", "instance_type": "t3.micro", "tags": {**batch_tag, "p": "abc"}}
    )
    cleanup.extend([star.id, plain.id])
    assert [i.id for i in compute.list(tags={**batch_tag, "p": "a*"})] == [star.id]
    assert [i.id for i in compute.list(tags={**batch_tag, "p": "a?c"})] == []


# ------------------------------------------------------------------------------ GPU types


def test_gpu_types_from_describe_instance_types(
    compute: Compute, raw: Any, cleanup: list[str]
) -> None:
    info = raw.describe_instance_types(InstanceTypes=["g5.xlarge"])["InstanceTypes"][0]
    gpus = info["GpuInfo"]["Gpus"]
    assert [(g["Manufacturer"], g["Name"], g["Count"]) for g in gpus] == [("NVIDIA", "A10G", 1)]
    created = compute.create({"name": "gpu", "instance_type": "g5.xlarge"})
    cleanup.append(created.id)
    assert compute.get(created.id).instance_type == "g5.xlarge"


def test_catalog_gpu_types_exist_on_ec2_with_those_gpus(
    compute: Compute, raw: Any, cleanup: list[str]
) -> None:
    pytest.importorskip("portacloud.compute.catalog", reason="the GPU catalog has not landed")
    offers = compute.offers(Resources(gpus="A10G:1"))
    assert offers
    described = {
        t["InstanceType"]: t
        for t in raw.describe_instance_types(
            InstanceTypes=sorted({o.instance_type for o in offers})
        )["InstanceTypes"]
    }
    for offer in offers:
        gpu = described[offer.instance_type]["GpuInfo"]["Gpus"][0]
        assert (gpu["Name"], gpu["Count"]) == ("A10G", offer.gpu_count)
    created = compute.create({"name": "by-resources", "resources": {"gpus": "A10G:1"}})
    cleanup.append(created.id)
    assert created.instance_type == offers[0].instance_type


# ------------------------------------------------------------------------------ images


def test_portable_images_resolve_through_describe_images(compute: Compute, raw: Any) -> None:
    driver = EC2Driver(
        raw, region="us-east-1", ssm_client=lambda: _ssm(raw), retry=RetryPolicy(attempts=1)
    )
    assert driver.resolve_image("ubuntu-22.04") == newest_image(
        raw, CANONICAL, "ubuntu/images/hvm-ssd*/ubuntu-jammy-22.04-amd64-server-*"
    )
    assert driver.resolve_image("ubuntu-16.04") == newest_image(
        raw, CANONICAL, "ubuntu/images/hvm-ssd*/ubuntu-xenial-16.04-amd64-server-*"
    )
    assert driver.resolve_image("ami-0123456789abcdef0") == "ami-0123456789abcdef0"
    with pytest.raises(NotFoundError):
        driver.resolve_image("ubuntu-22.04-arm64")  # moto has no arm64 jammy
    with pytest.raises(InvalidArgumentError, match=r"ubuntu-22\.04"):
        driver.resolve_image("windows-95")


def test_amazon_linux_resolves_through_the_public_ssm_parameter(
    compute: Compute, endpoint: str
) -> None:
    import boto3

    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1")
    expected = ssm.get_parameter(
        Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    )["Parameter"]["Value"]
    ssm.close()
    created = compute.create(
        {"name": "al2023", "instance_type": "t3.micro", "image": "amazon-linux-2023"}
    )
    compute.terminate(created.id)
    assert created.image == expected


def _ssm(raw: Any) -> Any:
    import boto3

    return boto3.client(
        "ssm",
        endpoint_url=raw.meta.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


# ------------------------------------------------------------------------------ errors, retries


def test_no_botocore_exception_escapes(
    compute: Compute, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = [
        (lambda: compute.get("i-0123456789abcdef0"), ErrorCode.NOT_FOUND),
        (lambda: compute.get("not-an-id"), ErrorCode.NOT_FOUND),
        (lambda: compute.stop("i-0123456789abcdef0"), ErrorCode.NOT_FOUND),
        (lambda: compute.start("i-0123456789abcdef0"), ErrorCode.NOT_FOUND),
        (lambda: compute.terminate("i-0123456789abcdef0"), ErrorCode.NOT_FOUND),
        (
            lambda: compute.create(
                {"name": "k", "instance_type": "t3.micro", "ssh_public_key": "x"}
            ),
            ErrorCode.INVALID_ARGUMENT,
        ),
        (
            lambda: compute.create({"name": "i", "instance_type": "t3.micro", "image": "ami-xyz"}),
            ErrorCode.INVALID_ARGUMENT,
        ),
        (lambda: portacloud.open_compute("aws://moon-1"), ErrorCode.INVALID_ARGUMENT),
        (lambda: portacloud.open_compute(url + "&colour=blue"), ErrorCode.INVALID_ARGUMENT),
        (
            lambda: portacloud.open_compute("aws://us-east-1?endpoint_url=ftp://x"),
            ErrorCode.INVALID_ARGUMENT,
        ),
    ]
    for call, code in failing:
        with pytest.raises(PortaCloudError) as caught:
            call()
        assert caught.value.code is code, caught.value
        assert not isinstance(caught.value, BotoCoreError | ClientError)

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with portacloud.open_compute(url) as anonymous, pytest.raises(UnauthenticatedError):
        anonymous.list()


def test_an_unreachable_endpoint_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_env(monkeypatch)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket closes
    policy = RetryPolicy(attempts=2, initial_delay=0)
    driver = provider.open_compute(
        urlsplit("aws://us-east-1"), {"endpoint_url": f"http://127.0.0.1:{port}"}, retry=policy
    )
    handle = Compute(driver, url="aws://us-east-1", retry=policy)
    with handle, pytest.raises(PortaCloudError) as caught:
        handle.list()
    assert caught.value.code is ErrorCode.UNAVAILABLE
    # One owner: the handle retries the list, the driver's own retry inside it runs once, and
    # the error after the last try is final.
    assert caught.value.retryable is False
    assert "gave up after 2 tries" in str(caught.value)


def test_the_driver_retries_throttling_once_per_request(
    url: str, endpoint: str, cleanup: list[str]
) -> None:
    driver = provider.open_compute(urlsplit("aws://us-east-1"), {"endpoint_url": endpoint})
    handle = Compute(driver, url=url)
    created = handle.create({"name": "throttled", "instance_type": "t3.micro"})
    cleanup.append(created.id)
    spy = CallSpy(driver.client, "describe_instances")
    spy.fail = lambda n, kw: (
        client_error("RequestLimitExceeded", 503, "DescribeInstances") if n <= 2 else None
    )
    assert handle.get(created.id).id == created.id
    assert spy.calls == 3  # two throttled tries, then the answer: botocore added none
    stops = CallSpy(driver.client, "stop_instances")
    stops.fail = lambda n, kw: client_error("IncorrectInstanceState", 400, "StopInstances")
    with pytest.raises(FailedPreconditionError):
        handle.stop(created.id)
    assert stops.calls == 1  # never retried: it cannot succeed
    handle.close()
