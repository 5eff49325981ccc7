"""``portacloud conformance``: run the suite against targets and report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from portacloud.cli.output import err_console, new_table, out_console
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


_KINDS = ("storage", "jobs", "compute", "services")


@conformance.command("run")
@click.option("--storage", "storage_url", metavar="URL", help="Storage URL to test.")
@click.option("--jobs", "jobs_url", metavar="URL", help="Job queue URL to test.")
@click.option("--compute", "compute_url", metavar="URL", help="Compute URL to test.")
@click.option("--services", "services_url", metavar="URL", help="Service backend URL to test.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON report here.",
)
@click.option("-k", "keyword", default=None, help="Only tests matching this pytest -k expression.")
@click.option(
    "--face",
    type=click.Choice(["sync", "async"]),
    default="sync",
    help="Storage only: test Bucket (sync) or AsyncBucket (async) with the same suite.",
)
def run(
    *,
    storage_url: str | None,
    jobs_url: str | None,
    compute_url: str | None,
    services_url: str | None,
    report_path: Path | None,
    keyword: str | None,
    face: str,
) -> None:
    """Run one suite (--storage, --jobs, --compute or --services) against a target; print
    its skips and failures."""
    urls = (storage_url, jobs_url, compute_url, services_url)
    given = [(kind, url) for kind, url in zip(_KINDS, urls, strict=True) if url is not None]
    if len(given) != 1:
        raise click.UsageError(
            "give exactly one of --storage URL, --jobs URL, --compute URL and --services URL"
        )
    kind, url = given[0]
    if face == "async" and kind != "storage":
        raise click.UsageError("--face async tests storage (AsyncBucket); give --storage URL")
    runner = _suite()
    extra = ["-k", keyword] if keyword else []
    if face == "async":
        extra += ["--portacloud-face", "async"]
    report = runner.run_suite(kind, url, extra_args=extra)
    title = f"{kind} conformance{' (AsyncBucket)' if face == 'async' else ''}: {escape(url)}"
    table = new_table("test", "outcome", "reason", title=title)
    for result in report.results:
        if result.outcome != "passed":
            style = "red" if result.outcome == "failed" else "yellow"
            table.add_row(
                escape(result.test), f"[{style}]{result.outcome}[/]", escape(result.reason or "")
            )
    if table.row_count:
        out_console.print(table)
    s = report.summary
    out_console.print(f"{s.passed} passed, {s.skipped} skipped, {s.failed} failed")
    if report_path is not None:
        report_path.write_text(report.model_dump_json(indent=2))
        out_console.print(f"report: {escape(str(report_path))}")
    if s.failed:
        raise SystemExit(1)


def _targets_option(kind: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option(
        f"--{kind}",
        f"{kind}_urls",
        multiple=True,
        metavar="URL",
        help=f"A {'job queue' if kind == 'jobs' else kind} URL; repeat for each column.",
    )


@conformance.command("matrix")
@_targets_option("storage")
@_targets_option("jobs")
@_targets_option("compute")
@_targets_option("services")
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the matrices as markdown here.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the matrix as JSON here (an object by suite when several run).",
)
def matrix(
    *,
    storage_urls: tuple[str, ...],
    jobs_urls: tuple[str, ...],
    compute_urls: tuple[str, ...],
    services_urls: tuple[str, ...],
    markdown_path: Path | None,
    json_path: Path | None,
) -> None:
    """Run the suites against several targets and print one portability matrix per suite."""
    from portacloud_conformance.report import Matrix

    wanted = {
        kind: urls
        for kind, urls in zip(
            _KINDS, (storage_urls, jobs_urls, compute_urls, services_urls), strict=True
        )
        if urls
    }
    if not wanted:
        raise click.UsageError("give at least one --storage, --jobs, --compute or --services URL")
    runner = _suite()
    matrices: dict[str, Matrix] = {}
    failed = False
    for kind, urls in wanted.items():
        reports = []
        for url in urls:
            err_console.print(f"running the {kind} suite against {escape(url)} ...")
            reports.append(runner.run_suite(kind, url))
        caps = {url: runner.capabilities(kind, url) for url in urls}
        matrices[kind] = Matrix.from_reports(reports, caps)
        failed = failed or any(r.summary.failed for r in reports)
    text = "\n".join(
        f"## {kind}\n\n{m.to_markdown()}" if len(matrices) > 1 else m.to_markdown()
        for kind, m in matrices.items()
    )
    out_console.print(text, markup=False)
    if markdown_path is not None:
        markdown_path.write_text(text)
    if json_path is not None:
        if len(matrices) == 1:
            json_path.write_text(next(iter(matrices.values())).model_dump_json(indent=2))
        else:
            data = {kind: m.model_dump(mode="json") for kind, m in matrices.items()}
            json_path.write_text(json.dumps(data, indent=2))
    if failed:
        raise SystemExit(1)
