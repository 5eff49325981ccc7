"""``Bucket.collect_garbage`` on S3 aborts multipart uploads left by killed writers.

moto runs in-process (no server): it stamps every upload as initiated in 2010, so the age
filter itself is checked against a stub client.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import portacloud

moto = pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[portacloud.Bucket]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="gc-test")
        with portacloud.open_bucket("s3://gc-test?region=us-east-1&engine=sdk") as bucket:
            yield bucket


def test_stale_multipart_uploads_are_aborted(s3: portacloud.Bucket) -> None:
    client: Any = s3.as_native(object)
    upload = client.create_multipart_upload(Bucket="gc-test", Key="big.bin")
    client.upload_part(
        Bucket="gc-test", Key="big.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"x"
    )
    s3.put("kept", b"an object is never touched")
    removed = s3.collect_garbage(older_than=timedelta(hours=1))
    assert removed == [f"big.bin (multipart upload {upload['UploadId']})"]
    assert not client.list_multipart_uploads(Bucket="gc-test").get("Uploads")
    assert s3.get("kept") == b"an object is never touched"
    assert s3.collect_garbage() == []


class _StubClient:
    """Answers list_multipart_uploads with one young and one old upload."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.uploads = [
            {"Key": "young", "UploadId": "1", "Initiated": now - timedelta(minutes=5)},
            {"Key": "old", "UploadId": "2", "Initiated": now - timedelta(hours=3)},
        ]
        self.aborted: list[str] = []

    def get_paginator(self, name: str) -> Any:
        assert name == "list_multipart_uploads"
        uploads = self.uploads

        class _Pages:
            def paginate(self, **_kwargs: object) -> list[dict[str, object]]:
                return [{"Uploads": uploads}]

        return _Pages()

    def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str) -> None:
        self.aborted.append(Key)


def test_uploads_younger_than_the_limit_are_left_alone() -> None:
    from portacloud_aws.uploads import abort_stale_uploads

    stub = _StubClient()
    removed = abort_stale_uploads(stub, "b", older_than=timedelta(hours=1), not_found=KeyError)
    assert removed == ["old (multipart upload 2)"]
    assert stub.aborted == ["old"]
