"""``portacloud gc``: remove what interrupted writes left behind."""

from __future__ import annotations

import re
from datetime import timedelta

import click

from portacloud.cli.output import out_console
from portacloud.cli.targets import open_cli_bucket
from portacloud.errors import InvalidArgumentError

__all__ = ["gc", "parse_age"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_AGE = re.compile(r"(\d+)([smhd])")


def parse_age(text: str) -> timedelta:
    """Parse ``30s``, ``15m``, ``1h``, ``2d`` (or a combination such as ``1h30m``)."""
    spec = text.strip().lower()
    if not spec or _AGE.sub("", spec):
        raise InvalidArgumentError(
            f"--older-than takes a duration such as 30m, 1h or 2d, not {text!r}"
        )
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _AGE.findall(spec)))


@click.command()
@click.argument("url")
@click.option(
    "--older-than",
    default="1h",
    show_default=True,
    help="Only leftovers untouched this long (30m, 1h, 2d): younger ones may be live writes.",
)
def gc(url: str, older_than: str) -> None:
    """Remove temp files of killed or interrupted writes under a bucket URL.

    Prints each removed path; objects are never touched.
    """
    age = parse_age(older_than)
    with open_cli_bucket(url) as bucket:
        removed = bucket.collect_garbage(older_than=age)
    for name in removed:
        out_console.print(name, markup=False)
    click.echo(f"removed {len(removed)} leftover file(s) older than {older_than}", err=True)
