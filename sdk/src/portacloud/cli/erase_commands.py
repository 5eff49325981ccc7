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
from portacloud.cli.targets import Target, parse_target
from portacloud.errors import InvalidArgumentError

if TYPE_CHECKING:
    from portacloud.retry import RetryPolicy
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
@click.option(
    "--all-profiles",
    is_flag=True,
    help="URL is a prefix (user-42): erase it under every profile's storage.",
)
def erase(
    *,
    url: str,
    dry_run: bool,
    yes: bool,
    receipt: Path | None,
    whole_bucket: bool,
    all_profiles: bool,
) -> None:
    """Erase every object, version, delete marker and unfinished upload under URL, for good.

    Then list again to verify that nothing is left, and write a receipt (one JSON line per
    thing erased) whose SHA-256 is printed. s3://b/user-42 never touches s3://b/user-420/.
    With --all-profiles, URL is a prefix erased under the storage of every profile of
    portacloud.toml: "delete this user everywhere".
    """
    if all_profiles:
        places = _profile_places(url, receipt=receipt, whole_bucket=whole_bucket)
    else:
        places = [_Place(None, parse_target(url), whole_bucket, None)]
    plans = [] if yes and not dry_run else [(place, place.run(dry_run=True)) for place in places]
    if dry_run:
        for place, plan in plans:
            _print_plan(plan, place.label)
        return
    if not yes:
        what = "; ".join(f"{_describe(plan)} under {place.label}" for place, plan in plans)
        click.confirm(f"Erase {what}? This cannot be undone", abort=True, err=True)
    verified = True
    for place in places:
        result = place.run(dry_run=False, receipt=receipt)
        _print_result(result, place.label)
        verified = verified and result.verified
    if not verified:
        raise SystemExit(1)


class _Place:
    """One prefix to erase: a URL typed, or a profile's storage joined with a prefix."""

    def __init__(
        self, profile: str | None, target: Target, whole_bucket: bool, retry: RetryPolicy | None
    ) -> None:
        self.profile = profile
        self.target = target
        self.whole_bucket = whole_bucket
        self.retry = retry
        self.directory, self.prefix = _split(target, whole_bucket=whole_bucket)
        where = target.display(self.directory + self.prefix)
        where += f"?{target.query}" if target.query else ""
        self.label = where if profile is None else f"{where} (profile {profile})"

    def run(self, *, dry_run: bool, receipt: Path | None = None) -> EraseResult:
        from portacloud.openers import open_bucket

        url = self.target.registry_url(self.directory)
        with open_bucket(url, retry=self.retry) as bucket:
            return bucket.erase(
                self.prefix, dry_run=dry_run, whole_bucket=self.whole_bucket, receipt=receipt
            )


def _profile_places(prefix: str, *, receipt: Path | None, whole_bucket: bool) -> list[_Place]:
    """The prefix under each profile's storage, once per distinct storage URL."""
    from portacloud.profiles import load_profile, profile_names

    if "://" in prefix:
        raise InvalidArgumentError(
            f"with --all-profiles, give the prefix alone (user-42), not a URL: {prefix!r}"
        )
    if receipt is not None:
        raise InvalidArgumentError(
            "--receipt names one file; with --all-profiles each profile's receipt goes under "
            "$PORTACLOUD_HOME/erase/"
        )
    if whole_bucket or not prefix.strip("/"):
        raise InvalidArgumentError("--all-profiles erases a prefix, never whole buckets")
    places: dict[str, _Place] = {}
    for name in profile_names():
        profile = load_profile(name)
        storage = profile.storage or ""
        base, _, query = storage.partition("?")
        url = base.rstrip("/") + "/" + prefix.lstrip("/") + (f"?{query}" if query else "")
        if url not in places:
            places[url] = _Place(name, parse_target(url), False, profile.retry)
    return list(places.values())
