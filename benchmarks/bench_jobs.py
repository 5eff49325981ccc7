"""Submit-to-RUNNING and submit-to-SUCCEEDED latency of a trivial job, portacloud vs raw.

On each engine the same trivial job (`true`) is submitted ROUNDS times through portacloud and
through the engine's own API (Ray's JobSubmissionClient; sbatch + scontrol for Slurm), polled
at the same interval, alternating which goes first. Reported as medians and ratios; never
asserted. Needs the engines of scripts/services.sh (ray, slurm) running.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import portacloud
from portacloud import JobSpec, JobState

ROUNDS = 5
POLL = 0.05
RAY = os.environ.get("PORTACLOUD_TEST_RAY_ADDRESS", "http://127.0.0.1:19111")


def _timed(submit: Callable[[], object], state_of: Callable[[object], str]) -> tuple[float, float]:
    started = time.perf_counter()
    handle = submit()
    running = None
    while True:
        state = state_of(handle)
        now = time.perf_counter() - started
        if running is None and state in ("RUNNING", "SUCCEEDED", "COMPLETED", "COMPLETING"):
            running = now
        if state in ("SUCCEEDED", "COMPLETED"):
            return running or now, now
        if state in ("FAILED", "CANCELLED", "STOPPED"):
            raise RuntimeError(f"trivial job ended {state}")
        time.sleep(POLL)


def _portacloud(url: str) -> tuple[float, float]:
    queue = portacloud.open_jobs(url)
    spec = JobSpec(name="bench", command="true")

    def state_of(job: object) -> str:
        state = queue.status(job.id).state  # type: ignore[attr-defined]
        return "RUNNING" if state is JobState.RUNNING else state.value

    return _timed(lambda: queue.submit(spec), state_of)


def _ray_raw() -> tuple[float, float]:
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(RAY)
    return _timed(
        lambda: client.submit_job(entrypoint="true"),
        lambda job_id: str(client.get_job_status(job_id).value),  # type: ignore[arg-type]
    )


def _slurm_raw() -> tuple[float, float]:
    def submit() -> str:
        out = subprocess.run(
            ["sbatch", "--parsable", "-p", "debug", "-o", "/dev/null", "--wrap", "true"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip().split(";")[0]

    def state_of(job_id: object) -> str:
        out = subprocess.run(
            ["scontrol", "-o", "show", "job", str(job_id)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        for field in out.split():
            if field.startswith("JobState="):
                return field.split("=", 1)[1]
        return "PENDING"

    return _timed(submit, state_of)


def _measure(
    ours: Callable[[], tuple[float, float]], raw: Callable[[], tuple[float, float]] | None
) -> dict[str, object]:
    """Medians of ROUNDS runs of each, the first alternating between rounds, and the ratios."""
    samples: dict[str, list[tuple[float, float]]] = {"portacloud": [], "raw": []}
    for i in range(ROUNDS):
        order = [("portacloud", ours), ("raw", raw)]
        for label, fn in order if i % 2 == 0 else reversed(order):
            if fn is not None:
                samples[label].append(fn())
    entry: dict[str, object] = {}
    for label, values in samples.items():
        if values:
            entry[label] = {
                "to_running_s": statistics.median(v[0] for v in values),
                "to_succeeded_s": statistics.median(v[1] for v in values),
            }
    if samples["raw"]:
        ours_m, raw_m = entry["portacloud"], entry["raw"]
        entry["ratio_to_running"] = ours_m["to_running_s"] / raw_m["to_running_s"]  # type: ignore[index]
        entry["ratio_to_succeeded"] = ours_m["to_succeeded_s"] / raw_m["to_succeeded_s"]  # type: ignore[index]
    return entry


def main() -> None:
    engines: dict[
        str, tuple[Callable[[], tuple[float, float]], Callable[[], tuple[float, float]] | None]
    ] = {
        "local": (lambda: _portacloud("local://bench"), None),
        "ray": (lambda: _portacloud(RAY.replace("http://", "ray://")), _ray_raw),
        "slurm": (lambda: _portacloud("slurm://debug"), _slurm_raw),
    }
    results = {name: _measure(ours, raw) for name, (ours, raw) in engines.items()}
    for name, entry in results.items():
        print(name, json.dumps(entry))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": ROUNDS,
        "poll_s": POLL,
        "results": results,
    }
    out = Path(__file__).parent / "results"
    (out / "jobs.json").write_text(json.dumps(report, indent=2))
    lines = [
        "# Job submit latency: portacloud vs the engine's own API",
        "",
        f"{report['date']}, 2 CPUs, trivial job `true`, {ROUNDS} rounds, "
        f"poll every {POLL} s, medians.",
        "",
        "| engine | portacloud to RUNNING / SUCCEEDED (s) | raw to RUNNING / SUCCEEDED (s) "
        "| ratio RUNNING / SUCCEEDED |",
        "|---|---|---|---|",
    ]
    for name, entry in results.items():
        ours_m = entry["portacloud"]
        raw_m = entry.get("raw")
        raw_txt = f"{raw_m['to_running_s']:.2f} / {raw_m['to_succeeded_s']:.2f}" if raw_m else "-"  # type: ignore[index]
        ratio = (
            f"{entry['ratio_to_running']:.2f}x / {entry['ratio_to_succeeded']:.2f}x"
            if raw_m
            else "-"
        )
        ours_txt = f"{ours_m['to_running_s']:.2f} / {ours_m['to_succeeded_s']:.2f}"  # type: ignore[index]
        lines.append(f"| {name} | {ours_txt} | {raw_txt} | {ratio} |")
    (out / "jobs.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
