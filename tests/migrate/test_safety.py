"""Safety: --max-delete, conditional writes, and bad input refused before any byte moves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from migrate_helpers import contents, events, file_etags, fill, run_cli

import portacloud
from portacloud.migrate import MigrationEvent, Phase, migrate

Tree = Callable[[str], tuple[str, portacloud.Bucket]]


def _with_extras(tree: Tree, extras: int) -> tuple[str, str, portacloud.Bucket, portacloud.Bucket]:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    fill(src, 4, seed=10)
    for i in range(extras):
        dst.put(f"stale/{i:03d}", b"old")
    return src_url, dst_url, src, dst


def test_max_delete_refuses_without_force_before_any_byte_moves(tree: Tree, tmp_path: Path) -> None:
    src_url, dst_url, _, _ = _with_extras(tree, 5)
    before = file_etags(tmp_path / "dst")
    done = run_cli("migrate", src_url, dst_url, "--delete", "--max-delete", "3")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "deletes 5 objects" in lines[0]
    assert "--max-delete 3" in lines[0]
    assert "--force" in lines[0]
    assert "Traceback" not in done.stderr
    assert file_etags(tmp_path / "dst") == before, "nothing copied, nothing deleted"


def test_max_delete_has_a_small_default(tree: Tree) -> None:
    src_url, dst_url, _, _ = _with_extras(tree, 101)
    with pytest.raises(portacloud.FailedPreconditionError, match="more than --max-delete 100"):
        migrate(src_url, dst_url, delete=True)


def test_force_deletes_extras_after_the_copies_are_verified(tree: Tree) -> None:
    src_url, dst_url, src, dst = _with_extras(tree, 5)
    order: list[Phase] = []

    def watch(event: MigrationEvent) -> None:
        if event.kind == "phase" and event.phase is not None:
            order.append(event.phase)

    done = run_cli("migrate", src_url, dst_url, "--delete", "--max-delete", "3", "--force")
    assert done.returncode == 0, done.stderr
    (summary,) = events(done.stdout, "summary")
    assert summary["deleted"] == 5
    assert contents(dst) == contents(src)
    # Deletions within the limit need no --force; and they come after copy and verify.
    dst.put("stale/again", b"x")
    result = migrate(src_url, dst_url, delete=True, max_delete=1, on_event=watch)
    assert result.deleted == 1
    assert order.index(Phase.DELETE) > order.index(Phase.VERIFY)


def test_a_destination_changed_after_the_plan_is_never_overwritten(tree: Tree) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    src.put("absent-at-plan", b"from the source")
    src.put("present-at-plan", b"from the source, v2")
    dst.put("present-at-plan", b"destination v1")

    def meddle(event: MigrationEvent) -> None:
        if event.kind == "phase" and event.phase is Phase.COPY:
            # Another writer gets there between the plan and the copy.
            dst.put("absent-at-plan", b"someone else's")
            dst.put("present-at-plan", b"someone else's v2")

    result = migrate(src_url, dst_url, on_event=meddle)
    assert not result.ok
    assert {f.key for f in result.failures} == {"absent-at-plan", "present-at-plan"}
    assert all("changed after the plan" in f.message for f in result.failures)
    assert dst.get("absent-at-plan") == b"someone else's"
    assert dst.get("present-at-plan") == b"someone else's v2"
    assert result.receipt is None
    # Rerunning plans again against what is there now, and then it may overwrite.
    again = migrate(src_url, dst_url)
    assert again.ok
    assert contents(dst) == contents(src)


def test_a_conflicting_write_of_identical_bytes_is_accepted(tree: Tree) -> None:
    src_url, src = tree("src")
    dst_url, dst = tree("dst")
    src.put("k", b"same bytes")

    def race(event: MigrationEvent) -> None:
        if event.kind == "phase" and event.phase is Phase.COPY:
            dst.put("k", b"same bytes")  # e.g. a killed run whose journal row was lost

    result = migrate(src_url, dst_url, on_event=race)
    assert result.ok, result.failures
    assert result.copied == 0
    assert result.verified == 1


@pytest.mark.parametrize(
    ("src_name", "dst_name", "message"),
    [
        ("data", "data", "same directory"),
        ("data", "data/sub", "overlap"),
        ("data/sub", "data", "overlap"),
    ],
)
def test_same_or_overlapping_file_buckets_are_refused(
    tmp_path: Path, src_name: str, dst_name: str, message: str
) -> None:
    (tmp_path / "data" / "sub").mkdir(parents=True)
    portacloud.open_bucket((tmp_path / "data").as_uri()).put("x", b"1")
    done = run_cli("migrate", (tmp_path / src_name).as_uri(), (tmp_path / dst_name).as_uri())
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert message in lines[0]
    assert lines[0].startswith("error: [INVALID_ARGUMENT]")


def test_same_or_overlapping_prefixes_in_one_bucket_are_refused(memory_name: str) -> None:
    base = f"memory://{memory_name}"
    portacloud.open_bucket(base).put("a/x", b"1")
    with pytest.raises(portacloud.InvalidArgumentError, match="same"):
        migrate(f"{base}/a/", f"{base}/a/")
    with pytest.raises(portacloud.InvalidArgumentError, match="overlap"):
        migrate(base, f"{base}/a/")
    with pytest.raises(portacloud.InvalidArgumentError, match="overlap"):
        migrate(f"{base}/a", f"{base}/ab")  # listing "a" lists "ab..." too


def test_a_missing_source_bucket_is_one_clear_error_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-dir"
    dst = tmp_path / "dst"
    done = run_cli("migrate", missing.as_uri(), dst.as_uri())
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: [NOT_FOUND]")
    assert "does not exist" in lines[0]
    assert not missing.exists()
    assert not dst.exists()


def test_an_unknown_scheme_is_one_clear_error(tmp_path: Path) -> None:
    done = run_cli("migrate", "nosuch://bucket", (tmp_path / "dst").as_uri())
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "unknown URL scheme" in done.stderr


def test_a_denied_listing_stops_before_any_write(tree: Tree) -> None:
    src_url, src = tree("src")
    fill(src, 3, seed=11)
    _dst_url, dst = tree("dst")
    denied = _DeniedList(dst)
    with pytest.raises(portacloud.PermissionDeniedError, match="cannot list the destination"):
        migrate(src_url, denied)
    assert contents(dst) == {}


def test_a_denied_write_stops_the_run_at_the_first_object(tree: Tree) -> None:
    src_url, src = tree("src")
    fill(src, 20, seed=12)
    _, dst = tree("dst")
    denied = _DeniedWrite(dst)
    with pytest.raises(portacloud.PermissionDeniedError):
        migrate(src_url, denied, concurrency=2)
    assert contents(dst) == {}
    assert denied.attempts <= 4, "the run stops instead of failing every object"


class _DeniedList(portacloud.Bucket):
    """A bucket whose credentials may not list it."""

    def __init__(self, inner: portacloud.Bucket) -> None:
        super().__init__(inner._driver, url=inner.url)

    def list(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def,override]
        raise portacloud.PermissionDeniedError("access denied", provider="file")


class _DeniedWrite(portacloud.Bucket):
    """A bucket whose credentials may list and read it but not write to it."""

    def __init__(self, inner: portacloud.Bucket) -> None:
        super().__init__(inner._driver, url=inner.url)
        self.attempts = 0

    def put(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def,override]
        self.attempts += 1
        raise portacloud.PermissionDeniedError("write denied", provider="file")
