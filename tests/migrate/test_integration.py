"""Migrations between real servers: SeaweedFS (S3), fake-gcs-server (GCS) and Azurite (Azure).

The servers come from scripts/services.sh, which writes their addresses to .lab/*.env. A test
whose server is missing skips with the reason, and fails when CI=true. Buckets are created and
inspected with the vendor SDKs directly, so the code under test does not describe itself.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from migrate_helpers import RUNNER, events, run_cli
from migrate_helpers import check_objects as _check
from migrate_helpers import load_objects as _load
from server_buckets import AZURITE, BACKENDS
from server_buckets import azure_container as _azure_container
from server_buckets import s3_bucket as _s3_bucket

import portacloud
from portacloud.checksums import crc32c_hex
from portacloud.migrate import migrate, verify

pytestmark = pytest.mark.integration

MiB = 1024 * 1024


def _payloads(seed: int, count: int, large: int) -> dict[str, tuple[bytes, dict[str, str]]]:
    rng = random.Random(seed)
    objects = {
        f"small/{i:04d} spaced+key.bin": (rng.randbytes(rng.randint(1, 64 * 1024)), {"n": str(i)})
        for i in range(count)
    }
    for i in range(large):
        objects[f"large/{i}.bin"] = (rng.randbytes(20 * MiB + i), {"large": "yes"})
    return objects


@pytest.mark.parametrize(
    ("src_kind", "dst_kind"),
    [("s3", "gs"), ("s3", "az"), ("gs", "az"), ("az", "s3"), ("gs", "s3"), ("az", "gs")],
)
def test_migrate_between_providers(
    src_kind: str, dst_kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    objects = _payloads(hash((src_kind, dst_kind)) % 1000, count=40, large=2)
    with BACKENDS[src_kind](monkeypatch) as src, BACKENDS[dst_kind](monkeypatch) as dst:
        _load(src, objects)
        journal = tmp_path / "j.sqlite"
        result = migrate(src, dst, journal=journal, concurrency=8)
        assert result.ok, result.failures
        assert (result.copied, result.verified) == (42, 42)
        # Listings and reads name each version alike, so nothing looks changed under the copy.
        assert result.replanned == 0
        _check(dst, objects)
        again = migrate(src, dst, journal=journal)
        assert (again.copied, again.skipped) == (0, 42)
        assert verify(src, dst).ok


def test_same_bucket_migration_copies_in_the_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects = _payloads(5, count=10, large=1)
    with _s3_bucket(monkeypatch) as bucket:
        base, query = bucket.split("?")
        src, dst = f"{base}/v1/?{query}", f"{base}/v2/?{query}"
        _load(src, objects)
        result = migrate(src, dst)
        assert result.ok, result.failures
        assert result.plan.server_side_copy
        assert (result.copied, result.bytes_copied) == (11, 0)
        _check(dst, objects)


def test_missing_bucket_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with _s3_bucket(monkeypatch) as bucket:
        missing = bucket.replace("s3://pcmig-", "s3://pcmig-missing-", 1)
        done = run_cli("migrate", missing, (tmp_path / "dst").as_uri())
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("error: [NOT_FOUND]")
        assert "cannot list the source" in lines[0]
        done = run_cli("migrate", (tmp_path).as_uri(), missing)
        assert done.returncode == 1
        assert "cannot list the destination" in done.stderr


def test_kill_9_and_resume_across_providers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    objects = _payloads(9, count=150, large=2)
    with _s3_bucket(monkeypatch) as src, _azure_container(monkeypatch) as dst:
        _load(src, objects)
        journal = tmp_path / "j.sqlite"
        argv = [sys.executable, str(RUNNER), "migrate", src, dst, "--journal", str(journal)]
        for delay in (0.8, 1.5):
            process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(delay)
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
            process.wait()
        done = run_cli("migrate", src, dst, "--journal", str(journal))
        assert done.returncode == 0, done.stdout + done.stderr
        (summary,) = events(done.stdout, "summary")
        assert summary["verified"] == len(objects)
        _check(dst, objects)
        assert run_cli("verify", src, dst).returncode == 0


def test_verify_finds_bytes_replaced_behind_a_kept_checksum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects = _payloads(13, count=5, large=0)
    with _s3_bucket(monkeypatch) as src, _azure_container(monkeypatch) as dst:
        _load(src, objects)
        assert migrate(src, dst).ok
        from azure.storage.blob import BlobServiceClient

        key = "small/0003 spaced+key.bin"
        container = dst.removeprefix("az://")
        service = BlobServiceClient.from_connection_string(os.environ[AZURITE])
        blob = service.get_container_client(container).get_blob_client(key)
        recorded = blob.get_blob_properties().metadata
        size = len(objects[key][0])
        # Different bytes under the old checksum metadata: only reading the bytes shows it.
        blob.upload_blob(bytes(size), overwrite=True, metadata=dict(recorded))
        kept = portacloud.open_bucket(dst).head(key).crc32c
        assert kept == crc32c_hex(objects[key][0]), "the old checksum is still recorded"
        done = run_cli("verify", src, dst)
        assert done.returncode == 1
        (mismatch,) = events(done.stdout, "mismatch")
        assert mismatch["key"] == key
        assert mismatch["src_crc32c"] == crc32c_hex(objects[key][0])
        assert mismatch["dst_crc32c"] == crc32c_hex(bytes(size))


def test_azure_names_a_version_alike_in_listings_heads_reads_and_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _azure_container(monkeypatch) as url, portacloud.open_bucket(url) as bucket:
        written = bucket.put("k", b"first")
        (listed,) = [e for e in bucket.list() if isinstance(e, portacloud.ObjectInfo)]
        with bucket.open("k") as reader:
            opened = reader.raw.info.etag
        assert written.etag == listed.etag == bucket.head("k").etag == opened
        assert listed.etag[0] == listed.etag[-1] == '"', "quoted, as the ETag header is"
        # A listed etag is a condition the service honours.
        bucket.put("k", b"second", if_match=listed.etag)
        with pytest.raises(portacloud.FailedPreconditionError):
            bucket.put("k", b"third", if_match=listed.etag)
