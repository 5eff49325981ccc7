"""``cp``, ``mv`` and ``sync``: move bytes between local paths, stdin/stdout and URLs.

Single objects stream through :class:`~portacloud.Bucket`. Trees (``cp -r``) and ``sync`` go
through the migration engine, so they plan, skip what is already identical (by CRC32C),
verify every object and resume after a kill, exactly as ``portacloud migrate`` does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import click

from portacloud.cli.local_files import open_download, open_upload_source
from portacloud.cli.progress import CountingReader, progress
from portacloud.cli.storage_commands import as_directory, selected
from portacloud.cli.targets import (
    Target,
    cli_profile,
    is_stdio,
    is_url,
    open_cli_object,
    open_target_object,
    parse_target,
)
from portacloud.errors import InvalidArgumentError

if TYPE_CHECKING:
    from portacloud.migrate.models import MigrationResult
    from portacloud.storage.bucket import Bucket
    from portacloud.storage.models import ObjectInfo

__all__ = ["cp", "mv", "sync"]

_CHUNK = 8 * 1024 * 1024


def _name_of(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _check_pair(src: str, dst: str) -> None:
    if not (is_url(src) or is_url(dst)):
        raise InvalidArgumentError(
            "needs at least one URL (use the shell's cp or mv for two local paths)"
        )
    if is_stdio(src) and is_stdio(dst):
        raise InvalidArgumentError("'-' can be the source or the destination, not both")


# ---------------------------------------------------------------------- one object


def _upload(src: str, dst: str) -> str:
    target = parse_target(dst)
    if not target.path or target.path.endswith("/"):
        if is_stdio(src):
            raise InvalidArgumentError("uploading stdin needs a destination key, not a prefix")
        target = target.at(target.path + _name_of(src))
    with open_upload_source(src) as (stream, size, label):
        bucket, key = open_target_object(target)
        with bucket, progress(label, size) as advance:
            info = bucket.put(key, CountingReader(stream, advance))  # type: ignore[arg-type]
    shown = target.display(target.path)
    click.echo(f"{label} -> {shown} ({info.size} bytes, crc32c {info.crc32c})", err=True)
    return shown


def _write_object(bucket: Bucket, key: str, out: BinaryIO, size: int) -> None:
    with bucket.open(key) as obj, progress(key, size) as advance:
        while chunk := obj.read(_CHUNK):
            out.write(chunk)
            advance(len(chunk))


def _download(src: str, dst: str) -> None:
    bucket, key = open_cli_object(src)
    with bucket:
        info = bucket.head(key)
        if is_stdio(dst):
            _write_object(bucket, key, sys.stdout.buffer, info.size)
            sys.stdout.buffer.flush()
            return
        path = Path(dst)
        if dst.endswith("/") or path.is_dir():
            path = path / _name_of(key)
        with open_download(path) as out:
            _write_object(bucket, key, out, info.size)
    click.echo(f"{src} -> {path} ({info.size} bytes)", err=True)


def _copy_object(src_bucket: Bucket, src_key: str, dst_bucket: Bucket, dst_key: str) -> ObjectInfo:
    same = src_bucket.url == dst_bucket.url and src_bucket.capabilities.server_side_copy
    if same:
        return src_bucket.copy(src_key, dst_key)
    head = src_bucket.head(src_key)
    with src_bucket.open(src_key) as reader, progress(src_key, head.size) as advance:
        return dst_bucket.put(
            dst_key,
            CountingReader(reader, advance),  # type: ignore[arg-type]
            content_type=head.content_type,
            metadata=dict(head.metadata) or None,
        )


def _copy_between(src: str, dst: str) -> None:
    target = parse_target(dst)
    if not target.path or target.path.endswith("/"):
        target = target.at(target.path + _name_of(parse_target(src).path))
    src_bucket, src_key = open_cli_object(src)
    dst_bucket, dst_key = open_target_object(target)
    with src_bucket, dst_bucket:
        info = _copy_object(src_bucket, src_key, dst_bucket, dst_key)
    click.echo(
        f"{src} -> {target.display(target.path)} ({info.size} bytes, crc32c {info.crc32c})",
        err=True,
    )


def _copy_one(src: str, dst: str) -> None:
    if not is_url(src):
        _upload(src, dst)
    elif not is_url(dst):
        _download(src, dst)
    else:
        _copy_between(src, dst)


def _refuse_same_object(src: str, dst: str) -> None:
    """A move onto itself would copy the object over itself and then delete it."""
    if not (is_url(src) and is_url(dst)):
        return
    a, b = parse_target(src), parse_target(dst)
    if not b.path or b.path.endswith("/"):
        b = b.at(b.path + _name_of(a.path))
    if (a.base, a.path, a.query) == (b.base, b.path, b.query):
        raise InvalidArgumentError(
            f"{src} and {dst} name the same object; moving it onto itself would delete it"
        )


# ---------------------------------------------------------------------- many objects


def _copy_matches(src: Target, dst: str, *, remove_source: bool) -> int:
    """Copy every object a glob selects to a local directory or a URL prefix."""
    count = 0
    with selected(src) as (bucket, base, objects):
        for info in list(objects):
            src_url = src.at(base + info.key).url
            if is_url(dst):
                dst_target = parse_target(dst)
                dst_url = dst_target.at(as_directory(dst_target.path) + info.key).url
                if remove_source:
                    _refuse_same_object(src_url, dst_url)
                _copy_one(src_url, dst_url)
            else:
                local = Path(dst) / info.key
                local.parent.mkdir(parents=True, exist_ok=True)
                _download(src_url, str(local))
            if remove_source:
                bucket.delete(info.key)
            count += 1
    if count == 0:
        raise InvalidArgumentError(f"no object matches {src.url}")
    return count


def _tree_url(value: str) -> str:
    """A URL for the migration engine: a local directory, or a CLI URL read as a directory."""
    if is_url(value):
        target = parse_target(value)
        return target.registry_url(as_directory(target.path))
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise InvalidArgumentError(f"not a directory: {value} (cp -r copies trees)")
    return path.absolute().as_uri()


def _run_tree(src: str, dst: str, *, delete: bool, max_delete: int, force: bool) -> None:
    from portacloud.migrate.engine import migrate

    result = migrate(
        _tree_url(src),
        _tree_url(dst),
        delete=delete,
        max_delete=max_delete,
        force=force,
        profile=cli_profile(),
    )
    _report(result)
    if not result.ok:
        sys.exit(1)


def _report(result: MigrationResult) -> None:
    click.echo(
        f"copied {result.copied} ({result.bytes_copied} bytes), skipped {result.skipped} "
        f"identical, deleted {result.deleted}, verified {result.verified}, "
        f"failed {len(result.failures)}",
        err=True,
    )
    for failure in result.failures[:20]:
        click.echo(f"failed: {failure.key}: {failure.message}", err=True)


@click.command()
@click.argument("src")
@click.argument("dst")
@click.option("-r", "--recursive", is_flag=True, help="Copy a tree or a whole prefix.")
def cp(src: str, dst: str, recursive: bool) -> None:
    """Copy between local paths, '-' (stdin/stdout) and object URLs.

    A DST ending in '/' (or an existing local directory) receives the source's name. With -r,
    the contents of SRC (a directory or a prefix) go under DST; objects already there with the
    same CRC32C are skipped. A quoted glob in SRC copies the objects it matches.
    """
    _check_pair(src, dst)
    if recursive:
        _run_tree(src, dst, delete=False, max_delete=0, force=False)
    elif is_url(src) and parse_target(src).pattern is not None:
        count = _copy_matches(parse_target(src), dst, remove_source=False)
        click.echo(f"copied {count} object(s)", err=True)
    else:
        _copy_one(src, dst)


@click.command()
@click.argument("src")
@click.argument("dst")
def mv(src: str, dst: str) -> None:
    """Move an object (or the objects a quoted glob matches): copy, then delete the source.

    The source is deleted only after its copy was written; a local source file is left in
    place (delete it yourself once you trust the copy).
    """
    _check_pair(src, dst)
    if not is_url(src):
        raise InvalidArgumentError("mv moves objects; to upload a local file use cp")
    target = parse_target(src)
    if target.pattern is not None:
        count = _copy_matches(target, dst, remove_source=True)
        click.echo(f"moved {count} object(s)", err=True)
        return
    _refuse_same_object(src, dst)
    _copy_one(src, dst)
    bucket, key = open_cli_object(src)
    with bucket:
        bucket.delete(key)


@click.command()
@click.argument("src")
@click.argument("dst")
@click.option("--delete", is_flag=True, help="Delete destination objects not at the source.")
@click.option("--max-delete", type=click.IntRange(min=0), default=100, show_default=True)
@click.option("--force", is_flag=True, help="Delete more than --max-delete objects.")
def sync(src: str, dst: str, delete: bool, max_delete: int, force: bool) -> None:
    """Make DST hold what SRC holds (one way, by CRC32C; a second run copies nothing).

    SRC and DST are URLs or local directories. Runs through the migration engine: every copy
    is verified, and a killed sync resumes where it stopped.
    """
    _check_pair(src, dst)
    _run_tree(src, dst, delete=delete, max_delete=max_delete, force=force)
