"""The watcher's persistent queue, kept in the tag library's database (schema migration 2).

Photos to tag live in `watch_queue` until tagged, so a queue survives a restart or a crash;
photos that failed `max_attempts` times move to `watch_failed` and stay there (logged once)
until the file changes. Every call is one short transaction through the library's database
(`TagLibrary.db`: same connection, lock, busy timeout and error messages); what concerns the
library's photos (the service's `is_recorded`, `known_content`, `note_path`) goes through
TagLibrary's own methods.

Dedupe happens at two levels:
- by path + size + mtime when queuing: a file the library already recorded with exactly these
  values is not queued again (a restart's catch-up scan costs one indexed lookup per photo);
- by content hash before tagging (`TagLibrary.known_content`): a moved, renamed or copied
  photo is not captioned again, only its new path is noted (`TagLibrary.note_path`), so its
  tags and decisions stay.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..library import photos
from ..library.store import TagLibrary
from .scanner import FileStat

_CHUNK = 500  # rows per transaction: short enough that the GUI's writes never wait long


@dataclass(frozen=True)
class QueueItem:
    path: str
    size: int
    mtime: float
    queued_at: float
    not_before: float
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class FailedItem:
    path: str
    size: int
    mtime: float
    attempts: int
    error: str
    failed_at: float


class WatchQueue:
    def __init__(self, library: TagLibrary, clock: Callable[[], float] = time.time):
        self.lib = library
        self.clock = clock

    # -- adding ----------------------------------------------------------------------------
    def add_many(self, files: Iterable[FileStat]) -> int:
        """Queue files (streamed, in chunks); returns how many were newly queued or changed.

        Skipped: a file the library recorded at this path with the same size and mtime, and a
        file that failed for good and has not changed since.
        """
        added = 0
        chunk: list[FileStat] = []
        for f in files:
            chunk.append(f)
            if len(chunk) >= _CHUNK:
                added += self._add_chunk(chunk)
                chunk = []
        if chunk:
            added += self._add_chunk(chunk)
        return added

    def add(self, path: str, size: int, mtime: float) -> bool:
        return self._add_chunk([FileStat(path, size, mtime)]) > 0

    def _add_chunk(self, chunk: list[FileStat]) -> int:
        now = self.clock()
        n = 0
        with self.lib.db.write("queue photos") as conn:
            for f in chunk:
                if photos.is_recorded(conn, f.path, f.size, f.mtime) or conn.execute(
                    "SELECT 1 FROM watch_failed WHERE path = ? AND size = ? AND mtime = ?",
                    (f.path, f.size, f.mtime),
                ).fetchone():
                    continue
                conn.execute("DELETE FROM watch_failed WHERE path = ?", (f.path,))  # it changed
                cur = conn.execute(
                    "INSERT INTO watch_queue(path, size, mtime, queued_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime = excluded.mtime, "
                    "attempts = 0, last_error = NULL, not_before = 0 "
                    "WHERE size != excluded.size OR mtime != excluded.mtime",
                    (f.path, f.size, f.mtime, now),
                )
                n += cur.rowcount
        return n

    # -- taking ----------------------------------------------------------------------------
    def due(self, limit: int, now: float | None = None) -> list[QueueItem]:
        """The oldest photos whose retry time has come, at most `limit`."""
        now = self.clock() if now is None else now
        with self.lib.db.read("read the watch queue") as conn:
            rows = conn.execute(
                "SELECT path, size, mtime, queued_at, not_before, attempts, last_error "
                "FROM watch_queue WHERE not_before <= ? ORDER BY not_before, queued_at, path "
                "LIMIT ?",
                (now, int(limit)),
            ).fetchall()
        return [QueueItem(*r) for r in rows]

    def next_due_in(self, now: float | None = None) -> float | None:
        """Seconds until the next photo is due (0 when one is due now), None when empty."""
        now = self.clock() if now is None else now
        with self.lib.db.read("read the watch queue") as conn:
            row = conn.execute("SELECT min(not_before) FROM watch_queue").fetchone()
        return None if row[0] is None else max(0.0, float(row[0]) - now)

    def get(self, path: str) -> QueueItem | None:
        with self.lib.db.read("read the watch queue") as conn:
            row = conn.execute(
                "SELECT path, size, mtime, queued_at, not_before, attempts, last_error "
                "FROM watch_queue WHERE path = ?",
                (path,),
            ).fetchone()
        return None if row is None else QueueItem(*row)

    # -- outcomes --------------------------------------------------------------------------
    def done(self, path: str) -> None:
        with self.lib.db.write("update the watch queue") as conn:
            conn.execute("DELETE FROM watch_queue WHERE path = ?", (path,))

    def remove(self, path: str) -> None:
        """The file is gone (deleted, or moved away): forget it, queued or failed."""
        with self.lib.db.write("update the watch queue") as conn:
            conn.execute("DELETE FROM watch_queue WHERE path = ?", (path,))
            conn.execute("DELETE FROM watch_failed WHERE path = ?", (path,))

    def remove_under(self, folder: str) -> int:
        """Forget every queued photo below `folder` (a folder deleted or moved away)."""
        base = folder.rstrip(os.sep)
        prefix, hi = base + os.sep, base + chr(ord(os.sep) + 1)  # a primary-key range scan
        with self.lib.db.write("update the watch queue") as conn:
            n = conn.execute(
                "DELETE FROM watch_queue WHERE path >= ? AND path < ?", (prefix, hi)
            ).rowcount
            conn.execute("DELETE FROM watch_failed WHERE path >= ? AND path < ?", (prefix, hi))
        return n

    def defer(self, path: str, delay_s: float, error: str | None = None,
              count_attempt: bool = False, size: int | None = None,
              mtime: float | None = None) -> int:
        """Try again in `delay_s`; returns the attempts so far. size/mtime: the file changed."""
        with self.lib.db.write("update the watch queue") as conn:
            conn.execute(
                "UPDATE watch_queue SET not_before = ?, attempts = attempts + ?, "
                "last_error = coalesce(?, last_error), size = coalesce(?, size), "
                "mtime = coalesce(?, mtime) WHERE path = ?",
                (self.clock() + delay_s, 1 if count_attempt else 0, error, size, mtime, path),
            )
            row = conn.execute("SELECT attempts FROM watch_queue WHERE path = ?", (path,)).fetchone()
        return int(row[0]) if row else 0

    def fail(self, path: str, error: str) -> None:
        """Give up on `path` until the file changes (moved to watch_failed)."""
        with self.lib.db.write("update the watch queue") as conn:
            row = conn.execute(
                "SELECT size, mtime, attempts FROM watch_queue WHERE path = ?", (path,)
            ).fetchone()
            if row is None:
                return
            conn.execute("DELETE FROM watch_queue WHERE path = ?", (path,))
            conn.execute(
                "INSERT OR REPLACE INTO watch_failed(path, size, mtime, attempts, error, failed_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (path, row[0], row[1], row[2], error, self.clock()),
            )

    def failures(self) -> list[FailedItem]:
        with self.lib.db.read("read the watch queue") as conn:
            rows = conn.execute(
                "SELECT path, size, mtime, attempts, error, failed_at FROM watch_failed "
                "ORDER BY failed_at"
            ).fetchall()
        return [FailedItem(*r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self.lib.db.read("read the watch queue") as conn:
            q = conn.execute("SELECT count(*) FROM watch_queue").fetchone()[0]
            f = conn.execute("SELECT count(*) FROM watch_failed").fetchone()[0]
        return {"queued": int(q), "failed": int(f)}
