"""The local ledger: every start, stop and end of something priced, in SQLite.

The file is ``$PORTACLOUD_HOME/costs/ledger.sqlite3``. Several processes write it at once (a
CLI, a program, ``portacloud cost watch``): the database runs in WAL mode, each write is one
``BEGIN IMMEDIATE`` transaction, and a writer waits up to :data:`BUSY_TIMEOUT_S` for another's
lock instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from portacloud.costs.models import LedgerEntry
from portacloud.errors import UnavailableError
from portacloud.home import portacloud_home

__all__ = ["BUSY_TIMEOUT_S", "Ledger", "default_ledger_path"]

BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS intervals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    profile TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT,
    target TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}',
    price_per_hour REAL NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    end_reason TEXT
);
CREATE INDEX IF NOT EXISTS intervals_by_thing ON intervals (kind, id);
"""


def default_ledger_path() -> Path:
    """Where the ledger lives: ``$PORTACLOUD_HOME/costs/ledger.sqlite3``."""
    return portacloud_home() / "costs" / "ledger.sqlite3"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _entry(row: tuple[Any, ...]) -> LedgerEntry:
    # Rows come from SELECT *, in the order of the columns of _SCHEMA.
    seq, profile, kind, id_, name, target, tags, price, started, ended, reason = row
    return LedgerEntry(
        seq=seq,
        profile=profile,
        kind=kind,
        id=id_,
        name=name,
        target=target,
        tags=json.loads(tags),
        price_per_hour=price,
        started_at=datetime.fromisoformat(started),
        ended_at=datetime.fromisoformat(ended) if ended else None,
        end_reason=reason,
    )


class Ledger:
    """The ledger file, opened per call (so that a handle may be shared across forks).

    Args:
        path: The SQLite file; default :func:`default_ledger_path`.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_ledger_path()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    @contextmanager
    def _connection(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise UnavailableError(f"cannot open the cost ledger {self.path}: {exc}") from exc
        try:
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(_SCHEMA)
            if write:
                db.execute("BEGIN IMMEDIATE")
            yield db
            if write:
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise UnavailableError(f"cost ledger {self.path}: {exc}") from exc
        finally:
            db.close()

    def start(
        self,
        *,
        profile: str,
        kind: str,
        id: str,
        name: str | None,
        target: str,
        price_per_hour: float,
        tags: Mapping[str, str] | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record that ``kind``/``id`` started costing ``price_per_hour`` at ``at`` (now)."""
        with self._connection(write=True) as db:
            db.execute(
                "INSERT INTO intervals (profile, kind, id, name, target, tags, price_per_hour,"
                " started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    profile,
                    kind,
                    id,
                    name,
                    target,
                    json.dumps(dict(tags or {}), sort_keys=True),
                    float(price_per_hour),
                    _iso(at or datetime.now(UTC)),
                ),
            )

    def end(
        self, *, kind: str, id: str, reason: str, at: datetime | None = None
    ) -> LedgerEntry | None:
        """Close the open interval of ``kind``/``id`` (if any) at ``at`` (now), with ``reason``.

        Returns:
            The closed entry, or ``None`` when none was open (ending twice is not an error).
        """
        with self._connection(write=True) as db:
            row = db.execute(
                "SELECT * FROM intervals WHERE kind = ? AND id = ? AND ended_at IS NULL"
                " ORDER BY seq DESC LIMIT 1",
                (kind, id),
            ).fetchone()
            if row is None:
                return None
            entry = _entry(row)
            # An end read from the backend may predate the recorded start (clock skew).
            when = max(at or datetime.now(UTC), entry.started_at)
            db.execute(
                "UPDATE intervals SET ended_at = ?, end_reason = ? WHERE seq = ?",
                (_iso(when), reason, entry.seq),
            )
        return entry.model_copy(update={"ended_at": when, "end_reason": reason})

    def restart(self, *, kind: str, id: str, at: datetime) -> None:
        """Move the start of the open interval of ``kind``/``id`` to ``at``: a job is recorded
        when submitted and starts costing when the backend says it started."""
        with self._connection(write=True) as db:
            db.execute(
                "UPDATE intervals SET started_at = ? WHERE kind = ? AND id = ?"
                " AND ended_at IS NULL",
                (_iso(at), kind, id),
            )

    def latest(self, *, kind: str, id: str) -> LedgerEntry | None:
        """The newest interval of ``kind``/``id``, open or not."""
        with self._connection(write=False) as db:
            row = db.execute(
                "SELECT * FROM intervals WHERE kind = ? AND id = ? ORDER BY seq DESC LIMIT 1",
                (kind, id),
            ).fetchone()
        return None if row is None else _entry(row)

    def history(self, *, kind: str, id: str) -> list[LedgerEntry]:
        """Every interval of ``kind``/``id``, oldest first."""
        with self._connection(write=False) as db:
            rows = db.execute(
                "SELECT * FROM intervals WHERE kind = ? AND id = ? ORDER BY seq",
                (kind, id),
            ).fetchall()
        return [_entry(row) for row in rows]

    def entries(
        self,
        *,
        profile: str | None = None,
        since: datetime | None = None,
        open_only: bool = False,
    ) -> list[LedgerEntry]:
        """Intervals of ``profile`` (all profiles by default) still open or ended after
        ``since``, oldest first."""
        since_text = _iso(since) if since is not None else None
        with self._connection(write=False) as db:
            rows = db.execute(
                "SELECT * FROM intervals WHERE (? IS NULL OR profile = ?)"
                " AND (? = 0 OR ended_at IS NULL)"
                " AND (? IS NULL OR ended_at IS NULL OR ended_at >= ?) ORDER BY seq",
                (profile, profile, int(open_only), since_text, since_text),
            ).fetchall()
        return [_entry(row) for row in rows]
