"""Fixtures of the reliability tests: the figures file, the retry counter, backend identities.

Every module here adds its measurements to one session-wide :class:`Figures`; when the session
ends they are written as JSON (``$PORTACLOUD_RELIABILITY_JSON``, default
``reports/reliability.json``), which ``scripts/reliability_report.py`` turns into
``RELIABILITY.md``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from backends import Backend

ROOT = Path(__file__).resolve().parents[2]
FIGURES_ENV = "PORTACLOUD_RELIABILITY_JSON"
#: The schedule's seed: fixed, so a failure reproduces; override to explore others.
SEED = int(os.environ.get("PORTACLOUD_FAULT_SEED", "20261127"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here talks to real servers."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.integration)


class Figures:
    """Measurements of this session, by section, written as JSON at the end."""

    def __init__(self) -> None:
        self.sections: dict[str, Any] = {}
        self._lock = threading.Lock()

    def add(self, section: str, name: str, value: Any) -> None:
        """Record ``value`` under ``section`` / ``name``."""
        with self._lock:
            self.sections.setdefault(section, {})[name] = value

    def write(self, path: Path) -> None:
        """Write everything recorded, with the seed and the time."""
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "generated": datetime.now(UTC).isoformat(timespec="seconds"),
            "seed": SEED,
            "sections": self.sections,
        }
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    """The session's figures; written when the session ends, if anything was recorded."""
    collected = Figures()
    yield collected
    if collected.sections:
        # Only what this session measured: a section it did not run is reported as not
        # measured, never carried over from an older run.
        collected.write(Path(os.environ.get(FIGURES_ENV) or ROOT / "reports" / "reliability.json"))


@dataclass
class RetryEvent:
    """One retry, as ``portacloud.retry`` logged it."""

    thread: str
    attempt: int
    delay: float
    retry_after: float | None
    code: str
    operation: str | None


class RetryLog(logging.Handler):
    """Counts the retries the one retry policy performs (``portacloud.retry`` DEBUG records)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.events: list[RetryEvent] = []
        self._events_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the structured part of a retry record."""
        data = getattr(record, "portacloud_retry", None)
        if not isinstance(data, dict):
            return
        event = RetryEvent(
            thread=record.threadName or "",
            attempt=int(data["attempt"]),
            delay=float(data["delay"]),
            retry_after=data["retry_after"],
            code=str(data["code"]),
            operation=data.get("operation"),
        )
        with self._events_lock:
            self.events.append(event)

    @property
    def count(self) -> int:
        """Retries so far."""
        with self._events_lock:
            return len(self.events)

    def count_in(self, threads: tuple[str, ...]) -> int:
        """Retries so far made by threads whose names start with one of ``threads``."""
        with self._events_lock:
            return sum(1 for e in self.events if e.thread.startswith(threads))

    def events_in(self, threads: tuple[str, ...]) -> list[RetryEvent]:
        """The retries made by threads whose names start with one of ``threads``."""
        with self._events_lock:
            return [e for e in self.events if e.thread.startswith(threads)]


@contextlib.contextmanager
def retries_logged() -> Iterator[RetryLog]:
    """Every retry made inside the block."""
    handler = RetryLog()
    logger = logging.getLogger("portacloud.retry")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def retry_log() -> Iterator[RetryLog]:
    """Every retry made during the test."""
    with retries_logged() as handler:
        yield handler


@pytest.fixture
def backend_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test identities of every backend, and nothing else from this machine's AWS setup."""
    set_backend_env(monkeypatch)


def set_backend_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set the test identities of every backend through ``monkeypatch``."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    conn = os.environ.get("PORTACLOUD_TEST_AZURITE_CONNECTION_STRING")
    if conn:
        env["AZURE_STORAGE_CONNECTION_STRING"] = conn
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def child_env(backend: Backend) -> dict[str, str]:
    """The environment of a child process working on ``backend``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(backend.env())
    return env


#: Imported once by the forkserver, so that child processes start in milliseconds.
_PRELOAD = [
    "crash_child",
    "portacloud",
    "portacloud.migrate",
    "portacloud_aws.storage",
    "portacloud_gcp.storage",
    "portacloud_azure.storage",
    "boto3",
    "google.cloud.storage",
    "azure.storage.blob",
]


@pytest.fixture(scope="session")
def forkserver() -> Any:
    """The forkserver context of the child processes (crash trials, races)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context
