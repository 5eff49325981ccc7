"""Hypothesis against the real servers: arbitrary input raises only portacloud errors.

The core half (the file backend, URLs, job specs, resources) is tests/fuzz/test_fuzz_core.py.
This half sends arbitrary keys, metadata and ranges to S3 (SeaweedFS), GCS (fake-gcs-server)
and Azure (Azurite) buckets: every call either succeeds or raises a
:class:`~portacloud.PortaCloudError` (never a vendor exception), a write that succeeded reads
back byte for byte, and a ranged read is exactly the Python slice of the bytes written. The
CLI is fuzzed too: whatever its arguments, it prints no traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from backends import BACKENDS, backend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portacloud

pytestmark = pytest.mark.usefixtures("backend_env")

FUZZ = settings(
    max_examples=int(os.environ.get("PORTACLOUD_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

keys = st.one_of(
    st.text(max_size=40),
    st.text(
        alphabet=st.sampled_from(list("./\\\x00\x7f\r\n\t a%?#+&=;:@~*'\"<>|ü€😀")), max_size=24
    ),
    st.builds(lambda a, b: f"{a}/../{b}", st.text(max_size=8), st.text(max_size=8)),
    st.text(min_size=1000, max_size=1100),
    st.binary(max_size=10),
    st.integers(),
    st.none(),
)
metadata = st.one_of(
    st.dictionaries(st.text(max_size=12), st.text(max_size=20), max_size=4),
    st.dictionaries(
        st.sampled_from(["a-b", "A_B", "x.y", "portacloud-crc32c", "Content-Type", "", " "]),
        st.text(max_size=10),
        max_size=3,
    ),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.none(),
)
ranges = st.one_of(
    st.none(),
    st.tuples(
        st.one_of(st.integers(-80, 80), st.none()), st.one_of(st.integers(-80, 80), st.none())
    ),
    st.tuples(st.floats(allow_nan=True), st.integers()),
    st.lists(st.integers(), max_size=3),
    st.text(max_size=4),
)


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_bucket(request: pytest.FixtureRequest) -> Iterator[portacloud.Bucket]:
    """A fresh bucket on one backend, straight to its server."""
    be = backend(request.param)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in be.env().items():
            patch.setenv(name, value)
        with be.container() as container:
            bucket = portacloud.open_bucket(be.url(container, be.upstream))
            yield bucket
            bucket.close()


def _slice_expected(data: bytes, rng: Any) -> bytes | None:
    """What ``get(range=rng)`` must return, or None when the range is not a valid one."""
    if rng is None:
        return data
    if not isinstance(rng, tuple) or len(rng) != 2:
        return None
    start, end = rng
    for bound in (start, end):
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
            return None
    return data[slice(start, end)]


@FUZZ
@given(key=keys, meta=metadata, rng=ranges, data=st.binary(max_size=64))
def test_object_calls_raise_only_portacloud_errors(
    fuzz_bucket: portacloud.Bucket, key: Any, meta: Any, rng: Any, data: bytes
) -> None:
    bucket = fuzz_bucket
    stored = False
    try:
        bucket.put(key, data, metadata=meta)
        stored = True
    except portacloud.PortaCloudError:
        pass
    if stored:
        assert bucket.get(key) == data
        info = bucket.head(key)
        assert info.size == len(data)
        expected = _slice_expected(data, rng)
        try:
            got = bucket.get(key, range=rng)
        except portacloud.InvalidArgumentError:
            assert expected is None, f"a valid range was refused: {rng!r}"
        else:
            assert got == expected, f"range {rng!r}"
    for call in (
        lambda: bucket.get(key, range=rng),
        lambda: bucket.head(key),
        lambda: bucket.exists(key),
        lambda: list(bucket.list(key if isinstance(key, str) else "", delimiter="/")),
        lambda: bucket.copy(key, "copy-target"),
        lambda: bucket.delete(key),
    ):
        with contextlib.suppress(portacloud.PortaCloudError):
            call()


def _cli(argv: list[str]) -> tuple[int, str]:
    """Run the CLI's entry point in this process; return its exit code and stderr."""
    from portacloud.cli.main import main

    err = io.StringIO()
    out = io.StringIO()
    code = 0
    with (
        contextlib.redirect_stderr(err),
        contextlib.redirect_stdout(out),
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(sys, "argv", ["portacloud", *argv])
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


@FUZZ
@given(
    command=st.sampled_from(["ls", "stat", "cat", "rm", "ls -r -l", "rm -r"]),
    key=st.one_of(st.text(max_size=30), st.sampled_from(["", "/", "a?b#c", "%zz", "..", "a b"])),
    query=st.sampled_from(["", "?bogus=1", "?endpoint_url=nope", "?part_size=1", "?x"]),
)
def test_cli_never_prints_a_traceback(
    fuzz_bucket: portacloud.Bucket, command: str, key: str, query: str
) -> None:
    base, _, options = fuzz_bucket.url.partition("?")
    url = f"{base}/{key}?{options}" + (("&" + query[1:]) if query else "")
    (*words,) = command.split()
    code, err = _cli([*words, url])
    assert "Traceback" not in err
    assert code in (0, 1, 2), (code, err)


def test_cli_processes_print_no_traceback(fuzz_bucket: portacloud.Bucket) -> None:
    """The real console script, at -vv, on inputs that fail in each layer."""
    base, _, options = fuzz_bucket.url.partition("?")
    env = {**os.environ}
    for argv in (
        ["stat", f"{base}/missing?{options}"],
        ["cat", f"{base}/a%00b?{options}"],
        ["ls", f"{base}/?{options}&nope=1"],
        ["ls", f"{base.split('://')[0]}://Bad_Bucket!/x?{options}"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "portacloud.cli", "-vv", *argv],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in result.stderr + result.stdout, (argv, result.stderr[-2000:])
        assert result.returncode in (0, 1, 2), (argv, result.returncode)
