"""The migration journal: one SQLite file that records every object's state.

The journal is what makes a migration resumable. Rows are committed in small groups (every
256 changes, or a fifth of a second after the first uncommitted one, and before anything reads
the journal), in WAL mode, so a process killed at any instant (``kill -9`` included) leaves
every row either before or after a change, never half-written. What a kill loses is at most
the last group's changes: those objects are checked again by the next run, whose plan compares
checksums, so an object already at the destination is not copied again. (One transaction per
object cost more than the copy of a small object.) A rerun plans again from fresh listings and
uses the rows as evidence: a row that was verified, whose source and destination versions
(etags) are still the ones it recorded, is not copied again.

One file can hold several migrations; rows are keyed by the (source URL, destination URL)
pair. Listings are loaded into temporary tables so that planning and verification join the two
sides in SQL whatever the listing order and however many keys there are.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from portacloud.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from portacloud.migrate.models import Action, ObjectState
from portacloud.private_files import private_file, private_sqlite
from portacloud.storage.models import ObjectInfo

__all__ = ["Journal", "JournalRow", "Listed", "Side"]

Side = Literal["src", "dst"]

_SCHEMA_VERSION = 1
_BATCH = 1000
#: Changes from :meth:`Journal.put` are committed together once there are this many...
_GROUP_ROWS = 256
#: ...or once the oldest of them is this old, in seconds.
_GROUP_AGE_S = 0.2

#: The columns of a row, in the objects table and in the plan being collected.
_ROW_DEFINITION = """
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    size INTEGER NOT NULL,
    src_etag TEXT,
    src_crc32c TEXT,
    dst_etag_planned TEXT,
    dst_etag TEXT,
    dst_crc32c TEXT,
    copies INTEGER NOT NULL DEFAULT 0,
    error TEXT"""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS migrations (
    id INTEGER PRIMARY KEY,
    src TEXT NOT NULL,
    dst TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    UNIQUE (src, dst)
);
CREATE TABLE IF NOT EXISTS objects (
    migration INTEGER NOT NULL REFERENCES migrations (id),
    key TEXT NOT NULL,{_ROW_DEFINITION},
    PRIMARY KEY (migration, key)
) WITHOUT ROWID;
"""

_TEMP_SCHEMA = f"""
CREATE TEMP TABLE IF NOT EXISTS listing (
    side TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    crc32c TEXT,
    PRIMARY KEY (side, key)
) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS confirmed (
    key TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS plan (
    key TEXT PRIMARY KEY,{_ROW_DEFINITION}
) WITHOUT ROWID;
"""

_ROW_COLUMNS = (
    "key, action, state, size, src_etag, src_crc32c, dst_etag_planned, dst_etag, dst_crc32c, "
    "copies, error"
)


@dataclass(frozen=True, slots=True)
class Listed:
    """One object as a listing saw it."""

    key: str
    size: int
    etag: str
    crc32c: str | None

    @classmethod
    def of(cls, info: ObjectInfo) -> Listed:
        """The entry a listing would have for ``info``."""
        return cls(info.key, info.size, info.etag, info.crc32c)


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalRow:
    """One object's row.

    Attributes:
        key: The key, relative to both URLs.
        action: What the plan decided.
        state: Where the object stands.
        size: The source object's size (for deletes: the destination's).
        src_etag: The source version pinned by the plan; the copy refuses any other.
        src_crc32c: The source's CRC32C, recorded or computed from its bytes.
        dst_etag_planned: The destination version the plan saw (``None``: absent). Writes are
            conditional on it.
        dst_etag: The destination version after the write (or the identical one found).
        dst_crc32c: The destination's CRC32C.
        copies: How many times the engine has written this key, over all runs.
        error: The last failure, if any.
    """

    key: str
    action: Action
    state: ObjectState
    size: int
    src_etag: str | None = None
    src_crc32c: str | None = None
    dst_etag_planned: str | None = None
    dst_etag: str | None = None
    dst_crc32c: str | None = None
    copies: int = 0
    error: str | None = None

    def repinned(self, size: int, etag: str, crc32c: str | None) -> JournalRow:
        """This row, pending again, pinned to another version of the source."""
        return replace(self, state=ObjectState.PENDING, size=size, src_etag=etag, src_crc32c=crc32c)

    def replanned(
        self, size: int, etag: str, crc32c: str | None, *, dst: Listed | None
    ) -> JournalRow:
        """This row planned afresh for another source version: a copy when the destination
        has no object, else an overwrite conditional on the version it holds now."""
        return replace(
            self.repinned(size, etag, crc32c),
            action=Action.COPY if dst is None else Action.OVERWRITE,
            dst_etag_planned=None if dst is None else dst.etag,
            dst_etag=None,
            dst_crc32c=None if dst is None else dst.crc32c,
            error=None,
        )

    def as_tuple(self) -> tuple[object, ...]:
        """The row's values in the column order of the tables."""
        return (
            self.key,
            self.action.value,
            self.state.value,
            self.size,
            self.src_etag,
            self.src_crc32c,
            self.dst_etag_planned,
            self.dst_etag,
            self.dst_crc32c,
            self.copies,
            self.error,
        )


