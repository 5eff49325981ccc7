"""An EC2 endpoint that repeats its page cursor fails the listing instead of paging for ever."""

from __future__ import annotations

from typing import Any

import pytest

import portacloud
from portacloud.retry import RetryPolicy
from portacloud_aws.compute import EC2Driver


class _Looping:
    """describe_instances that always answers the same page and the same NextToken."""

    def __init__(self) -> None:
        self.calls = 0

    def describe_instances(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        return {
            "Reservations": [{"Instances": [{"InstanceId": "i-1", "State": {"Name": "running"}}]}],
            "NextToken": "again",
        }


def test_a_repeated_cursor_ends_the_listing_with_a_clear_error() -> None:
    client = _Looping()
    driver = EC2Driver(
        client, region="us-east-1", ssm_client=lambda: None, retry=RetryPolicy(attempts=1)
    )
    with pytest.raises(portacloud.UnavailableError, match="repeated the page cursor 'again'") as e:
        list(driver._describe())
    assert client.calls == 2
    assert e.value.retryable is False
