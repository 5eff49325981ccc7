"""``portacloud conformance``: run the suite against targets and report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from portacloud.cli.output import out_console
from portacloud.errors import UnsupportedError

__all__ = ["conformance"]


def _suite() -> Any:
    try:
        from portacloud_conformance import runner
    except ImportError as exc:
        raise UnsupportedError(
            'the conformance suite is not installed: pip install "portacloud-conformance"'
        ) from exc
    return runner


@click.group()
def conformance() -> None:
    """Prove that a backend keeps portacloud's semantics."""


@conformance.command("run")
@click.option("--storage", "storage_url", metavar="URL", help="Storage URL to test.")
@click.option("--jobs", "jobs_url", metavar="URL", help="Job queue URL to test.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON report here.",
)
@click.option("-k", "keyword", default=None, help="Only tests matching this pytest -k expression.")
def run(
    storage_url: str | None, jobs_url: str | None, report_path: Path | None, keyword: str | None
) -> None:
    """Run one suite (--storage or --jobs) against a target; print its skips and failures."""
    from rich.table import Table

    if (storage_url is None) == (jobs_url is None):
        raise click.UsageError("give exactly one of --storage URL and --jobs URL")
    kind, url = ("storage", storage_url) if storage_url else ("jobs", jobs_url)
    assert url is not None
    runner = _suite()
    report = runner.run_suite(kind, url, extra_args=["-k", keyword] if keyword else [])
    table = Table(title=f"{kind} conformance: {url}")
    table.add_column("test")
    table.add_column("outcome")
    table.add_column("reason")
    for result in report.results:
        if result.outcome != "passed":
            style = "red" if result.outcome == "failed" else "yellow"
            table.add_row(result.test, f"[{style}]{result.outcome}[/]", result.reason or "")
    if table.row_count:
        out_console.print(table)
    s = report.summary
    out_console.print(f"{s.passed} passed, {s.skipped} skipped, {s.failed} failed")
    if report_path is not None:
        report_path.write_text(report.model_dump_json(indent=2))
        out_console.print(f"report: {report_path}")
    if s.failed:
        raise SystemExit(1)


@conformance.command("matrix")
@click.option(
    "--storage",
    "storage_urls",
    multiple=True,
    required=True,
    metavar="URL",
    help="A storage URL; repeat for each column.",
)
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the matrix as markdown here.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the matrix as JSON here.",
)
def matrix(
    storage_urls: tuple[str, ...], markdown_path: Path | None, json_path: Path | None
) -> None:
    """Run the storage suite against several targets and print the portability matrix."""
    from portacloud_conformance.report import Matrix

    runner = _suite()
    reports = []
    for url in storage_urls:
        out_console.print(f"running the storage suite against {url} ...")
        reports.append(runner.run_storage(url))
    caps = {url: runner.storage_capabilities(url) for url in storage_urls}
    result = Matrix.from_reports(reports, caps)
    text = result.to_markdown()
    out_console.print(text, markup=False)
    if markdown_path is not None:
        markdown_path.write_text(text)
    if json_path is not None:
        json_path.write_text(result.model_dump_json(indent=2))
    if any(r.summary.failed for r in reports):
        raise SystemExit(1)
