"""The review session on disk: a small SQLite file of its own, `session.sqlite3`, in the app's
data folder (beside the tag library, never inside it).

It holds the open batch (each photo's state, its result, caption edits, whether the caption goes
in the post, the decisions as last seen and the chip order), the post caption of every photo the
user approved or wrote one for (`hashlens export` reads it), and the recently opened folders.
The controller saves what changed every half second and when the window closes; the next start
restores it. A file that cannot be opened or written costs the restore, never the session: the
caller is told once and goes on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..results import PhotoResult
from .codec import decode_result, encode_result

log = logging.getLogger(__name__)

FILE_NAME = "session.sqlite3"
SCHEMA_VERSION = 1
RECENT_LIMIT = 10
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS batch (
    path TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    content_hash TEXT NOT NULL DEFAULT '',
    caption TEXT,
    edited INTEGER NOT NULL DEFAULT 0,
    caption_approved INTEGER NOT NULL DEFAULT 0,
    decisions TEXT NOT NULL DEFAULT '{}',
    chip_order TEXT NOT NULL DEFAULT '[]',
    result TEXT
);
CREATE TABLE IF NOT EXISTS captions (
    content_hash TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    written INTEGER NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS recent (path TEXT PRIMARY KEY, used REAL NOT NULL);
"""


class SessionError(Exception):
    """The session file cannot be read or written (the message says why)."""


@dataclass
class SavedPhoto:
    """One photo of the batch as saved: plain values, no Qt."""

    path: str
    position: int
    status: str
    error: str | None = None
    content_hash: str = ""
    caption: str | None = None
    edited: bool = False
    caption_approved: bool = False
    decisions: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    result: PhotoResult | None = None


@dataclass
class SavedSession:
    photos: list[SavedPhoto]
    current: str | None  # the photo that was shown
    skipped: int = 0  # rows that could not be read back (damaged results)


def session_path(folder: str | os.PathLike) -> Path:
    return Path(folder) / FILE_NAME


class SessionStore:
    """One connection behind a lock (a worker restores, the GUI thread saves)."""

    def __init__(self, path: str | os.PathLike, clock=time.time):
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                       timeout=5.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SessionError(f"{self.path} was written by a newer hashlens")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            raise SessionError(f"cannot open {self.path}: {exc}") from None

    @classmethod
    def in_folder(cls, folder: str | os.PathLike) -> SessionStore:
        return cls(session_path(folder))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, statements: Iterable[tuple[str, tuple]]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN")
                for sql, args in statements:
                    self._db.execute(sql, args)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                raise SessionError(f"cannot save the session in {self.path}: {exc}") from None

    # -- the batch ----------------------------------------------------------------------------
    def save(self, photos: Iterable[SavedPhoto], with_result: Iterable[str] = (),
             removed: Iterable[str] = (), current: str | None = None) -> None:
        """Upsert `photos` (their result too when their path is in `with_result`), delete
        `removed`, and remember `current`: one transaction."""
        results = set(with_result)
        stmts: list[tuple[str, tuple]] = [("DELETE FROM batch WHERE path = ?", (p,)) for p in removed]
        for p in photos:
            values = (p.path, p.position, p.status, p.error, p.content_hash, p.caption, int(p.edited),
                      int(p.caption_approved), json.dumps(p.decisions), json.dumps(p.order))
            if p.path in results:
                res = encode_result(p.result) if p.result is not None else None
                stmts.append(("INSERT OR REPLACE INTO batch VALUES (?,?,?,?,?,?,?,?,?,?,?)", values + (res,)))
            else:
                stmts.append(("INSERT INTO batch (path, position, status, error, content_hash, caption,"
                              " edited, caption_approved, decisions, chip_order) VALUES (?,?,?,?,?,?,?,?,?,?)"
                              " ON CONFLICT(path) DO UPDATE SET position=excluded.position,"
                              " status=excluded.status, error=excluded.error,"
                              " content_hash=excluded.content_hash, caption=excluded.caption,"
                              " edited=excluded.edited, caption_approved=excluded.caption_approved,"
                              " decisions=excluded.decisions, chip_order=excluded.chip_order", values))
            stmts.extend(self._caption_statements(p))
        if current is not None:
            stmts.append(("INSERT OR REPLACE INTO meta VALUES ('current', ?)", (current,)))
        self._write(stmts)

    def _caption_statements(self, p: SavedPhoto) -> list[tuple[str, tuple]]:
        if not p.content_hash:
            return []
        if p.caption and p.caption_approved:
            return [("INSERT OR REPLACE INTO captions VALUES (?,?,?,?)",
                     (p.content_hash, p.caption, int(p.edited), self.clock()))]
        return [("DELETE FROM captions WHERE content_hash = ?", (p.content_hash,))]

    def clear(self) -> None:
        self._write([("DELETE FROM batch", ()), ("DELETE FROM meta WHERE key = 'current'", ())])

    def load(self) -> SavedSession:
        with self._lock:
            try:
                rows = self._db.execute("SELECT * FROM batch ORDER BY position").fetchall()
                cur = self._db.execute("SELECT value FROM meta WHERE key = 'current'").fetchone()
            except sqlite3.Error as exc:
                raise SessionError(f"cannot read the session in {self.path}: {exc}") from None
        photos, skipped = [], 0
        for (path, pos, status, error, digest, caption, edited, approved, decisions, order,
             result) in rows:
            try:
                res = decode_result(result) if result else None
                saved = SavedPhoto(path, pos, status, error, digest, caption, bool(edited), bool(approved),
                                   dict(json.loads(decisions)), list(json.loads(order)), res)
            except ValueError as exc:
                log.warning("session: %s could not be restored: %s", path, exc)
                skipped += 1
                continue
            photos.append(saved)
        return SavedSession(photos, cur[0] if cur else None, skipped)

    # -- recent folders -------------------------------------------------------------------------
    def add_recent(self, folder: str) -> None:
        self._write([("INSERT OR REPLACE INTO recent VALUES (?, ?)", (folder, self.clock())),
                     ("DELETE FROM recent WHERE path NOT IN (SELECT path FROM recent ORDER BY used DESC"
                      f" LIMIT {RECENT_LIMIT})", ())])

    def recent(self) -> list[str]:
        with self._lock:
            try:
                return [r[0] for r in self._db.execute("SELECT path FROM recent ORDER BY used DESC")]
            except sqlite3.Error as exc:
                raise SessionError(f"cannot read the recent folders in {self.path}: {exc}") from None


def read_post_captions(folder: str | os.PathLike, hashes: Iterable[str]) -> dict[str, str]:
    """The approved or written post captions kept in `folder`'s session file, read-only; {}
    when there is no such file (`hashlens export` on a machine where the window never ran)."""
    path = session_path(folder)
    if not path.is_file():
        return {}
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}
    try:
        keys = list(hashes)
        out: dict[str, str] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            out.update(db.execute(f"SELECT content_hash, text FROM captions WHERE content_hash IN ({marks})",
                                  chunk))
        return out
    except sqlite3.Error as exc:
        log.warning("cannot read the post captions in %s: %s", path, exc)
        return {}
    finally:
        db.close()
