"""An S3 endpoint nothing listens on: one UNAVAILABLE error per call, on both engines.

No server is needed: every request goes to the discard port on loopback.
"""

from __future__ import annotations

import random

import pytest
from s3_support import isolate_aws_env

import portacloud
from portacloud.retry import RetryPolicy

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
ONE_TRY = RetryPolicy(attempts=1)
DEAD = "http://127.0.0.1:9"  # discard port: nothing listens


@pytest.mark.parametrize("engine", ["sdk", "obstore"])
def test_unreachable_server_is_unavailable_and_no_botocore_error_escapes(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import BotoCoreError

    isolate_aws_env(monkeypatch)
    payload = random.Random(6).randbytes(6 * MiB)
    with pytest.raises(portacloud.UnavailableError):
        portacloud.open_bucket("s3://pc-unreachable", endpoint_url=DEAD, engine=engine)
    with portacloud.open_bucket(
        "s3://pc-unreachable", endpoint_url=DEAD, vendor="seaweedfs", retry=ONE_TRY, engine=engine
    ) as b:
        calls = [
            lambda: b.put("k", b"x"),
            lambda: b.put("k", (payload[i : i + MiB] for i in range(0, len(payload), MiB))),
            lambda: b.get("k"),
            lambda: b.head("k"),
            lambda: b.delete("k"),
            lambda: b.delete_many(["a", "b"]),
            lambda: list(b.list()),
            lambda: b.copy("a", "b"),
        ]
        for call in calls:
            # A botocore exception escaping would propagate through pytest.raises and fail.
            with pytest.raises(portacloud.UnavailableError) as caught:
                call()
            # The last (here the only) try's error is final: a caller must not multiply tries.
            assert caught.value.retryable is False
            assert "retries are off (1 try)" in str(caught.value)
            # The engine's own exception (botocore's, or obstore's) is the cause.
            assert caught.value.__cause__ is not None
            if engine == "sdk":
                assert caught.value.as_native(BotoCoreError) is not None
