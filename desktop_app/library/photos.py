"""Photo rows: photos are known by content hash (so moves and renames keep their history),
with every path they were seen at, their captions, embeddings and the model's suggestions.

Functions on a connection inside the caller's transaction (db.Database.read/write).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..results import CaptionResult, HashtagSuggestion
from .neighbours import project_raw
from .ranking import POSITIVE_STATES

LIBRARY_SOURCES = frozenset({"library", "rule"})  # the library's own additions, not the model's


@dataclass(frozen=True)
class PhotoRecord:
    """A photo as the library knows it."""

    id: int
    content_hash: str
    path: str
    file_size: int | None
    mtime: float | None
    width: int | None
    height: int | None
    added_at: float
    updated_at: float
    caption: str | None = None  # the latest caption (any model version)
    model_version: str | None = None
    has_embedding: bool = False
    paths: tuple[str, ...] = ()  # every path it was seen at, oldest first


@dataclass(frozen=True)
class StoredEmbedding:
    """An embedding as stored: little-endian float16 (float32 where float16 would overflow),
    and its projection for the neighbour index."""

    blob: bytes
    dtype: str
    dim: int
    proj: bytes

    @classmethod
    def of(cls, emb: np.ndarray) -> StoredEmbedding:
        emb = np.asarray(emb, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(emb)):
            raise ValueError("embedding has NaN or infinite values")
        proj = projection(emb)
        if float(np.max(np.abs(emb), initial=0.0)) < 60000.0:
            return cls(emb.astype("<f2").tobytes(), "f2", emb.size, proj)
        return cls(emb.astype("<f4").tobytes(), "f4", emb.size, proj)

    def vector(self) -> np.ndarray:
        return decode_embedding(self.blob, self.dtype)


def projection(emb: np.ndarray) -> bytes:
    """The embedding's projection for the neighbour index, as stored (float16)."""
    return project_raw(emb).astype("<f2").tobytes()


def decode_embedding(blob: bytes, dtype: str) -> np.ndarray:
    return np.frombuffer(blob, dtype="<" + (dtype or "f2")).astype(np.float32)


# -- finding and creating photos ----------------------------------------------------------
def photo_id(conn: sqlite3.Connection, content_hash: str) -> int | None:
    row = conn.execute("SELECT id FROM photos WHERE content_hash = ?", (content_hash,)).fetchone()
    return None if row is None else int(row[0])


def insert_photo(
    conn: sqlite3.Connection,
    content_hash: str,
    path: str,
    *,
    added_at: float,
    updated_at: float | None = None,
    file_size: int | None = None,
    mtime: float | None = None,
    width: int | None = None,
    height: int | None = None,
) -> int:
    """The one INSERT of a photo row; returns its id."""
    return int(
        conn.execute(
            "INSERT INTO photos(content_hash, path, file_size, mtime, width, height, "
            "added_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (content_hash, path, file_size, mtime, width or None, height or None, added_at,
             added_at if updated_at is None else updated_at),
        ).lastrowid
    )


def see_path(conn: sqlite3.Connection, pid: int, path: str, now: float) -> None:
    conn.execute(
        "INSERT INTO photo_paths(photo_id, path, first_seen, last_seen) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(photo_id, path) DO UPDATE SET last_seen = excluded.last_seen",
        (pid, path, now, now),
    )


def ensure_photo(conn: sqlite3.Connection, content_hash: str, path: str | None,
                 clock: Callable[[], float]) -> int:
    """The photo's id, creating it (decisions on a photo never tagged are kept too)."""
    pid = photo_id(conn, content_hash)
    if pid is not None:
        return pid
    now = clock()
    pid = insert_photo(conn, content_hash, path or "", added_at=now)
    if path:
        see_path(conn, pid, path, now)
    return pid


