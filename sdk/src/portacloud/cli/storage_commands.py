"""``ls``, ``cat``, ``cp``, ``rm`` and ``stat``: storage from the shell."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click

from portacloud.cli.output import out_console
from portacloud.errors import InvalidArgumentError, NotFoundError
from portacloud.registry import open_bucket, open_object
from portacloud.storage.models import ObjectInfo, PrefixInfo

__all__ = ["cat", "cp", "ls", "rm", "stat"]

_CHUNK = 8 * 1024 * 1024
_PROGRESS_THRESHOLD = 8 * 1024 * 1024


def _is_url(value: str) -> bool:
    return "://" in value


class _CountingReader:
    """A binary reader that reports every chunk it hands out to a progress callback."""

    def __init__(self, raw: IO[bytes], advance: object) -> None:
        self._raw = raw
        self._advance = advance

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._advance(len(data))  # type: ignore[operator]
        return data


@contextmanager
def _progress(label: str, total: int) -> Iterator[object]:
    """Yield an ``advance(n)`` callback; draw a bar on a terminal for large transfers."""
    from portacloud.cli.output import err_console

    if total < _PROGRESS_THRESHOLD or not err_console.is_terminal:
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


@click.command()
@click.argument("url")
@click.option("-l", "--long", "long_format", is_flag=True, help="Show size and modification time.")
@click.option("-r", "--recursive", is_flag=True, help="List every key, not one level.")
def ls(url: str, long_format: bool, recursive: bool) -> None:
    """List the objects of a bucket URL (one level, like a directory, unless -r)."""
    with open_bucket(url) as bucket:
        for entry in bucket.list(delimiter=None if recursive else "/"):
            if isinstance(entry, PrefixInfo):
                line = f"{'PRE':>12}  {'':<25}  {entry.key}" if long_format else entry.key
            elif long_format:
                when = (
                    entry.last_modified.isoformat(timespec="seconds")
                    if entry.last_modified
                    else "-"
                )
                line = f"{entry.size:>12}  {when:<25}  {entry.key}"
            else:
                line = entry.key
            out_console.print(line, markup=False)


@click.command()
@click.argument("url")
def cat(url: str) -> None:
    """Write an object's bytes to standard output."""
    bucket, key = open_object(url)
    with bucket, bucket.open(key) as src:
        shutil.copyfileobj(src, sys.stdout.buffer, _CHUNK)
    sys.stdout.buffer.flush()


@click.command()
@click.argument("url")
def stat(url: str) -> None:
    """Print what is known of one object, as JSON."""
    bucket, key = open_object(url)
    with bucket:
        click.echo(bucket.head(key).model_dump_json(indent=2))


@click.command()
@click.argument("url")
@click.option("-r", "--recursive", is_flag=True, help="Delete every object under the URL.")
def rm(url: str, recursive: bool) -> None:
    """Delete an object (a missing one is not an error), or everything under a prefix with -r."""
    if recursive:
        with open_bucket(url) as bucket:
            keys = [e.key for e in bucket.list() if isinstance(e, ObjectInfo)]
            bucket.delete_many(keys)
        click.echo(f"deleted {len(keys)} object(s)", err=True)
        return
    bucket, key = open_object(url)
    with bucket:
        bucket.delete(key)


@click.command()
@click.argument("src")
@click.argument("dst")
def cp(src: str, dst: str) -> None:
    """Copy a local file or an object to a local path or an object URL.

    A DST ending in '/' (or an existing local directory) receives the source's file name.
    """
    if not _is_url(src) and not _is_url(dst):
        raise InvalidArgumentError("cp needs at least one URL (use the shell's cp for two paths)")
    if _is_url(dst) and dst.endswith("/"):
        dst += Path(src.rstrip("/")).name
    if not _is_url(src):
        _upload(Path(src), dst)
    elif not _is_url(dst):
        _download(src, Path(dst))
    else:
        _copy_between(src, dst)


def _upload(path: Path, dst: str) -> None:
    if not path.is_file():
        raise NotFoundError(f"no such local file: {path}")
    bucket, key = open_object(dst)
    with bucket, open(path, "rb") as f, _progress(path.name, path.stat().st_size) as advance:
        info = bucket.put(key, _CountingReader(f, advance))  # type: ignore[arg-type]
    click.echo(f"{path} -> {dst} ({info.size} bytes, crc32c {info.crc32c})", err=True)


def _download(src: str, path: Path) -> None:
    bucket, key = open_object(src)
    if path.is_dir() or str(path).endswith(os.sep):
        path = path / key.rsplit("/", 1)[-1]
    with bucket:
        info = bucket.head(key)
        # Write beside the target and rename, so a failed download leaves no partial file.
        fd, tmp = tempfile.mkstemp(dir=path.parent or Path.cwd(), prefix=f".{path.name}.")
        try:
            with (
                os.fdopen(fd, "wb") as out,
                bucket.open(key) as obj,
                _progress(key, info.size) as advance,
            ):
                while chunk := obj.read(_CHUNK):
                    out.write(chunk)
                    advance(len(chunk))  # type: ignore[operator]
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    click.echo(f"{src} -> {path} ({info.size} bytes)", err=True)


def _copy_between(src: str, dst: str) -> None:
    src_bucket, src_key = open_object(src)
    dst_bucket, dst_key = open_object(dst)
    with src_bucket, dst_bucket:
        same = src_bucket.url == dst_bucket.url and src_bucket.capabilities.server_side_copy
        if same:
            info = src_bucket.copy(src_key, dst_key)
        else:
            head = src_bucket.head(src_key)
            with src_bucket.open(src_key) as reader, _progress(src_key, head.size) as advance:
                info = dst_bucket.put(
                    dst_key,
                    _CountingReader(reader, advance),  # type: ignore[arg-type]
                    content_type=head.content_type,
                    metadata=dict(head.metadata) or None,
                )
    click.echo(f"{src} -> {dst} ({info.size} bytes, crc32c {info.crc32c})", err=True)
