"""Turn the figures of the reliability tests into RELIABILITY.md.

    python scripts/reliability_report.py [reports/reliability.json] [RELIABILITY.md]

tests/faults/ writes the JSON (see tests/faults/conftest.py); this script only formats it, so
the page always shows what the last run measured. A section the run did not produce is listed
as not measured rather than left out.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = ROOT / "reports" / "reliability.json"
DEFAULT_MD = ROOT / "RELIABILITY.md"
BACKENDS = ("s3", "gcs", "azure")
FAULT_KINDS = ("throttle_503", "throttle_429", "reset", "truncate", "corrupt", "delay")


def _n(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _missing(title: str) -> list[str]:
    return [f"_Not measured in this run ({title})._", ""]


def _operations(section: Mapping[str, Any]) -> list[str]:
    out = ["## 1,000 operations under injected faults", ""]
    if not section:
        return out + _missing("tests/faults/test_reliability.py::test_operations_under_faults")
    names = [n for n in BACKENDS if n in section]
    rows = []
    fields = [
        ("server", "server"),
        ("operations", "operations"),
        ("requests_at_proxy", "requests at the proxy"),
        ("clean_requests", "requests the same operations make without faults"),
        ("request_bound", "bound: clean requests x 5 tries"),
        ("error_faults", "faults that fail a request"),
        ("retries", "retries (portable policy, one owner)"),
        ("faults_without_retry", "faults absorbed without a retry"),
        ("stream_restarts", "streamed writes restarted by the caller"),
        ("retry_after_honoured", "Retry-After answers honoured"),
        ("retry_after_checked_at_proxy", "...of which timed at the proxy"),
        ("max_attempt", "most tries one call needed"),
        ("mean_delay_s", "mean backoff delay (s)"),
        ("objects_verified", "objects verified byte for byte at the end"),
        ("bytes_stored_verified", "bytes verified at the end"),
        ("bytes_verified_by_gets", "bytes verified by gets"),
        ("objects_lost", "**objects lost**"),
    ]
    for key, label in fields:
        rows.append([label, *(_n(section[n].get(key, "")) for n in names)])
    for kind in FAULT_KINDS:
        rows.append(
            [f"faults injected: {kind}", *(_n(section[n]["faults"].get(kind, 0)) for n in names)]
        )
    out += _table(["", *names], rows)
    first = section[names[0]]
    out += [
        f"Seed {first.get('seed')}, fault rate {first.get('rate')}: each request is faulted with "
        "that probability, the kind drawn by weight. Operations: puts of in-memory bytes and "
        "streamed writes (small parts, so multipart / resumable / block uploads run), whole "
        "gets, heads, lists and deletes on 300 keys, sizes from 0 to 8 MiB.",
        "",
        "Per operation the test asserts: retries <= faults injected into it (no retry without a "
        "fault, at most one per fault); requests <= clean requests x (1 + retries + restarts) "
        "+ one clean-up request per failed try (no layer retried unseen: the Azure SDK's "
        "downloader did, and was removed); every delay within the policy's ceiling, "
        "`Retry-After` used up to the cap, and the next request not sooner than it asked.",
        "",
    ]
    examples = [e for n in names for e in section[n].get("absorbed_examples", [])][:6]
    if examples:
        out += [
            "Faults that cost no retry of their own: answers cut inside their header block, "
            "which HTTP/1.1 clients accept (the end of the stream ends the headers; a bodyless "
            "answer such as PutObject's or a HEAD's lost nothing the call needed), several "
            "faults on parallel parts of one attempt, and streamed writes the caller restarted. "
            "Examples (fault, method, status sent):",
            "",
            *[f"- {e}" for e in examples],
            "",
        ]
    return out


def _migrations(section: Mapping[str, Any]) -> list[str]:
    out = ["## A full migration under injected faults", ""]
    if not section:
        return out + _missing("test_migration_under_faults")
    rows = []
    for name, m in section.items():
        faults = sum(v for k, v in m["faults"].items() if k != "delay")
        rows.append(
            [
                name,
                _n(m["objects"]),
                _n(m["bytes"]),
                _n(faults),
                _n(m["requests_at_proxies"]),
                _n(m["clean_requests"]),
                _n(m["retries"]),
                _n(m["runs_needed"]),
                _n(m["verified"]),
                f"**{_n(m['objects_lost'])}**",
            ]
        )
    out += _table(
        [
            "source -> destination",
            "objects",
            "bytes",
            "faults",
            "requests",
            "clean run",
            "retries",
            "runs",
            "verified",
            "lost",
        ],
        rows,
    )
    out += [
        "Both sides sit behind faulting proxies. A run that ends with failed objects is "
        "resumed with its journal ('runs'); the destination is then read behind the driver's "
        "back and compared with the source, byte for byte.",
        "",
    ]
    firsts = [f for m in section.values() for f in m.get("first_run_failures", [])][:4]
    if firsts:
        out += ["Why first runs left objects for the resume, for example:", ""]
        out += [f"- `{f}`" for f in firsts] + [""]
    return out


def _crash(section: Mapping[str, Any]) -> list[str]:
    out = ["## kill -9 during writes and migrations", ""]
    if not section:
        return out + _missing("tests/faults/test_crash_safety.py")
    rows = []
    for name in BACKENDS:
        if name not in section:
            continue
        c = section[name]
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(c["outcomes"].items()))
        left = c["invisible_leftovers"]
        left_text = (
            ", ".join(f"{k}: {v}" for k, v in left.items()) if isinstance(left, dict) else left
        )
        rows.append(
            [
                f"{name} ({c['server']})",
                _n(c["trials"]),
                outcomes,
                f"**{_n(c['partial_objects_visible'])}**",
                _n(c["migrations_resumed_and_verified"]),
                left_text,
            ]
        )
    out += _table(
        [
            "backend",
            "trials",
            "outcomes (kind:how it ended:what is visible)",
            "partial objects visible",
            "migrations resumed to verified",
            "invisible leftovers",
        ],
        rows,
    )
    out += [
        "Leftovers are invisible and never become objects, but S3 bills open multipart uploads "
        "and Azure keeps uncommitted blocks until it collects them (a week). The portable answer "
        "is a bucket lifecycle rule (S3 `AbortIncompleteMultipartUpload`) or a periodic "
        "cleanup; GCS resumable sessions cannot be listed and expire after a week.",
        "",
    ]
    return out


def _races(section: Mapping[str, Any]) -> list[str]:
    out = ["## Conditional-write races", ""]
    if not section:
        return out + _missing("tests/faults/test_conditional_races.py")
    rows = [
        [
            name,
            ", ".join(r["modes"]),
            _n(r["threads"]),
            _n(r["processes"]),
            _n(r["rounds"]),
            f"{_n(r['rounds_with_exactly_one_winner'])} / {_n(r['rounds'])}",
        ]
        for name, r in section.items()
    ]
    out += _table(
        ["backend", "modes", "threads", "processes", "rounds", "rounds with exactly one winner"],
        rows,
    )
    return out


def _checksums(section: Mapping[str, Any]) -> list[str]:
    out = ["## Damaged bodies", ""]
    if not section:
        return out + _missing("tests/faults/test_checksums.py")
    rows = [
        [name, ", ".join(f"{k}: {_n(v)}" for k, v in sorted(values.items()))]
        for name, values in sorted(section.items())
    ]
    out += _table(["case", "outcomes"], rows)
    out += [
        "Every object-data answer (or upload) is damaged, so every try fails: the call must end "
        "in an error, never in bad bytes, and nothing damaged may be stored. Whole reads are "
        "checked against the CRC32C, ranged reads against their length; a flipped byte inside a "
        "ranged read cannot be detected (S3 and GCS have no checksum of an arbitrary range) and "
        "is left to the transport (TLS).",
        "",
    ]
    return out


def _secrets(section: Mapping[str, Any]) -> list[str]:
    out = ["## Secrets", ""]
    if not section:
        return out + _missing("tests/faults/test_secrets.py")
    rows = [
        [
            name,
            _n(s["canaries"]),
            _n(s["log_records_searched"]),
            _n(s["errors_searched"]),
            _n(s["texts_searched"]),
            f"**{_n(s['canaries_found'])}**",
        ]
        for name, s in section.items()
    ]
    out += _table(
        ["where", "canaries", "log records (DEBUG)", "errors", "other texts", "canaries found"],
        rows,
    )
    return out


def _summary(sections: Mapping[str, Any]) -> list[str]:
    ops = sections.get("operations", {})
    migrations = sections.get("migrations", {})
    crash = sections.get("crash", {})
    faults = sum(v.get("error_faults", 0) for v in ops.values())
    faults += sum(m.get("error_faults", 0) for m in migrations.values())
    delays = sum(v["faults"].get("delay", 0) for v in ops.values())
    delays += sum(m["faults"].get("delay", 0) for m in migrations.values())
    operations = sum(v.get("operations", 0) for v in ops.values())
    retries = sum(v.get("retries", 0) for v in ops.values())
    retries += sum(m.get("retries", 0) for m in migrations.values())
    requests = sum(v.get("requests_at_proxy", 0) for v in ops.values())
    requests += sum(m.get("requests_at_proxies", 0) for m in migrations.values())
    lost = sum(v.get("objects_lost", 0) for v in ops.values())
    lost += sum(m.get("objects_lost", 0) for m in migrations.values())
    partial = sum(c.get("partial_objects_visible", 0) for c in crash.values())
    trials = sum(c.get("trials", 0) for c in crash.values())
    leaks = sum(s.get("canaries_found", 0) for s in sections.get("secrets", {}).values())
    rows = [
        ["faults injected (failing a request)", _n(faults)],
        ["delays injected", _n(delays)],
        ["operations", _n(operations)],
        ["migrations", _n(len(migrations))],
        ["requests at the proxies", _n(requests)],
        ["retries", _n(retries)],
        ["kill -9 trials", _n(trials)],
        ["partial objects visible after kill -9", f"**{_n(partial)}**"],
        ["canaries found in logs, errors, reprs, CLI output", f"**{_n(leaks)}**"],
        ["**objects lost**", f"**{_n(lost)}**"],
    ]
    return _table(["", "total"], rows)


def render(document: Mapping[str, Any]) -> str:
    """The Markdown page for one figures document."""
    sections = document.get("sections", {})
    lines = [
        "# Reliability",
        "",
        "Generated by the test run (`tests/faults/`, then `scripts/reliability_report.py`); do "
        "not edit by hand.",
        f"Seed {document.get('seed')}, {document.get('generated')}. Servers: SeaweedFS (S3), "
        "fake-gcs-server (GCS), Azurite (Azure), behind a fault-injecting proxy "
        "(`tests/faults/proxy.py`). Retry policy: docs/decisions/0001-retries.md.",
        "",
        *_summary(sections),
        *_operations(sections.get("operations", {})),
        *_migrations(sections.get("migrations", {})),
        *_checksums(sections.get("checksums", {})),
        *_crash(sections.get("crash", {})),
        *_races(sections.get("races", {})),
        *_secrets(sections.get("secrets", {})),
    ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str]) -> int:
    """Read the JSON, write the page; exit 1 if the JSON is missing."""
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_JSON
    target = Path(argv[2]) if len(argv) > 2 else DEFAULT_MD
    if not source.exists():
        print(f"{source} does not exist: run the tests in tests/faults/ first", file=sys.stderr)
        return 1
    target.write_text(render(json.loads(source.read_text())))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