def upsert_file(conn: sqlite3.Connection, content_hash: str, path: str, file_size: int,
                mtime: float, size: tuple[int, int], now: float) -> int:
    """A tagged file: a new photo, or a known one seen (again, or at a new path)."""
    width, height = size
    pid = photo_id(conn, content_hash)
    if pid is None:
        pid = insert_photo(conn, content_hash, path, added_at=now, file_size=file_size,
                           mtime=mtime, width=width, height=height)
    else:
        conn.execute(
            "UPDATE photos SET path = ?, file_size = ?, mtime = ?, "
            "width = coalesce(?, width), height = coalesce(?, height), updated_at = ? "
            "WHERE id = ?",
            (path, file_size, mtime, width or None, height or None, now, pid),
        )
    see_path(conn, pid, path, now)
    return pid


def note_path(conn: sqlite3.Connection, content_hash: str, path: str, size: int, mtime: float,
              now: float) -> bool:
    """A known photo seen at a new path (moved, renamed, copied); False if it is not known."""
    pid = photo_id(conn, content_hash)
    if pid is None:
        return False
    conn.execute(
        "UPDATE photos SET path = ?, file_size = ?, mtime = ?, updated_at = ? WHERE id = ?",
        (path, size, mtime, now, pid),
    )
    see_path(conn, pid, path, now)
    return True


def is_recorded(conn: sqlite3.Connection, path: str, size: int, mtime: float) -> bool:
    """The library already holds this exact file (path, size and mtime)."""
    return conn.execute(
        "SELECT 1 FROM photos WHERE path = ? AND file_size = ? AND mtime = ? LIMIT 1",
        (path, size, mtime),
    ).fetchone() is not None


def captioned_at(conn: sqlite3.Connection, content_hash: str) -> str | None:
    """Where a photo with this content was captioned before (its last path), or None."""
    row = conn.execute(
        "SELECT p.path FROM photos p WHERE p.content_hash = ? AND EXISTS("
        "SELECT 1 FROM captions c WHERE c.photo_id = p.id)",
        (content_hash,),
    ).fetchone()
    return None if row is None else str(row[0])


# -- reading ------------------------------------------------------------------------------
def read_record(conn: sqlite3.Connection, where: str, arg) -> PhotoRecord | None:
    row = conn.execute(
        "SELECT id, content_hash, path, file_size, mtime, width, height, added_at, "
        f"updated_at, embedding IS NOT NULL FROM photos WHERE {where}",
        (arg,),
    ).fetchone()
    if row is None:
        return None
    cap = conn.execute(
        "SELECT caption, model_version FROM captions WHERE photo_id = ? "
        "ORDER BY created_at DESC LIMIT 1",
        (row[0],),
    ).fetchone()
    paths = tuple(
        r[0]
        for r in conn.execute(
            "SELECT path FROM photo_paths WHERE photo_id = ? ORDER BY first_seen, path", (row[0],)
        )
    )
    return PhotoRecord(
        id=row[0], content_hash=row[1], path=row[2], file_size=row[3], mtime=row[4],
        width=row[5], height=row[6], added_at=row[7], updated_at=row[8],
        caption=cap[0] if cap else None, model_version=cap[1] if cap else None,
        has_embedding=bool(row[9]), paths=paths,
    )


def record_at_path(conn: sqlite3.Connection, path: str | os.PathLike) -> PhotoRecord | None:
    """The photo last seen at `path` (if the file was edited, the newest content)."""
    row = conn.execute(
        "SELECT id FROM photos WHERE path = ? ORDER BY updated_at DESC, id DESC LIMIT 1",
        (str(path),),
    ).fetchone()
    return None if row is None else read_record(conn, "id = ?", row[0])


def stored_embedding(conn: sqlite3.Connection, pid: int) -> np.ndarray | None:
    row = conn.execute("SELECT embedding, emb_dtype FROM photos WHERE id = ?", (pid,)).fetchone()
    return None if row is None or row[0] is None else decode_embedding(row[0], row[1])


