"""Region policies on moto, with buckets really created in eu-west-1 and us-east-1.

A profile ``eu`` allows ``eu-*`` only. Every write path (the API, ``cp``, ``sync``,
``migrate``, ``jobs submit`` with outputs, ``compute create``) must refuse the us-east-1
targets before writing, which boto3 checks behind portacloud's back; reads follow the
strict/non-strict rule.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from s3_support import isolate_aws_env, object_keys, raw_client, s3_endpoint

import portacloud
from portacloud.errors import PermissionDeniedError

pytestmark = pytest.mark.integration

EU_ONLY = '["eu-*", "europe-*"]'


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Two fresh buckets (eu-west-1, us-east-1), a raw client, and a portacloud.toml."""
    endpoint = s3_endpoint("moto")
    isolate_aws_env(monkeypatch)
    monkeypatch.setenv("PORTACLOUD_HOME", str(tmp_path / "home"))
    client = raw_client(endpoint)
    names = {"eu": f"pc-eu-{uuid.uuid4().hex[:12]}", "us": f"pc-us-{uuid.uuid4().hex[:12]}"}
    client.create_bucket(
        Bucket=names["eu"], CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    client.create_bucket(Bucket=names["us"])
    urls = {k: f"s3://{v}?endpoint_url={endpoint}" for k, v in names.items()}
    config = tmp_path / "portacloud.toml"
    config.write_text(
        f'[profiles.eu]\nstorage = "{urls["eu"]}"\nregions = {EU_ONLY}\n'
        f'[profiles.eu-strict]\nstorage = "{urls["eu"]}"\nregions = {EU_ONLY}\n'
        'residency = "strict"\n'
        f'[profiles.us-outputs]\nstorage = "{urls["us"]}"\njobs = "local://"\n'
        f'regions = {EU_ONLY}\nunknown_region = "allow"\n'
        f'[profiles.eu-outputs]\nstorage = "{urls["eu"]}"\njobs = "local://"\n'
        f'regions = {EU_ONLY}\nunknown_region = "allow"\n'
    )
    monkeypatch.setenv("PORTACLOUD_CONFIG", str(config))
    yield {"endpoint": endpoint, "client": client, "names": names, "urls": urls}
    for name in names.values():
        for key in object_keys(client, name):
            client.delete_object(Bucket=name, Key=key)
        client.delete_bucket(Bucket=name)
    client.close()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "portacloud.cli", *args]
    return subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=120, env=env
    )


def _refused(done: subprocess.CompletedProcess[str], region: str = "us-east-1") -> None:
    """One clear error line naming the region and the policy; never a traceback."""
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "PERMISSION_DENIED" in lines[0], lines[0]
    assert f"region {region}" in lines[0], lines[0]
    assert "profile 'eu'" in lines[0] or "profile 'us-outputs'" in lines[0], lines[0]


def test_buckets_report_the_region_they_were_created_in(moto: dict[str, Any]) -> None:
    with portacloud.open_bucket(moto["urls"]["eu"]) as eu:
        assert eu.region() == "eu-west-1"
    with portacloud.open_bucket(moto["urls"]["us"]) as us:
        assert us.region() == "us-east-1"


def test_api_writes_outside_the_policy_leave_nothing(moto: dict[str, Any]) -> None:
    client, names = moto["client"], moto["names"]
    with portacloud.open_bucket(moto["urls"]["us"], profile="eu") as us:
        with pytest.raises(PermissionDeniedError, match="region us-east-1"):
            us.put("a.txt", b"must not land")
        with pytest.raises(PermissionDeniedError):
            us.put("big.bin", iter([b"x" * (9 * 2**20)]))  # a multipart write
        with pytest.raises(PermissionDeniedError):
            us.open("opened.txt", "wb")
    assert object_keys(client, names["us"]) == []
    assert client.list_multipart_uploads(Bucket=names["us"]).get("Uploads", []) == []
    with portacloud.connect("eu") as conn:
        conn.storage.put("a.txt", b"in the eu")
    assert object_keys(client, names["eu"]) == ["a.txt"]


def test_reads_outside_are_allowed_unless_strict(moto: dict[str, Any]) -> None:
    moto["client"].put_object(Bucket=moto["names"]["us"], Key="k", Body=b"us data")
    with portacloud.open_bucket(moto["urls"]["us"], profile="eu") as loose:
        assert loose.get("k") == b"us data"
    with portacloud.open_bucket(moto["urls"]["us"], profile="eu-strict") as strict:
        with pytest.raises(PermissionDeniedError, match="reading from"):
            strict.get("k")
        strict.delete("k")
    assert object_keys(moto["client"], moto["names"]["us"]) == []


