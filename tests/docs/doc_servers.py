"""The environment a documentation block runs in: its own home, and the test servers it needs.

Blocks name resources the way a user does (``s3://ml-data``) and reach the servers of
``scripts/services.sh`` through each vendor SDK's own configuration (``AWS_ENDPOINT_URL``,
``STORAGE_EMULATOR_HOST``, ``AZURE_STORAGE_CONNECTION_STRING``), never through the URL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from doc_blocks import SERVERS, Block

#: The throw-away identity scripts/servers/seaweedfs.sh gives its server (moto takes any).
_AWS_IDENTITY = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}
_SEED = """
import sys
import portacloud

bucket = portacloud.open_bucket(sys.argv[1])
for i in range(3):
    bucket.put(f"part-{i}.csv", f"id,value\\n{i},{i * i}\\n".encode(), content_type="text/csv")
"""


def server_address(name: str) -> str:
    """Where server ``name`` listens, or fail (CI) / skip (elsewhere) when it is not running."""
    variable = SERVERS[name]
    value = os.environ.get(variable)
    if value:
        return value
    message = f"{name} not running: scripts/services.sh start ({variable} is unset)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def block_env(root: Path, needs: list[str]) -> dict[str, str]:
    """A clean environment under ``root``: no user profile, config or state can leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTACLOUD_", "AWS_"))}
    env.pop("AZURE_STORAGE_CONNECTION_STRING", None)
    env.pop("STORAGE_EMULATOR_HOST", None)
    bin_dir = str(Path(sys.executable).parent)
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",  # python, portacloud, pytest
        HOME=str(root / "user"),
        XDG_CONFIG_HOME=str(root / "user" / ".config"),
        XDG_DATA_HOME=str(root / "user" / ".local" / "share"),
        PORTACLOUD_HOME=str(root / "portacloud-home"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    for name in needs:
        address = server_address(name)
        if name in ("seaweedfs", "moto"):
            env.update(_AWS_IDENTITY, AWS_ENDPOINT_URL=address)
        elif name == "fake-gcs":
            env["STORAGE_EMULATOR_HOST"] = address
        elif name == "azurite":
            env["AZURE_STORAGE_CONNECTION_STRING"] = address
        elif name == "registry":
            env["TRAIN_IMAGE"] = address  # podman's CONTAINERS_* settings pass through
    return env


def create_buckets(block: Block, env: dict[str, str]) -> None:
    """Create the buckets a block's marker names, with a few objects under any path given."""
    for url in block.buckets:
        parts = urlsplit(url)
        if parts.scheme == "s3":
            _create_s3(parts.netloc, env)
        elif parts.scheme == "gs":
            _create_gcs(parts.netloc, env)
        elif parts.scheme == "az":
            _create_azure(parts.netloc, env)
        else:
            pytest.fail(f"{block.id}: cannot create a bucket for {url}")
        if parts.path.strip("/"):
            # a URL's path is a key prefix, not a directory: "data" + "part-0" is "datapart-0"
            folder = url.split("?", 1)[0].rstrip("/") + "/"
            subprocess.run([sys.executable, "-c", _SEED, folder], env=env, check=True, timeout=60)


def _create_s3(name: str, env: dict[str, str]) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    with suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=name)


def _create_gcs(name: str, env: dict[str, str]) -> None:
    request = urllib.request.Request(
        f"{env['STORAGE_EMULATOR_HOST'].rstrip('/')}/storage/v1/b?project=portacloud-tests",
        data=json.dumps({"name": name}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as exc:
        if exc.code != 409:  # 409: it is there already
            raise


def _create_azure(name: str, env: dict[str, str]) -> None:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(env["AZURE_STORAGE_CONNECTION_STRING"])
    with suppress(ResourceExistsError):
        service.create_container(name)


def end_sandboxes(home: Path) -> None:
    """Kill the local:// instances a failed block left running (a passing one terminates)."""
    for record in home.glob("compute/*/i-*/instance.json"):
        with suppress(OSError, ValueError, KeyError):
            data = json.loads(record.read_text())
            if data["status"] != "terminated":
                os.killpg(int(data["pid"]), signal.SIGKILL)
