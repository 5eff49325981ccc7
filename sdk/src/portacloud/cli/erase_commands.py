"""``portacloud erase``: delete everything under a prefix, verify it is gone, keep a receipt.

The URL names a directory: ``s3://b/user-42`` erases ``user-42/...`` and never
``user-420/...``. The bucket is opened at the directory above it, so receipt keys read
``user-42/...``. An empty path is the whole bucket and needs ``--whole-bucket``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from portacloud.cli.output import err_console, out_console
from portacloud.cli.storage_commands import as_directory
from portacloud.cli.targets import Target, open_prefix, parse_target
from portacloud.errors import InvalidArgumentError

if TYPE_CHECKING:
    from portacloud.storage.erase import EraseResult

__all__ = ["erase"]


def _split(target: Target, *, whole_bucket: bool) -> tuple[str, str]:
    """The directory to open the bucket at and the prefix to erase inside it."""
    if target.pattern is not None:
        raise InvalidArgumentError(
            f"erase takes a prefix, not a glob pattern: {target.url!r} (list the matches "
            "with 'portacloud ls' and erase their directory)"
        )
    if {".", ".."} & set(target.path.split("/")):
        raise InvalidArgumentError(
            f"erase takes a prefix without '.' or '..' segments, not {target.path!r}: "
            "name the directory itself"
        )
    if not target.path.strip("/"):
        if target.path_shaped:
            raise InvalidArgumentError(
                "erase file:/// would erase the whole file system: name a directory, "
                "file:///path/to/dir"
            )
        if not whole_bucket:
            raise InvalidArgumentError(
                f"{target.url} names the whole bucket: name a prefix such as "
                f"{target.display('user-42/')}, or pass --whole-bucket"
            )
        return "", ""
    directory = as_directory(target.path)
    cut = directory[:-1].rfind("/") + 1
    return directory[:cut], directory[cut:]


def _describe(result: EraseResult) -> str:
    return (
        f"{result.objects} object version(s), {result.delete_markers} delete marker(s), "
        f"{result.uploads} unfinished upload(s), {result.bytes} bytes"
    )


def _print_plan(result: EraseResult, where: str) -> None:
    for item in result.items:
        version = item.version or "-"
        size = "-" if item.size is None else str(item.size)
        out_console.print(f"{item.kind:<13}  {size:>12}  {version}  {item.key}", markup=False)
    err_console.print(f"dry run: would erase {_describe(result)} under {escape(where)}")


def _print_result(result: EraseResult, where: str) -> None:
    err_console.print(f"erased {_describe(result)} under {escape(where)}")
    if result.verified:
        err_console.print("verified: the listings find nothing left under the prefix")
    else:
        err_console.print(
            f"[bold red]NOT verified:[/] {result.remaining} version(s) or upload(s) are still "
            "there (see the receipt lines with verified=false); run erase again"
        )
    for gap in result.unverifiable:
        err_console.print(f"note: {escape(gap)}")
    err_console.print(f"receipt: {escape(result.receipt or '')}")
    err_console.print(f"receipt sha256: {result.receipt_sha256}")


@click.command()
@click.argument("url")
@click.option("--dry-run", is_flag=True, help="List what would be erased; delete nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--receipt",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Receipt file (JSON lines); default: under $PORTACLOUD_HOME/erase/.",
)
@click.option(
    "--whole-bucket", is_flag=True, help="Allow a URL with no prefix: erase the whole bucket."
)
def erase(url: str, dry_run: bool, yes: bool, receipt: Path | None, whole_bucket: bool) -> None:
    """Erase every object, version, delete marker and unfinished upload under URL, for good.

    Then list again to verify that nothing is left, and write a receipt (one JSON line per
    thing erased) whose SHA-256 is printed. s3://b/user-42 never touches s3://b/user-420/.
    """
    target = parse_target(url)
    directory, prefix = _split(target, whole_bucket=whole_bucket)
    where = target.display(directory + prefix) + (f"?{target.query}" if target.query else "")
    with open_prefix(target, directory) as bucket:
        if dry_run or not yes:
            plan = bucket.erase(prefix, dry_run=True, whole_bucket=whole_bucket)
            if dry_run:
                _print_plan(plan, where)
                return
            click.confirm(
                f"Erase {_describe(plan)} under {where}? This cannot be undone",
                abort=True,
                err=True,
            )
        result = bucket.erase(prefix, whole_bucket=whole_bucket, receipt=receipt)
    _print_result(result, where)
    if not result.verified:
        raise SystemExit(1)