def test_cli_cp_sync_and_migrate_refuse_before_writing(
    moto: dict[str, Any], tmp_path: Path
) -> None:
    client, names, us = moto["client"], moto["names"], moto["urls"]["us"]
    source = tmp_path / "src"
    source.mkdir()
    (source / "f.txt").write_bytes(b"data")
    base = us.split("?")[0]
    query = "?" + us.split("?")[1]
    _refused(_cli("--profile", "eu", "cp", str(source / "f.txt"), f"{base}/f.txt{query}"))
    env = {**os.environ, "PORTACLOUD_PROFILE": "eu"}
    _refused(_cli("sync", str(source), f"{base}/synced/{query}", env=env))
    _refused(_cli("--profile", "eu", "migrate", source.as_uri(), f"{base}/moved/{query}"))
    assert object_keys(client, names["us"]) == []
    migrations = tmp_path / "home" / "migrations"
    assert not migrations.exists() or not any(migrations.iterdir())  # no journal either
    eu = moto["urls"]["eu"]
    eu_base, eu_query = eu.split("?")[0], "?" + eu.split("?")[1]
    done = _cli("--profile", "eu", "cp", str(source / "f.txt"), f"{eu_base}/f.txt{eu_query}")
    assert done.returncode == 0, done.stderr
    assert object_keys(client, names["eu"]) == ["f.txt"]


def test_migrate_dry_run_shows_the_destination_region(moto: dict[str, Any], tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "f.txt").write_bytes(b"data")
    done = _cli("--profile", "eu", "migrate", "--dry-run", source.as_uri(), moto["urls"]["eu"])
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    plans = [e for e in events if e["event"] == "plan"]
    assert plans
    assert plans[0]["dst_region"] == "eu-west-1"
    assert '"estimated_usd"' in done.stdout or '"cost"' in done.stdout  # beside the cost


def test_jobs_whose_outputs_are_outside_are_not_submitted(
    moto: dict[str, Any], tmp_path: Path
) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text("name: hello\ncommand: [sh, -c, 'echo hi']\n")
    done = _cli("--profile", "us-outputs", "jobs", "submit", str(spec))
    _refused(done)
    assert "outputs of job 'hello'" in done.stderr
    with portacloud.connect("us-outputs") as conn:
        assert conn.jobs.list() == []
        with pytest.raises(PermissionDeniedError):
            conn.jobs.submit({"name": "api", "command": ["true"]})
        assert conn.jobs.list() == []
    with portacloud.connect("eu-outputs") as conn:
        # The job writes where its outputs URL says: the profile's endpoint (moto), not AWS.
        write = "import os, portacloud; portacloud.open_bucket(os.environ[K]).put('out.txt', b'1')"
        command = [sys.executable, "-c", f"K = 'PORTACLOUD_OUTPUT_URI'; {write}"]
        job = conn.jobs.submit({"name": "inside", "command": command})
        assert job.wait(timeout=60).state.value == "SUCCEEDED", conn.jobs.logs(job.id)
        assert job.output_uri is not None
        assert "endpoint_url=" in job.output_uri
        assert portacloud.open_bucket(job.output_uri).get("out.txt") == b"1"


def test_offers_under_a_policy_only_show_allowed_regions(moto: dict[str, Any]) -> None:
    done = _cli("--profile", "eu", "offers", "--cpus", "2", "--json", "--limit", "0")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert rows, "the catalog has eu rows for 2 vCPUs"
    assert all(r["region"].startswith(("eu-", "europe-")) for r in rows)
    assert "only regions the policy of profile 'eu' allows" in done.stderr


def test_compute_create_outside_the_policy_starts_nothing(moto: dict[str, Any]) -> None:
    import boto3

    endpoint = moto["endpoint"]
    marker = {"test-batch": uuid.uuid4().hex}
    spec = {"name": "outside", "instance_type": "t3.micro", "tags": marker}
    with portacloud.open_compute(f"aws://us-east-1?endpoint_url={endpoint}", profile="eu") as us:
        assert us.reported_region() == "us-east-1"
        with pytest.raises(PermissionDeniedError, match="instance 'outside'"):
            us.create(spec)
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
    tagged = [{"Name": "tag:test-batch", "Values": [marker["test-batch"]]}]
    assert ec2.describe_instances(Filters=tagged)["Reservations"] == []
    ec2.close()
