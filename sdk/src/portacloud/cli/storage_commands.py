"""``ls``, ``cat``, ``stat``, ``rm`` and ``du``: storage from the shell.

URLs are read by :mod:`portacloud.cli.targets` (keys exactly as typed) and may carry glob
patterns (:mod:`portacloud.cli.globs`), quoted so that the shell leaves them alone.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click
from rich.filesize import decimal

from portacloud.cli.globs import matching_objects, split_glob
from portacloud.cli.output import out_console
from portacloud.cli.targets import Target, open_cli_object, open_prefix, parse_target
from portacloud.errors import FailedPreconditionError, NotFoundError
from portacloud.storage.models import ObjectInfo, PrefixInfo

if TYPE_CHECKING:
    from portacloud.storage.bucket import Bucket

__all__ = ["as_directory", "cat", "du", "ls", "rm", "selected", "stat"]

_CHUNK = 8 * 1024 * 1024


def as_directory(path: str) -> str:
    """A key part read as a directory: ``data`` selects ``data/...``, never ``database``."""
    return path if not path or path.endswith("/") else path + "/"


@contextmanager
def selected(target: Target) -> Iterator[tuple[Bucket, str, Iterator[ObjectInfo]]]:
    """Open what a URL selects: (bucket, its path in the target, its selected objects).

    A glob selects the objects it matches, in the bucket opened at the pattern's literal
    directory; otherwise the URL is a directory and every object under it is selected.
    """
    split = split_glob(target.path)
    base = as_directory(target.path) if split is None else split.directory
    with open_prefix(target, base) as bucket:
        if split is None:
            objects: Iterator[ObjectInfo] = (e for e in bucket.list() if isinstance(e, ObjectInfo))
        else:
            objects = matching_objects(bucket, split)
        yield bucket, base, objects


def _line(entry: ObjectInfo | PrefixInfo, name: str, long_format: bool) -> str:
    if isinstance(entry, PrefixInfo):
        return f"{'PRE':>12}  {'':<25}  {name}" if long_format else name
    if not long_format:
        return name
    when = entry.last_modified.isoformat(timespec="seconds") if entry.last_modified else "-"
    return f"{entry.size:>12}  {when:<25}  {name}"


@click.command()
@click.argument("url")
@click.option("-l", "--long", "long_format", is_flag=True, help="Show size and modification time.")
@click.option("-r", "--recursive", is_flag=True, help="List every key, not one level.")
def ls(url: str, long_format: bool, recursive: bool) -> None:
    """List the objects of a bucket URL (one level, like a directory, unless -r).

    A quoted glob lists the matching objects: ls "s3://b/logs/*.json", "s3://b/**/*.csv".
    """
    target = parse_target(url)
    if split_glob(target.path) is not None:
        # Matches are printed as whole URLs, as gsutil does: they may lie at any depth.
        with selected(target) as (_, base, objects):
            for info in objects:
                name = target.display(base + info.key)
                out_console.print(_line(info, name, long_format), markup=False)
        return
    with open_prefix(target, target.path) as bucket:
        for entry in bucket.list(delimiter=None if recursive else "/"):
            out_console.print(_line(entry, entry.key, long_format), markup=False)


@click.command()
@click.argument("url")
def cat(url: str) -> None:
    """Write an object's bytes to standard output."""
    bucket, key = open_cli_object(url)
    with bucket, bucket.open(key) as src:
        shutil.copyfileobj(src, sys.stdout.buffer, _CHUNK)
    sys.stdout.buffer.flush()


@click.command()
@click.argument("url")
def stat(url: str) -> None:
    """Print what is known of one object, as JSON."""
    bucket, key = open_cli_object(url)
    with bucket:
        click.echo(bucket.head(key).model_dump_json(indent=2))


def _has_objects_below(target: Target) -> bool:
    with open_prefix(target, as_directory(target.path)) as bucket:
        try:
            return any(isinstance(e, ObjectInfo) for e in bucket.list(page_size=1))
        except NotFoundError:  # file://: no such directory, so nothing below
            return False


@click.command()
@click.argument("url")
@click.option("-r", "--recursive", is_flag=True, help="Delete every object under the URL.")
@click.option("-f", "--force", is_flag=True, help="A missing object is not an error.")
def rm(url: str, recursive: bool, force: bool) -> None:
    """Delete an object, the objects a quoted glob matches, or a whole prefix with -r."""
    target = parse_target(url)
    if recursive or split_glob(target.path) is not None:
        _rm_many(target)
        return
    bucket, key = open_cli_object(url)
    with bucket:
        if bucket.exists(key):
            bucket.delete(key)
            click.echo(f"deleted {target.display(target.path)}", err=True)
            return
    if _has_objects_below(target):
        raise FailedPreconditionError(
            f"{url} is a prefix, not an object: use rm -r to delete everything under it"
        )
    if not force:
        raise NotFoundError(f"no such object: {url} (rm -f ignores missing objects)")


def _rm_many(target: Target) -> None:
    with selected(target) as (bucket, _, objects):
        keys = [info.key for info in objects]
        bucket.delete_many(keys)
    click.echo(f"deleted {len(keys)} object(s)", err=True)


@click.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def du(url: str, as_json: bool) -> None:
    """Count the objects and bytes under a prefix (or matching a quoted glob)."""
    target = parse_target(url)
    count = total = 0
    with selected(target) as (_, _, objects):
        for info in objects:
            count += 1
            total += info.size
    if as_json:
        click.echo(json.dumps({"url": url, "objects": count, "bytes": total}))
    else:
        click.echo(f"{count} object(s)  {total} bytes ({decimal(total)})  {url}")
