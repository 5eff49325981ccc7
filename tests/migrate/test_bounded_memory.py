"""Memory of a migration follows its concurrency, never the number of objects.

benchmarks/bench_migrate_memory.py measures peak RSS for 1 x 2 GiB and 100,000 x 1 KiB; these
tests pin the mechanisms that make those numbers flat, without timing anything: rows are
pulled from the journal only as copies finish, never all at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import portacloud
from portacloud.migrate import engine as engine_module
from portacloud.migrate import migrate
from portacloud.migrate.verify import bounded_map


def test_bounded_map_pulls_items_only_as_results_are_taken() -> None:
    pulled = 0
    taken = 0
    most_ahead = 0
    lock = threading.Lock()

    def items() -> Iterator[int]:
        nonlocal pulled, most_ahead
        for i in range(5000):
            with lock:
                pulled += 1
                most_ahead = max(most_ahead, pulled - taken)
            yield i

    with ThreadPoolExecutor(max_workers=4) as pool:
        for item, doubled in bounded_map(pool, lambda i: 2 * i, items(), window=8):
            assert doubled == 2 * item
            with lock:
                taken += 1
    assert taken == 5000
    # The window, plus the one item pulled while waiting for a slot.
    assert most_ahead <= 9, most_ahead


def test_copy_phase_holds_a_window_of_rows_however_many_objects(
    memory_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count, concurrency = 2500, 3
    src = portacloud.open_bucket(f"memory://{memory_name}-src")
    for i in range(count):
        src.put(f"d{i % 7}/k{i:05d}", i.to_bytes(4, "big"))
    started = recorded = most_in_flight = 0
    lock = threading.Lock()
    copier_call = engine_module.Copier.__call__
    record_copy = engine_module._Engine._record_copy

    def counting_call(self: Any, row: Any) -> Any:
        nonlocal started, most_in_flight
        with lock:
            started += 1
            most_in_flight = max(most_in_flight, started - recorded)
        return copier_call(self, row)

    def counting_record(self: Any, before: Any, outcome: Any) -> None:
        nonlocal recorded
        with lock:
            recorded += 1
        record_copy(self, before, outcome)

    monkeypatch.setattr(engine_module.Copier, "__call__", counting_call)
    monkeypatch.setattr(engine_module._Engine, "_record_copy", counting_record)
    result = migrate(
        f"memory://{memory_name}-src",
        f"memory://{memory_name}-dst",
        journal=tmp_path / "j.sqlite",
        concurrency=concurrency,
    )
    assert result.ok, result.failures
    assert (result.copied, result.verified) == (count, count)
    assert (started, recorded) == (count, count)
    # bounded_map's window (2 x concurrency): rows in flight never grow with the object count.
    assert most_in_flight <= 2 * concurrency, most_in_flight
