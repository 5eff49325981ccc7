"""Sources written behind portacloud's back, read through a proxy that damages bytes.

Objects stored with the vendor SDK directly carry no portable CRC32C, so no check at the end
of a read can catch a flipped bit. Each object's first read is damaged on the way (the proxy
flips one bit of the body); the migration must still end with every object byte-identical at
the destination, and must never count, or put in its receipt, an object whose bytes nothing
but the damaged read vouched for.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from backends import Backend, backend
from conftest import SEED, Figures
from proxy import Decision, FaultKind, FaultProxy, Scripted

from portacloud.checksums import crc32c_hex
from portacloud.migrate import migrate
from portacloud.migrate.receipt import read_receipt

pytestmark = pytest.mark.usefixtures("backend_env")

MiB = 1024 * 1024
OBJECTS = 18


def _put_without_checksums(be: Backend, container: str, objects: dict[str, bytes]) -> None:
    """Store objects the way another tool would: the vendor SDK, no portacloud metadata."""
    if be.name == "s3":
        import boto3
        from botocore.config import Config

        # No x-amz-checksum-* either (older tools send none), so nothing on the read path
        # checks the bytes.
        client = boto3.client(
            "s3",
            endpoint_url=be.upstream,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
            config=Config(
                request_checksum_calculation="when_required",
                s3={"addressing_style": "path"},
            ),
        )
        for key, data in objects.items():
            client.put_object(Bucket=container, Key=key, Body=data)
        client.close()
        return
    for key, data in objects.items():
        be.raw_put(container, key, data)


def _first_read_of(be: Backend, container: str, key: str) -> Callable[[str, str, str], bool]:
    suffix = f"/{container}/{quote(key)}"

    def matches(method: str, path: str, query: str) -> bool:
        return be.body_filter(method, path, query) and path.endswith(suffix)

    return matches


@pytest.mark.parametrize("name", ["azure", "s3"])
def test_foreign_objects_damaged_in_transit_are_never_verified(
    name: str, figures: Figures, tmp_path: Path
) -> None:
    be = backend(name)
    rng = random.Random(f"{SEED}-foreign-{name}")
    truth = {
        f"foreign/{i:03d}": rng.randbytes(rng.randrange(1024, 256 * 1024)) for i in range(OBJECTS)
    }
    truth["foreign/large"] = rng.randbytes(9 * MiB)  # streamed, not read into memory
    damaged = sorted(truth)[::3]
    dst = tmp_path / "dst"
    with be.container() as container:
        _put_without_checksums(be, container, truth)
        direct = be.open(container, be.upstream)
        assert direct.head("foreign/000").crc32c is None, "the source records no CRC32C"
        direct.close()
        rules = [
            (_first_read_of(be, container, key), Decision(FaultKind.CORRUPT)) for key in damaged
        ]
        with FaultProxy(
            be.upstream,
            dialect=be.dialect,
            schedule=Scripted(rules),
            body_filter=be.body_filter,
        ) as proxy:
            result = migrate(
                be.open(container, proxy.url, small_parts=False),
                dst.as_uri(),
                journal=tmp_path / "j.sqlite",
                concurrency=8,
            )
            corrupted = proxy.faults()[FaultKind.CORRUPT.value]
            reads = sum(1 for r in proxy.records if be.body_filter(r.method, r.path, r.query))

    assert corrupted == len(damaged), "every damaged key's first read was damaged"
    stored = {key: (dst / key).read_bytes() for key in truth if (dst / key).is_file()}
    wrong = sorted(key for key, data in stored.items() if data != truth[key])
    assert result.ok, result.failures
    assert result.verified == len(truth)
    assert not wrong, f"verified with the wrong bytes: {wrong}"
    assert stored == truth
    assert result.receipt is not None
    for line in read_receipt(Path(result.receipt)):
        assert line.crc32c == crc32c_hex(truth[line.key]), line.key
    # A damaged key is read by its copy, by verification, by its second copy and (where no
    # native checksum vouches for that one) by verification again. The other keys: once,
    # where the source's etag is the MD5 of its bytes (S3), else twice.
    once = 1 if be.name == "s3" else 2
    assert reads == once * (len(truth) - len(damaged)) + (2 + once) * len(damaged)
    figures.add(
        "foreign_sources",
        name,
        {
            "server": be.server,
            "objects": len(truth),
            "reads_damaged": corrupted,
            "object_reads": reads,
            "verified": result.verified,
            "copied": result.copied,
            "wrong_bytes_verified": len(wrong),
        },
    )
