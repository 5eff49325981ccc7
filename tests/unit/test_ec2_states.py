"""The EC2 state table (portacloud_aws.compute), its error rows and key pair names; no server."""

from __future__ import annotations

from typing import Any

import pytest
from botocore import exceptions as boto_exc

from portacloud import InstanceState
from portacloud.errors import ErrorCode, InvalidArgumentError
from portacloud_aws.compute import EC2_STATES, IMAGES, ec2_state, key_pair_name
from portacloud_aws.errors import map_ec2_error

KEY_BODY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


@pytest.mark.parametrize(
    ("native", "state", "billing"),
    [
        ("pending", InstanceState.PENDING, False),
        ("running", InstanceState.RUNNING, True),
        ("stopping", InstanceState.STOPPING, False),
        ("stopped", InstanceState.STOPPED, False),
        ("shutting-down", InstanceState.TERMINATING, False),
        ("terminated", InstanceState.TERMINATED, False),
    ],
)
def test_every_ec2_state_maps_with_aws_billing(
    native: str, state: InstanceState, billing: bool
) -> None:
    assert ec2_state(native) == (state, billing)


def test_the_table_holds_exactly_the_six_ec2_states() -> None:
    assert set(EC2_STATES) == {
        "pending",
        "running",
        "stopping",
        "stopped",
        "shutting-down",
        "terminated",
    }


def test_only_running_bills() -> None:
    assert [name for name, (_, billing) in EC2_STATES.items() if billing] == ["running"]


@pytest.mark.parametrize("native", ["hibernating", "", None, "RUNNING"])
def test_unknown_states_are_unknown_and_counted_as_billing(native: str | None) -> None:
    # A state EC2 adds later must show up in leak hunts, not hide as "free".
    assert ec2_state(native) == (InstanceState.UNKNOWN, True)


def _client_error(code: str, status: int = 400, operation: str = "RunInstances") -> Exception:
    response: Any = {
        "Error": {"Code": code, "Message": f"{code} happened"},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
    }
    error: Exception = boto_exc.ClientError(response, operation)
    return error


@pytest.mark.parametrize(
    ("code", "expected", "retryable"),
    [
        ("InvalidInstanceID.NotFound", ErrorCode.NOT_FOUND, False),
        ("InvalidInstanceID.Malformed", ErrorCode.NOT_FOUND, False),
        ("InvalidAMIID.NotFound", ErrorCode.NOT_FOUND, False),
        ("InvalidInstanceType", ErrorCode.INVALID_ARGUMENT, False),
        ("InvalidInstanceType.NotFound", ErrorCode.INVALID_ARGUMENT, False),
        ("InvalidParameterValue", ErrorCode.INVALID_ARGUMENT, False),
        ("InvalidKeyPair.Format", ErrorCode.INVALID_ARGUMENT, False),
        ("InvalidKeyPair.Duplicate", ErrorCode.ALREADY_EXISTS, False),
        ("IncorrectInstanceState", ErrorCode.FAILED_PRECONDITION, False),
        ("OperationNotPermitted", ErrorCode.FAILED_PRECONDITION, False),
        ("InsufficientInstanceCapacity", ErrorCode.RESOURCE_EXHAUSTED, True),
        ("InstanceLimitExceeded", ErrorCode.RESOURCE_EXHAUSTED, False),
        ("VcpuLimitExceeded", ErrorCode.RESOURCE_EXHAUSTED, False),
        ("RequestLimitExceeded", ErrorCode.RESOURCE_EXHAUSTED, True),
        ("UnauthorizedOperation", ErrorCode.PERMISSION_DENIED, False),
        ("AuthFailure", ErrorCode.UNAUTHENTICATED, False),
        ("UnsupportedOperation", ErrorCode.UNSUPPORTED, False),
        ("Unavailable", ErrorCode.UNAVAILABLE, True),
        ("InternalError", ErrorCode.UNAVAILABLE, True),
        ("ParameterNotFound", ErrorCode.NOT_FOUND, False),
    ],
)
def test_ec2_error_rows(code: str, expected: ErrorCode, retryable: bool) -> None:
    native = _client_error(code)
    mapped = map_ec2_error(native)
    assert mapped is not None
    assert mapped.code is expected
    assert mapped.retryable is retryable
    assert mapped.message.startswith(f"{code} (HTTP 400) from EC2 RunInstances")


def test_an_unknown_ec2_code_falls_back_to_the_http_status() -> None:
    mapped = map_ec2_error(_client_error("SomethingNew", 400))
    assert mapped is not None
    assert mapped.code is ErrorCode.INVALID_ARGUMENT
    mapped = map_ec2_error(_client_error("SomethingNew", 503))
    assert mapped is not None
    assert mapped.retryable is True


def test_foreign_exceptions_are_not_ec2s_to_map() -> None:
    assert map_ec2_error(ValueError("no")) is None


def test_key_pair_names_depend_on_the_key_only() -> None:
    with_comment = key_pair_name(f"ssh-ed25519 {KEY_BODY} alice@laptop")
    assert with_comment == key_pair_name(f"ssh-ed25519 {KEY_BODY}")
    assert with_comment == key_pair_name(f"  ssh-ed25519 {KEY_BODY} bob@desk\n")
    assert with_comment.startswith("portacloud-")
    other = KEY_BODY[:-4] + "AAAA"
    assert key_pair_name(f"ssh-ed25519 {other}") != with_comment


@pytest.mark.parametrize(
    "key", ["", "not a key", f"ssh-ed25519 {KEY_BODY[:-1]}!", "-----BEGIN RSA PRIVATE KEY-----"]
)
def test_what_is_not_an_openssh_public_key_is_invalid(key: str) -> None:
    with pytest.raises(InvalidArgumentError):
        key_pair_name(key)


def test_every_portable_image_has_a_publisher_and_a_pattern() -> None:
    assert {"ubuntu-22.04", "ubuntu-24.04", "amazon-linux-2023", "ubuntu-22.04-arm64"} <= set(
        IMAGES
    )
    for name, image in IMAGES.items():
        assert image.ssm_parameter.startswith("/aws/service/")
        assert image.owner.isdigit()
        assert image.architecture == ("arm64" if name.endswith("-arm64") else "x86_64")
        assert ("arm64" in image.name_pattern) == name.endswith("-arm64")
