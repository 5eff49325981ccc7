"""``portacloud gc s3://...`` against real S3 servers: stale multipart uploads are aborted.

A writer killed mid-upload leaves its multipart upload open (and billed); the upload here is
started with boto3 directly, behind portacloud's back, as the killed writer would have left it.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from s3_support import fresh_bucket, isolate_aws_env, multipart_uploads, raw_client, s3_endpoint

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("server", ["seaweedfs", "moto"])
def test_gc_aborts_stale_multipart_uploads_and_keeps_young_ones(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = s3_endpoint(server)
    isolate_aws_env(monkeypatch)
    client = raw_client(endpoint)
    with fresh_bucket(endpoint) as bucket:
        client.put_object(Bucket=bucket, Key="kept.bin", Body=b"an object gc must not touch")
        stale = client.create_multipart_upload(Bucket=bucket, Key="killed/big.bin")
        client.upload_part(
            Bucket=bucket,
            Key="killed/big.bin",
            UploadId=stale["UploadId"],
            PartNumber=1,
            Body=b"x" * 1024,
        )
        url = f"s3://{bucket}?endpoint_url={endpoint}"
        if server != "moto":
            # moto reports every upload as initiated at 2010-11-10T20:48:33Z, so on moto no
            # upload is young and this half cannot be checked there.
            young = _gc(url, "1h")
            assert young.returncode == 0, young.stderr
            uploads = [u["UploadId"] for u in multipart_uploads(client, bucket)]
            assert uploads == [stale["UploadId"]]
        time.sleep(2)  # servers report Initiated to the second
        done = _gc(url, "1s")
        assert done.returncode == 0, done.stderr
        assert "killed/big.bin" in done.stdout
        assert multipart_uploads(client, bucket) == []
        assert client.get_object(Bucket=bucket, Key="kept.bin")["Body"].read() == (
            b"an object gc must not touch"
        )
    client.close()


def _gc(url: str, age: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portacloud.cli", "gc", url, "--older-than", age],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
