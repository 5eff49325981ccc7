"""Reading and following the replica logs of a controller-run service (``logs/REPLICA.log``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from portacloud.errors import NotFoundError
from portacloud.services.controller_state import DESIRED_FILE, read_desired

__all__ = ["follow_service_logs", "read_service_logs"]

_INTERVAL = 0.2


def _replica_number(path: Path) -> tuple[int, str]:
    tail = path.stem.rsplit("-", 1)[-1]
    return (int(tail) if tail.isdigit() else 0), path.stem


def _files(state: Path, replica: str | None, service: str) -> list[Path]:
    """The replica logs, oldest replica first (router and controller logs are not theirs)."""
    logs = state / "logs"
    if replica is not None:
        path = logs / f"{replica}.log"
        if "/" in replica or not path.is_file():
            raise NotFoundError(
                f"service {service!r} has no replica {replica!r}", resource=f"{service}/{replica}"
            )
        return [path]
    prefix = f"{service}-v"
    found = [p for p in logs.glob("*.log") if p.name.startswith(prefix)]
    return sorted(found, key=_replica_number)


def _prefixed(text: str, replica: str, at_line_start: bool) -> str:
    lines = text.splitlines(keepends=True)
    out = []
    for i, line in enumerate(lines):
        out.append(f"[{replica}] {line}" if i > 0 or at_line_start else line)
    return "".join(out)


def read_service_logs(state: Path, replica: str | None, *, service: str) -> str:
    """One replica's log, or every replica's with each line prefixed ``[REPLICA] ``."""
    parts = []
    for path in _files(state, replica, service):
        text = path.read_text(encoding="utf-8", errors="replace")
        if replica is None:
            if text and not text.endswith("\n"):
                text += "\n"
            text = _prefixed(text, path.stem, True)
        parts.append(text)
    return "".join(parts)


def _ended(state: Path) -> bool:
    """Whether the service was deleted (or is being deleted)."""
    if not (state / DESIRED_FILE).is_file():
        return True
    try:
        return read_desired(state).deleted
    except (OSError, ValueError):
        return True


def follow_service_logs(state: Path, replica: str | None, *, service: str) -> Iterator[str]:
    """Yield what the logs gain (new replicas' logs included) until the service is deleted."""
    _files(state, replica, service)  # NOT_FOUND for an unknown replica, before the first read
    offsets: dict[Path, int] = {}
    line_start: dict[Path, bool] = {}
    while True:
        done = _ended(state)
        try:
            files = _files(state, replica, service)
        except (NotFoundError, OSError):
            files = []
        for path in files:
            try:
                with open(path, "rb") as f:
                    f.seek(offsets.get(path, 0))
                    data = f.read()
            except FileNotFoundError:
                continue
            if not data:
                continue
            offsets[path] = offsets.get(path, 0) + len(data)
            text = data.decode(errors="replace")
            if replica is None:
                text = _prefixed(text, path.stem, line_start.get(path, True))
                line_start[path] = text.endswith("\n")
            yield text
        if done:
            return
        time.sleep(_INTERVAL)