def _row(values: Sequence[Any]) -> JournalRow:
    key, action, state, size, src_etag, src_crc, planned, dst_etag, dst_crc, copies, error = tuple(
        values
    )
    return JournalRow(
        key=str(key),
        action=Action(action),
        state=ObjectState(state),
        size=int(size),
        src_etag=None if src_etag is None else str(src_etag),
        src_crc32c=None if src_crc is None else str(src_crc),
        dst_etag_planned=None if planned is None else str(planned),
        dst_etag=None if dst_etag is None else str(dst_etag),
        dst_crc32c=None if dst_crc is None else str(dst_crc),
        copies=int(copies),
        error=None if error is None else str(error),
    )


def _listed(values: Sequence[Any]) -> Listed:
    key, size, etag, crc = values
    return Listed(str(key), int(size), str(etag), None if crc is None else str(crc))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Journal:
    """The state of one (source, destination) migration, in a SQLite file.

    Args:
        path: The journal file, created 0600 if missing (in a directory that must exist);
            ``None`` uses a private temporary database that disappears when it is closed (a
            dry run leaves nothing behind).
        src: The source URL.
        dst: The destination URL.

    Raises:
        NotFoundError: The directory of ``path`` does not exist.
        FailedPreconditionError: Another process is running a migration on this journal.
        InvalidArgumentError: The file is not a portacloud journal.
    """

    def __init__(self, path: Path | None, *, src: str, dst: str) -> None:
        self.path = path
        self._lock_fd: int | None = None
        self._group: list[tuple[object, ...]] = []
        self._group_since = 0.0
        if path is not None:
            if not path.parent.is_dir():
                # Creating a mistyped directory tree would hide the typo until the next run.
                raise NotFoundError(
                    f"no such directory {path.parent} for the journal {path.name}",
                    resource=str(path.parent),
                )
            self._lock(path)
            # The journal lists every key and etag of both buckets: no one else's to read.
            private_sqlite(path)
        try:
            # "" is SQLite's private temporary database: on disk, so that listings of millions
            # of keys do not have to fit in memory, and gone when it is closed.
            self._db = sqlite3.connect("" if path is None else str(path))
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode syncs at checkpoints only: a killed process loses nothing
            # committed (the WAL is in the OS cache), a power cut may lose the last rows, and
            # a lost row only means that object is checked again on the next run.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._check_version()
            self._db.executescript(_SCHEMA + _TEMP_SCHEMA)
            self.migration_id = self._migration_id(src, dst)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise InvalidArgumentError(f"{path} is not a portacloud migration journal") from exc
        except BaseException:
            self.close()
            raise

    def _lock(self, path: Path) -> None:
        # flock is released by the kernel when the process dies, kill -9 included.
        lock = private_file(path.with_name(f"{path.name}.lock"))
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FailedPreconditionError(
                f"another portacloud migrate is running with the journal {path}"
            ) from None
        self._lock_fd = fd

    def _check_version(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version == 0:
            self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        elif version != _SCHEMA_VERSION:
            raise InvalidArgumentError(
                f"the journal {self.path} has schema version {version}; this portacloud "
                f"reads version {_SCHEMA_VERSION}"
            )

    def _migration_id(self, src: str, dst: str) -> int:
        with self._db:
            self._db.execute(
                "INSERT INTO migrations (src, dst, created_at, updated_at, status) "
                "VALUES (?, ?, ?, ?, 'new') ON CONFLICT (src, dst) DO NOTHING",
                (src, dst, _now(), _now()),
            )
        (ident,) = self._db.execute(
            "SELECT id FROM migrations WHERE src = ? AND dst = ?", (src, dst)
        ).fetchone()
        return int(ident)

    # ------------------------------------------------------------------ run status

    def set_status(self, status: str) -> None:
        """Record the phase the run is in (shown to people; resuming never relies on it)."""
        self.flush()
        with self._db:
            self._db.execute(
                "UPDATE migrations SET status = ?, updated_at = ? WHERE id = ?",
                (status, _now(), self.migration_id),
            )

    # ------------------------------------------------------------------ listings

    def load_listing(self, side: Side, entries: Iterable[ObjectInfo]) -> tuple[int, int]:
        """Replace one side's listing with ``entries``.

        Returns:
            The number of objects and their total size.
        """
        count = total = 0
        with self._db:
            self._db.execute("DELETE FROM temp.listing WHERE side = ?", (side,))
            batch: list[tuple[str, str, int, str, str | None]] = []
            for info in entries:
                batch.append((side, info.key, info.size, info.etag, info.crc32c))
                count += 1
                total += info.size
                if len(batch) >= _BATCH:
                    self._insert_listing(batch)
                    batch = []
            self._insert_listing(batch)
        return count, total

    def _insert_listing(self, batch: list[tuple[str, str, int, str, str | None]]) -> None:
        # OR REPLACE: a backend that repeats a key across pages must not abort the plan.
        self._db.executemany(
            "INSERT OR REPLACE INTO temp.listing (side, key, size, etag, crc32c) "
            "VALUES (?, ?, ?, ?, ?)",
            batch,
        )

    def listed(self, side: Side, key: str) -> Listed | None:
        """The listing entry of ``key`` on one side, if it was listed."""
        got = self._db.execute(
            "SELECT key, size, etag, crc32c FROM temp.listing WHERE side = ? AND key = ?",
            (side, key),
        ).fetchone()
        return None if got is None else _listed(got)

    def joined(self) -> Iterator[tuple[Listed, Listed | None, JournalRow | None]]:
        """Every source key, in key order, with its destination entry and its current row."""
        self.flush()
        last = ""  # keys are never empty, so "" sorts before every key
        while True:
            rows = self._db.execute(
                "SELECT s.key, s.size, s.etag, s.crc32c, d.key, d.size, d.etag, d.crc32c, "  # noqa: S608 - column names are ours
                f"o.{_ROW_COLUMNS.replace(', ', ', o.')} "
                "FROM temp.listing s "
                "LEFT JOIN temp.listing d ON d.side = 'dst' AND d.key = s.key "
                "LEFT JOIN objects o ON o.migration = ? AND o.key = s.key "
                "WHERE s.side = 'src' AND s.key > ? ORDER BY s.key LIMIT ?",
                (self.migration_id, last, _BATCH),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                src = _listed(r[0:4])
                dst = None if r[4] is None else _listed(r[4:8])
                row = None if r[8] is None else _row(r[8:19])
                yield src, dst, row
            last = rows[-1][0]

    def destination_only(self) -> Iterator[Listed]:
        """Destination keys absent from the source listing, in key order."""
        last = ""  # keys are never empty, so "" sorts before every key
        while True:
            rows = self._db.execute(
                "SELECT d.key, d.size, d.etag, d.crc32c FROM temp.listing d "
                "WHERE d.side = 'dst' AND d.key > ? AND NOT EXISTS "
                "(SELECT 1 FROM temp.listing s WHERE s.side = 'src' AND s.key = d.key) "
                "ORDER BY d.key LIMIT ?",
                (last, _BATCH),
            ).fetchall()
            if not rows:
                return
            yield from (_listed(r) for r in rows)
            last = rows[-1][0]

    # ------------------------------------------------------------------ the plan

    def begin_plan(self) -> None:
        """Start collecting a new plan beside the current one."""
        self.flush()
        with self._db:
            self._db.execute("DELETE FROM temp.plan")

    def add_to_plan(self, rows: Iterable[JournalRow]) -> None:
        """Add rows to the plan being collected."""
        with self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO temp.plan ({_ROW_COLUMNS}) "  # noqa: S608 - column names are ours
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (r.as_tuple() for r in rows),
            )

    def commit_plan(self) -> None:
        """Replace the migration's rows by the collected plan, in one transaction."""
        self.flush()
        with self._db:
            self._db.execute("DELETE FROM objects WHERE migration = ?", (self.migration_id,))
            self._db.execute(
                f"INSERT INTO objects (migration, {_ROW_COLUMNS}) "  # noqa: S608 - column names are ours
                f"SELECT ?, {_ROW_COLUMNS} FROM temp.plan",
                (self.migration_id,),
            )
            self._db.execute("DELETE FROM temp.plan")

    # ------------------------------------------------------------------ rows

    def confirm_from_listings(self) -> tuple[int, int]:
        """Verify in bulk every written row that the fresh listings prove.

        A row is proven when the source still lists the pinned version and the destination
        lists the same size and the source's CRC32C. One statement does what a loop over rows
        would: verification of millions of objects costs two listings, not a query per key.

        Returns:
            The number of rows confirmed and their bytes. :meth:`rows` with
            ``unconfirmed=True`` yields the others.
        """
        self.flush()
        with self._db:
            self._db.execute("DELETE FROM temp.confirmed")
            self._db.execute(
                "INSERT INTO temp.confirmed (key) SELECT o.key FROM objects o "
                "JOIN temp.listing s ON s.side = 'src' AND s.key = o.key "
                "JOIN temp.listing d ON d.side = 'dst' AND d.key = o.key "
                "WHERE o.migration = ? AND o.state IN ('copied', 'verified') "
                "AND o.action IN ('copy', 'overwrite', 'skip') "
                "AND s.etag = o.src_etag "
                "AND d.size = o.size AND d.crc32c IS NOT NULL AND d.crc32c = o.src_crc32c",
                (self.migration_id,),
            )
            self._db.execute(
                "UPDATE objects SET state = 'verified', dst_etag = d.etag, "
                "dst_crc32c = d.crc32c, error = NULL "
                "FROM temp.confirmed c JOIN temp.listing d ON d.side = 'dst' AND d.key = c.key "
                "WHERE objects.migration = ? AND objects.key = c.key",
                (self.migration_id,),
            )
            count, size = self._db.execute(
                "SELECT COUNT(*), SUM(o.size) FROM temp.confirmed c "
                "JOIN objects o ON o.migration = ? AND o.key = c.key",
                (self.migration_id,),
            ).fetchone()
        return int(count), int(size or 0)

    def rows(
        self,
        *,
        states: Iterable[ObjectState] | None = None,
        actions: Iterable[Action] | None = None,
        unconfirmed: bool = False,
        sizes: tuple[int, int | None] | None = None,
    ) -> Iterator[JournalRow]:
        """Rows in key order, filtered by state and action, fetched in batches.

        Rows may be updated while iterating: each batch is read afresh after the last key.
        ``unconfirmed`` leaves out the rows the last :meth:`confirm_from_listings` proved;
        ``sizes=(low, high)`` keeps rows with ``low <= size < high`` (``high=None``: no bound).
        """
        where = ["migration = ?"]
        params: list[object] = [self.migration_id]
        if unconfirmed:
            where.append("key NOT IN (SELECT key FROM temp.confirmed)")
        if sizes is not None:
            where.append("size >= ?")
            params.append(sizes[0])
            if sizes[1] is not None:
                where.append("size < ?")
                params.append(sizes[1])
        if states is not None:
            values = [s.value for s in states]
            where.append(f"state IN ({', '.join('?' * len(values))})")
            params += values
        if actions is not None:
            values = [a.value for a in actions]
            where.append(f"action IN ({', '.join('?' * len(values))})")
            params += values
        last = ""  # keys are never empty, so "" sorts before every key
        while True:
            self.flush()
            rows = self._db.execute(
                f"SELECT {_ROW_COLUMNS} FROM objects WHERE {' AND '.join(where)} "  # noqa: S608 - placeholders only
                "AND key > ? ORDER BY key LIMIT ?",
                (*params, last, _BATCH),
            ).fetchall()
            if not rows:
                return
            yield from (_row(r) for r in rows)
            last = rows[-1][0]

    def get(self, key: str) -> JournalRow | None:
        """The row of ``key``, if the plan has one."""
        self.flush()
        got = self._db.execute(
            f"SELECT {_ROW_COLUMNS} FROM objects WHERE migration = ? AND key = ?",  # noqa: S608 - column names are ours
            (self.migration_id, key),
        ).fetchone()
        return None if got is None else _row(got)

    def put(self, row: JournalRow) -> None:
        """Record one row's new state; it is committed with its group (see the module
        docstring), at the latest before the journal is next read."""
        if not self._group:
            self._group_since = time.monotonic()
        self._group.append((self.migration_id, *row.as_tuple()))
        if len(self._group) >= _GROUP_ROWS or time.monotonic() - self._group_since >= _GROUP_AGE_S:
            self.flush()

    def flush(self) -> None:
        """Commit the rows :meth:`put` has gathered, in one transaction."""
        if not self._group:
            return
        group, self._group = self._group, []
        with self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO objects (migration, {_ROW_COLUMNS}) "  # noqa: S608 - column names are ours
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                group,
            )

    def count(self, actions: Sequence[Action], states: Sequence[ObjectState]) -> tuple[int, int]:
        """Objects and bytes over every pair of the given actions and states."""
        totals = self.totals()
        found = [totals.get((a, s), (0, 0)) for a in actions for s in states]
        return sum(n for n, _ in found), sum(b for _, b in found)

    def totals(self) -> dict[tuple[Action, ObjectState], tuple[int, int]]:
        """Objects and bytes per (action, state)."""
        self.flush()
        return {
            (Action(a), ObjectState(s)): (int(n), int(b or 0))
            for a, s, n, b in self._db.execute(
                "SELECT action, state, COUNT(*), SUM(size) FROM objects "
                "WHERE migration = ? GROUP BY action, state",
                (self.migration_id,),
            )
        }

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Commit what is gathered, close the database and release the lock."""
        db = getattr(self, "_db", None)
        if db is not None:
            try:
                self.flush()
            except sqlite3.Error:
                # Closing after a failure of the database itself: the rows not committed are
                # checked again by the next run, like those of a killed process.
                pass
            finally:
                db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
