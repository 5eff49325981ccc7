"""Hypothesis: arbitrary input never escapes as anything but a portacloud error.

Keys, metadata, ranges, URLs, job specs and resource requests are generated freely; every
public call either succeeds or raises a PortaCloudError, and the file backend never creates,
reads or follows anything outside its root.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portacloud

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

keys = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from(list("./\\\x00a%?#+ ")), max_size=20),
    st.builds(lambda a, b: f"{a}/../{b}", st.text(max_size=8), st.text(max_size=8)),
    st.binary(max_size=10),
    st.integers(),
    st.none(),
)
metadata = st.one_of(
    st.dictionaries(st.text(max_size=12), st.text(max_size=20), max_size=4),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.lists(st.text(max_size=3), max_size=2),
    st.none(),
)
ranges = st.one_of(
    st.none(),
    st.tuples(
        st.one_of(st.integers(-50, 50), st.none()), st.one_of(st.integers(-50, 50), st.none())
    ),
    st.tuples(st.floats(allow_nan=True), st.integers()),
    st.lists(st.integers(), max_size=3),
    st.text(max_size=4),
)


def _snapshot(directory: Path) -> set[str]:
    return {str(p) for p in directory.rglob("*")}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, portacloud.Bucket]:
    outer = tmp_path_factory.mktemp("fuzz")
    (outer / "outside").write_bytes(b"secret")
    root = outer / "root"
    bucket = portacloud.open_bucket(root.as_uri())
    return outer, bucket


@FUZZ
@given(key=keys, meta=metadata, rng=ranges, data=st.binary(max_size=64))
def test_bucket_calls_raise_only_portacloud_errors(
    sandbox: tuple[Path, portacloud.Bucket], key: Any, meta: Any, rng: Any, data: bytes
) -> None:
    outer, bucket = sandbox
    before = {p for p in _snapshot(outer) if "/root/" not in p and not p.endswith("/root")}
    for call in (
        lambda: bucket.put(key, data, metadata=meta),
        lambda: bucket.get(key, range=rng),
        lambda: bucket.head(key),
        lambda: bucket.exists(key),
        lambda: list(bucket.list(key if isinstance(key, str) else "")),
        lambda: bucket.copy(key, "copy-target"),
        lambda: bucket.delete(key),
    ):
        with contextlib.suppress(portacloud.PortaCloudError):
            call()
    after = {p for p in _snapshot(outer) if "/root/" not in p and not p.endswith("/root")}
    assert after == before, "the file backend touched something outside its root"
    assert (outer / "outside").read_bytes() == b"secret"


@FUZZ
@given(key=st.text(min_size=1, max_size=60))
def test_accepted_keys_stay_inside_the_root(
    sandbox: tuple[Path, portacloud.Bucket], key: str
) -> None:
    _, bucket = sandbox
    try:
        bucket.put(key, b"x")
    except portacloud.PortaCloudError:
        return
    root = Path(bucket.as_native(Path) or "")
    target = os.path.realpath(root / key)
    assert target.startswith(str(root) + os.sep)
    assert bucket.get(key) == b"x"
    bucket.delete(key)


urls = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda scheme, rest: f"{scheme}://{rest}",
        st.sampled_from(
            ["memory", "file", "s3", "gs", "az", "local", "nope", "libcloud+x", "", "A B"]
        ),
        st.text(max_size=30),
    ),
    st.integers(),
    st.none(),
)


@FUZZ
@given(url=urls)
def test_open_bucket_raises_only_portacloud_errors(url: Any, tmp_path: Path) -> None:
    if isinstance(url, str) and url.startswith("file://"):
        url = "file://" + str(tmp_path) + "/" + url[len("file://") :].replace("..", "")
    with contextlib.suppress(portacloud.PortaCloudError):
        portacloud.open_bucket(url).close()


json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
spec_fields = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=70), json_values),
        "command": st.one_of(
            st.text(max_size=20), st.lists(st.text(max_size=5), max_size=3), json_values
        ),
        "resources": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "cpus": st.one_of(
                        st.floats(allow_nan=True), st.integers(-2, 5000), json_values
                    ),
                    "memory_gb": st.one_of(st.floats(), st.integers(-2, 10**6)),
                    "gpus": st.one_of(
                        st.integers(-2, 100), st.text(max_size=10), st.booleans(), json_values
                    ),
                },
            ),
            json_values,
        ),
        "env": st.one_of(
            st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3), json_values
        ),
        "timeout": st.one_of(st.floats(allow_nan=True), st.integers(-5, 10), json_values),
        "retries": st.one_of(st.integers(-3, 20), json_values),
        "array": st.one_of(st.integers(-3, 20000), json_values),
        "image": st.one_of(st.text(max_size=10), json_values),
        "bogus": json_values,
    },
)


@FUZZ
@given(spec=spec_fields)
def test_job_specs_raise_only_portacloud_errors(spec: dict[str, Any]) -> None:
    from portacloud.jobs.queue import parse_spec

    try:
        parsed = parse_spec(spec)
    except portacloud.PortaCloudError:
        return
    assert parsed.name == spec["name"]


@FUZZ
@given(spec=st.one_of(spec_fields, json_values))
def test_instance_specs_raise_only_portacloud_errors(spec: Any) -> None:
    from portacloud.compute.compute import parse_instance_spec

    with contextlib.suppress(portacloud.PortaCloudError):
        parse_instance_spec(spec)