def kept_tags(conn: sqlite3.Connection, pid: int) -> frozenset[str] | None:
    """The tags kept on a photo now; None if it has no decisions at all (not reviewed)."""
    rows = conn.execute("SELECT tag, state FROM photo_tags WHERE photo_id = ?", (pid,)).fetchall()
    return None if not rows else frozenset(t for t, st in rows if st in POSITIVE_STATES)


def latest_suggestions(conn: sqlite3.Connection, pid: int) -> list[HashtagSuggestion]:
    """The suggestions of the photo's latest model run, in their order (the library's own
    additions included: callers filter by source)."""
    return [
        HashtagSuggestion(tag=t, score=sc, source=src)
        for t, sc, src in conn.execute(
            "SELECT tag, score, source FROM suggestions WHERE photo_id = ? AND "
            "model_version = (SELECT model_version FROM suggestions WHERE photo_id = ? "
            "ORDER BY created_at DESC LIMIT 1) ORDER BY position",
            (pid, pid),
        )
    ]


def suggested(conn: sqlite3.Connection, pid: int) -> list[str]:
    """The model's tags for the photo in its latest run (not the library's additions)."""
    return [s.tag for s in latest_suggestions(conn, pid) if s.source not in LIBRARY_SOURCES]


# -- writing what the model said ------------------------------------------------------------
def next_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute(  # shaped so that SQLite uses the partial index (0.1 ms at 100k)
        "SELECT decided_seq FROM photos WHERE decided_seq IS NOT NULL "
        "ORDER BY decided_seq DESC LIMIT 1"
    ).fetchone()
    return (int(row[0]) if row else 0) + 1


def mark_decided(conn: sqlite3.Connection, pid: int) -> None:
    """Put a photo with decisions (and an embedding) into the neighbour index."""
    row = conn.execute(
        "SELECT 1 FROM photos WHERE id = ? AND decided_seq IS NULL AND emb_proj IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM photo_tags WHERE photo_id = ?)",
        (pid, pid),
    ).fetchone()
    if row is not None:
        conn.execute("UPDATE photos SET decided_seq = ? WHERE id = ?", (next_seq(conn), pid))


def store_embedding(conn: sqlite3.Connection, pid: int, enc: StoredEmbedding, model: str,
                    reviewed: bool) -> None:
    """The photo's embedding (replacing any); a reviewed photo re-enters the neighbour index."""
    conn.execute(
        "UPDATE photos SET embedding = ?, emb_dtype = ?, emb_dim = ?, emb_proj = ?, "
        "emb_model = ?, decided_seq = ? WHERE id = ?",
        (enc.blob, enc.dtype, enc.dim, enc.proj, model,
         next_seq(conn) if reviewed else None, pid),
    )


def store_caption(conn: sqlite3.Connection, pid: int, model_version: str, cap: CaptionResult,
                  now: float) -> None:
    conn.execute(
        "INSERT INTO captions(photo_id, model_version, caption, tokens, log_prob, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(photo_id, model_version) DO UPDATE SET "
        "caption = excluded.caption, tokens = excluded.tokens, log_prob = excluded.log_prob, "
        "created_at = excluded.created_at",
        (pid, model_version, cap.caption, json.dumps(list(cap.tokens)), float(cap.log_prob), now),
    )


def replace_suggestions(conn: sqlite3.Connection, pid: int, model_version: str,
                        candidates: Sequence[HashtagSuggestion], now: float) -> None:
    """The model's suggestions of this run (the latest run of a version replaces the last)."""
    conn.execute(
        "DELETE FROM suggestions WHERE photo_id = ? AND model_version = ?", (pid, model_version)
    )
    seen: set[str] = set()
    rows = []
    for i, h in enumerate(candidates):
        if h.tag in seen:
            continue
        seen.add(h.tag)
        rows.append((pid, model_version, h.tag, float(h.score), h.source, i, now))
    conn.executemany(
        "INSERT INTO suggestions(photo_id, model_version, tag, score, source, position, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
