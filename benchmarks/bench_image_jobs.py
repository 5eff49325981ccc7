"""Image jobs vs the same ``podman run`` by hand: submit-to-RUNNING and submit-to-container-start.

On each backend (local, Ray, Slurm) two jobs are submitted ROUNDS times, alternating which goes
first: a portacloud image job (``JobSpec(image=...)``) and a plain job whose command is the
``podman run`` a user would write by hand. Both run a container of the test shell image
(``$PORTACLOUD_TEST_IMAGE_SHELL``, pulled beforehand: a warm image) that touches a file in a
directory of this machine; the time from submit to that file's appearance is when the user's
code starts. Medians and ratios (image job / by hand) are reported, never asserted. Needs the
servers of scripts/services.sh (registry, ray, slurm).
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import portacloud
from portacloud import JobSpec, JobState

ROUNDS = 5
POLL = 0.05
LIMIT = 120.0
RAY = os.environ.get("PORTACLOUD_TEST_RAY_ADDRESS", "http://127.0.0.1:19111")
PODMAN_CONFIG = ("CONTAINERS_CONF", "CONTAINERS_REGISTRIES_CONF")
ENGINES = {
    "local": "local://bench-image",
    "ray": RAY.replace("http://", "ray://"),
    "slurm": "slurm://debug",
}


def _spec(kind: str, image: str, marks: Path) -> tuple[JobSpec, Callable[[str | None], Path]]:
    """The job of ``kind`` (``image`` or ``by_hand``), and where (given the job's output URI)
    its container touches a file once it runs."""
    if kind == "image":
        # The job's file:// output directory is mounted into its container.
        touch = 'touch "${PORTACLOUD_OUTPUT_URI#file://}started"'
        spec = JobSpec(name="bench-image", image=image, command=touch)
        return spec, lambda output_uri: Path(urlsplit(output_uri or "").path) / "started"
    # What a user writes without image support: podman in the command, a directory mounted.
    mark = marks / f"by-hand-{uuid.uuid4().hex[:8]}"
    podman = shlex.join(
        [
            "podman", "run", "--rm", "--network", "host", "--tls-verify=false",
            "-v", f"{marks}:{marks}", image, "/bin/sh", "-c", f"touch {mark}",
        ]
    )  # fmt: skip
    config = {n: os.environ[n] for n in PODMAN_CONFIG if os.environ.get(n)}
    return JobSpec(name="bench-by-hand", command=podman, env=config), lambda _uri: mark


def _timed(
    queue: portacloud.JobQueue, spec: JobSpec, mark_of: Callable[[str | None], Path]
) -> tuple[float, float]:
    """Seconds from submit to RUNNING (or later) and to the container's first action."""
    started = time.perf_counter()
    job = queue.submit(spec)
    mark = mark_of(job.output_uri)
    running = container = None
    while running is None or container is None:
        now = time.perf_counter() - started
        if container is None and mark.exists():
            container = now
        if running is None:
            state = queue.status(job.id).state
            if state is JobState.RUNNING or state.terminal:
                running = now
            if state.terminal and state is not JobState.SUCCEEDED:
                raise RuntimeError(f"{spec.name} ended {state.value}: {queue.logs(job.id)}")
        if now > LIMIT:
            raise RuntimeError(f"{spec.name} did not start within {LIMIT:g} s")
        time.sleep(POLL)
    queue.wait(job.id, timeout=LIMIT)
    return running, container


def _measure(url: str, image: str, marks: Path) -> dict[str, object]:
    samples: dict[str, list[tuple[float, float]]] = {"image": [], "by_hand": []}
    with portacloud.open_jobs(url, outputs=(marks / "outputs").as_uri()) as queue:
        for i in range(ROUNDS):
            order = ["image", "by_hand"] if i % 2 == 0 else ["by_hand", "image"]
            for kind in order:
                spec, mark_of = _spec(kind, image, marks)
                samples[kind].append(_timed(queue, spec, mark_of))
    entry: dict[str, object] = {
        kind: {
            "to_running_s": statistics.median(v[0] for v in values),
            "to_container_s": statistics.median(v[1] for v in values),
        }
        for kind, values in samples.items()
    }
    ours, hand = entry["image"], entry["by_hand"]
    for key in ("to_running_s", "to_container_s"):
        entry[f"ratio_{key.removesuffix('_s')}"] = ours[key] / hand[key]  # type: ignore[index]
    return entry


def _markdown(report: dict[str, object], results: dict[str, dict[str, object]]) -> str:
    lines = [
        "# Image jobs: portacloud's `image` vs the same `podman run` by hand",
        "",
        f"{report['date']}, 2 CPUs, podman {report['podman']} (runc), warm busybox image "
        f"from the loopback registry, {ROUNDS} rounds, poll every {POLL} s, medians.",
        "RUNNING: the backend says so; container: the container's command has run.",
        "",
        "| engine | image job RUNNING / container (s) | by hand RUNNING / container (s) "
        "| ratio RUNNING / container |",
        "|---|---|---|---|",
    ]
    for name, e in results.items():
        ours, hand = e["image"], e["by_hand"]
        lines.append(
            f"| {name} | {ours['to_running_s']:.2f} / {ours['to_container_s']:.2f} "  # type: ignore[index]
            f"| {hand['to_running_s']:.2f} / {hand['to_container_s']:.2f} "  # type: ignore[index]
            f"| {e['ratio_to_running']:.2f}x / {e['ratio_to_container']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    image = os.environ.get("PORTACLOUD_TEST_IMAGE_SHELL")
    if not image:
        raise SystemExit("PORTACLOUD_TEST_IMAGE_SHELL is unset: scripts/services.sh start")
    subprocess.run(["podman", "pull", "-q", "--tls-verify=false", image], check=True)  # warm
    version = subprocess.run(
        ["podman", "version", "--format", "{{.Client.Version}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-image-") as scratch:
        marks = Path(scratch)
        marks.chmod(0o755)
        results = {name: _measure(url, image, marks) for name, url in ENGINES.items()}
    for name, entry in results.items():
        print(name, json.dumps(entry))
    report: dict[str, object] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "podman": version,
        "rounds": ROUNDS,
        "poll_s": POLL,
        "results": results,
    }
    out = Path(__file__).parent / "results"
    (out / "image-jobs.json").write_text(json.dumps(report, indent=2))
    text = _markdown(report, results)
    (out / "image-jobs.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
