"""16 threads and 4 processes race create-only and compare-and-swap writes on the same keys.

The conformance suite (portacloud_conformance.storage.test_conditional / test_concurrency)
races 8 threads, or 4 processes, for a round or two. Here every backend that claims
``write_with_if_none_match`` / ``write_with_if_match`` gets 20 contenders at once, 16 threads
of this process and 4 processes (where it claims ``cross_process_atomic``), released together
by one barrier, for several rounds of each kind. Every round must have exactly one winner,
every loser must see FAILED_PRECONDITION, and the object must hold the winner's bytes.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import crash_child
import pytest
from backends import backend
from conftest import Figures

import portacloud

pytestmark = pytest.mark.usefixtures("backend_env")

THREADS = 16
PROCESSES = 4
ROUNDS = int(os.environ.get("PORTACLOUD_RACE_ROUNDS", "8"))  # half create-only, half if-match
TARGETS = ("s3", "gcs", "azure", "file", "memory")


@pytest.fixture
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """``(name, url, env, container context or None)`` for one backend."""
    name = request.param
    if name == "file":
        yield name, (tmp_path / "races").as_uri(), {}
        return
    if name == "memory":
        yield name, "memory://races", {}
        return
    be = backend(name)
    with be.container() as container:
        yield be.server, be.url(container, be.upstream), be.env()


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_exactly_one_winner_per_round(target: Any, figures: Figures, forkserver: Any) -> None:
    name, url, env = target
    bucket = portacloud.open_bucket(url)
    caps = bucket.capabilities
    modes = [
        m
        for m, cap in (("create", "write_with_if_none_match"), ("cas", "write_with_if_match"))
        if getattr(caps, cap)
    ]
    if not modes:
        pytest.skip(f"{name} claims neither conditional write")
    processes = PROCESSES if caps.cross_process_atomic else 0
    context = forkserver
    barrier = context.Barrier(THREADS + processes)
    results = context.Queue()
    commands = [context.Queue() for _ in range(processes)]
    workers = [
        context.Process(
            target=crash_child.race,
            args=(url, env, i, commands[i], results, barrier),
            daemon=True,
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    winners: Counter[int] = Counter()
    try:
        for round_ in range(ROUNDS):
            mode = modes[round_ % len(modes)]
            key = f"race/{round_:02d}"
            etag = bucket.put(key, b"initial").etag if mode == "cas" else None
            for queue in commands:
                queue.put((round_, key, mode, etag))
            outcomes: list[tuple[str, str, bytes]] = []
            lock = threading.Lock()

            def thread(
                i: int,
                round_: int,
                key: str,
                mode: str,
                etag: str | None,
                outcomes: list[tuple[str, str, bytes]],
                lock: threading.Lock,
            ) -> None:
                body = f"thread {i} round {round_}".encode()
                barrier.wait()
                outcome = crash_child.attempt(bucket, key, mode, etag, body)
                with lock:
                    outcomes.append((f"t{i}", outcome, body))

            threads = [
                threading.Thread(target=thread, args=(i, round_, key, mode, etag, outcomes, lock))
                for i in range(THREADS)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            for _ in range(processes):
                _, who, outcome, body = results.get(timeout=120)
                outcomes.append((who, outcome, body))
            tally = Counter(outcome for _, outcome, _ in outcomes)
            assert len(outcomes) == THREADS + processes
            assert tally == {"won": 1, "lost": THREADS + processes - 1}, (mode, tally)
            winner_body = next(body for _, outcome, body in outcomes if outcome == "won")
            assert bucket.get(key) == winner_body
            winners[round_] = tally["won"]
    finally:
        for queue in commands:
            queue.put(None)
        for worker in workers:
            worker.join(30)
        bucket.close()
    figures.add(
        "races",
        name,
        {
            "rounds": ROUNDS,
            "modes": modes,
            "threads": THREADS,
            "processes": processes,
            "contenders_per_round": THREADS + processes,
            "rounds_with_exactly_one_winner": sum(1 for n in winners.values() if n == 1),
        },
    )
