"""Conformance reports: one target's results, and a matrix across targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["Matrix", "Report", "Result", "SuiteKind", "Summary", "normalise_test_id"]

Outcome = Literal["passed", "skipped", "failed"]
SuiteKind = Literal["storage", "jobs", "compute", "services"]


class Result(BaseModel):
    """The outcome of one test on one target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    test: str
    outcome: Outcome
    reason: str | None = None


class Summary(BaseModel):
    """Counts of outcomes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    passed: int = 0
    skipped: int = 0
    failed: int = 0


class Report(BaseModel):
    """Everything one run of the suite against one target found."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str
    kind: SuiteKind
    summary: Summary
    results: tuple[Result, ...]

    @classmethod
    def build(cls, *, target: str, kind: SuiteKind, results: Sequence[Result]) -> Report:
        """Make a report, computing the summary from the results."""
        counts = {"passed": 0, "skipped": 0, "failed": 0}
        for r in results:
            counts[r.outcome] += 1
        return cls(target=target, kind=kind, summary=Summary(**counts), results=tuple(results))


class Matrix(BaseModel):
    """Tests and capabilities (rows) by targets (columns).

    Attributes:
        targets: The targets, in column order.
        tests: test id -> target -> result.
        capabilities: capability name -> target -> declared value.
        summaries: target -> counts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: SuiteKind
    targets: tuple[str, ...]
    tests: Mapping[str, Mapping[str, Result]]
    capabilities: Mapping[str, Mapping[str, str]]
    summaries: Mapping[str, Summary]

    @classmethod
    def from_reports(
        cls, reports: Sequence[Report], capabilities: Mapping[str, Mapping[str, object]]
    ) -> Matrix:
        """Combine per-target reports; ``capabilities`` maps target -> capability -> value."""
        tests: dict[str, dict[str, Result]] = {}
        for report in reports:
            for result in report.results:
                tests.setdefault(result.test, {})[report.target] = result
        caps: dict[str, dict[str, str]] = {}
        for target, values in capabilities.items():
            for name, value in values.items():
                caps.setdefault(name, {})[target] = str(value)
        return cls(
            kind=reports[0].kind if reports else "storage",
            targets=tuple(r.target for r in reports),
            tests=tests,
            capabilities=caps,
            summaries={r.target: r.summary for r in reports},
        )

    def to_markdown(self) -> str:
        """Render as a GitHub markdown table (reasons of skips and failures as footnotes)."""
        header = "| test | " + " | ".join(f"`{t}`" for t in self.targets) + " |"
        lines = [header, "|---" * (len(self.targets) + 1) + "|"]
        notes: dict[str, int] = {}  # reason -> footnote number, so each reason is listed once
        symbols = {"passed": "pass", "skipped": "skip", "failed": "**FAIL**"}
        for test in sorted(self.tests):
            cells = []
            for target in self.targets:
                result = self.tests[test].get(target)
                if result is None:
                    cells.append("-")
                    continue
                cell = symbols[result.outcome]
                if result.reason and result.outcome != "passed":
                    number = notes.setdefault(result.reason, len(notes) + 1)
                    cell += f" [{number}]"
                cells.append(cell)
            lines.append(f"| {test} | " + " | ".join(cells) + " |")
        lines.append(
            "| **summary** | "
            + " | ".join(
                f"{s.passed} passed, {s.skipped} skipped, {s.failed} failed"
                for s in (self.summaries[t] for t in self.targets)
            )
            + " |"
        )
        lines += ["", "| capability | " + " | ".join(f"`{t}`" for t in self.targets) + " |"]
        lines.append("|---" * (len(self.targets) + 1) + "|")
        for name in sorted(self.capabilities):
            lines.append(
                f"| {name} | "
                + " | ".join(self.capabilities[name].get(t, "-") for t in self.targets)
                + " |"
            )
        if notes:
            lines += ["", *[f"[{number}] {reason}" for reason, number in notes.items()]]
        return "\n".join(lines) + "\n"


def normalise_test_id(nodeid: str) -> str:
    """Make a pytest node id independent of where the package is installed."""
    marker = "portacloud_conformance/"
    return nodeid.split(marker, 1)[1] if marker in nodeid else nodeid
