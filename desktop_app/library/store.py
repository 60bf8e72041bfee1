"""The personal tag library: one SQLite file (WAL mode) in the user's data folder.

What it keeps: photos (by content hash, so moves and renames keep their history), their
captions, embeddings and the model's suggestions, the user's decisions (an append-only log plus
derived tables for fast ranking), and the vocabulary rules. `rank` turns the model's candidates
into the personalised list (see ranking.py for the formula).

Safety:
- Every write is one short `BEGIN IMMEDIATE` transaction with `synchronous=FULL`: a decision
  whose call returned survives a killed process (and a power cut), and a killed write leaves
  the previous state. Writers from other processes (the GUI and the CLI at once) wait up to
  `busy_timeout` seconds for the lock instead of failing.
- Damage is what SQLite says, never a guess from the file's bytes (integrity.py): an error it
  returns (malformed, not a database) is confirmed with its quick_check on a separate read-only
  connection, and a quick_check of the whole file starts in the background at open; the first
  write waits for its verdict. Nothing is written to a library SQLite calls damaged, and the
  message says what was found and to run `hashlens library repair` (which copies what can be
  read into a new library and keeps the damaged file). A file of another program or with a newer
  schema is refused *before anything is written*; the file is never rewritten or replaced.
  Before a schema migration the old file is copied to `library.sqlite3.v{N}.bak`.
- A library that cannot be written (a read-only file or folder) opens read-only, with `note`
  saying so: stats, export and ranking work, nothing is recorded.
- Derived tables (photo_tags, tag_stats, tag_pairs, suggest_seen, suggest_pairs, and the habit
  models' sums habit_gram / habit_sums) are updated in the same transaction as the log, and
  `rebuild_aggregates()` recomputes them from the log.
- The weights of the score's parts are learned online (ranking.sgd_update) and kept in `meta`.

Start-up reads nothing but the schema (the check runs on its own thread); the neighbour index
is loaded on the first `rank` with an embedding (only photos with decisions, projected to 128
dims: 50 MB and ~1-2 s at 100k photos).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import LibraryError
from ..results import HashtagSuggestion, PhotoResult
from . import habits, integrity, migrations, ranking
from .import_check import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    MAX_WEIGHT_ABS,
    ImportCheckError,
    LibraryImport,
    PhotoImport,
    RuleImport,
    check_photo,
    is_valid_tag,
    load_export,
)
from .neighbours import NeighbourIndex, exact_similarities, project_raw
from .ranking import POSITIVE_STATES, RankingConfig, TagEvidence

DB_NAME = integrity.DB_NAME
_MAX_VARS = 900  # stay under SQLITE_MAX_VARIABLE_NUMBER of old builds
_ACTIONS = (
    ("approve", "approved"),
    ("reject", "rejected"),
    ("add", "added"),
    ("remove", "removed"),
)


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
class TagPreference:
    """How the user treats one tag (the GUI's library view)."""

    tag: str
    approvals: int  # photos where it is approved now
    rejections: int
    adds: int  # added by hand
    removals: int  # approved or added, then removed
    score: float  # Beta-smoothed, recency-decayed approval rate, 0..1 (0.5: no evidence)
    last_at: float  # time of the latest decision
    when: tuple[str, ...] = ()  # what in a photo makes the user keep it (its habit model)


@dataclass
class _Stats:
    """One tag_stats row, mutable while a transaction updates it."""

    tag: str
    pos_w: float = 0.0
    neg_w: float = 0.0
    ref_at: float = 0.0
    approved: int = 0
    rejected: int = 0
    added: int = 0
    removed: int = 0
    last_at: float = 0.0

    def count(self, state: str, delta: int) -> None:
        setattr(self, state, max(0, getattr(self, state) + delta))

    def weigh(self, positive: bool, weight: float, at: float, half_life: float) -> None:
        new_ref = max(self.ref_at, at)
        shift = ranking.decay_factor(new_ref - self.ref_at, half_life)
        self.pos_w *= shift
        self.neg_w *= shift
        self.ref_at = new_ref
        w = weight * ranking.decay_factor(new_ref - at, half_life)
        if positive:
            self.pos_w = max(0.0, self.pos_w + w)
        else:
            self.neg_w = max(0.0, self.neg_w + w)


@dataclass
class _Rules:
    blocked: set[str] = field(default_factory=set)
    synonyms: dict[str, str] = field(default_factory=dict)  # alias -> canonical
    always: list[str] = field(default_factory=list)

    def canon(self, tag: str) -> str:
        return self.synonyms.get(tag, tag)

    def aliases(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for alias, target in self.synonyms.items():
            out.setdefault(target, []).append(alias)
        return out


@dataclass
class _Candidate:
    tag: str
    model: float | None
    source: str
    token_indices: tuple[int, ...] = ()
    words: tuple[str, ...] = ()
    reason: str = ""
    merged_from: list[str] = field(default_factory=list)


_LIBRARY_SOURCES = frozenset({"library", "rule"})
_PARTNERS = 50  # co-occurrence partners read per tag


def _bump(
    conn: sqlite3.Connection, table: str, keys: tuple[str, ...], rows: list[tuple], delta: int
) -> None:
    """n += delta for each key tuple of a counter table; rows that reach 0 are deleted."""
    if not rows or not delta:
        return
    cols = ", ".join(keys)
    conn.executemany(
        f"INSERT INTO {table}({cols}, n) VALUES ({_marks(len(keys) + 1)}) "
        f"ON CONFLICT({cols}) DO UPDATE SET n = n + excluded.n",
        [(*r, delta) for r in rows],
    )
    if delta < 0:
        where = " AND ".join(f"{k} = ?" for k in keys)
        conn.executemany(f"DELETE FROM {table} WHERE {where} AND n <= 0", rows)


def _chunks(seq: Sequence, n: int = _MAX_VARS) -> Iterator[Sequence]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _encode_embedding(emb: np.ndarray) -> tuple[bytes, str, int]:
    """float16 unless a value would overflow it (|x| > 65504), little-endian."""
    emb = np.asarray(emb, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(emb)):
        raise ValueError("embedding has NaN or infinite values")
    if float(np.max(np.abs(emb), initial=0.0)) < 60000.0:
        return emb.astype("<f2").tobytes(), "f2", emb.size
    return emb.astype("<f4").tobytes(), "f4", emb.size


def _decode_embedding(blob: bytes, dtype: str) -> np.ndarray:
    return np.frombuffer(blob, dtype="<" + (dtype or "f2")).astype(np.float32)


def _error_text(db: Path, exc: sqlite3.Error, action: str | None,
                ) -> tuple[str, integrity.Diagnosis | None]:
    """A SQLite error as a message the user can act on, and SQLite's diagnosis when it said the
    file is damaged (confirmed by its check on a fresh connection: never guessed)."""
    msg = str(exc).lower()
    where = f"the tag library {db}"
    doing = f"{action} failed" if action else "opening it failed"
    if integrity.is_damage(exc):
        try:
            found = integrity.diagnose(db)
            if found.ok:  # e.g. an index that disagrees with its table: only the full check sees it
                found = integrity.diagnose(db, full=True)
        except LibraryError as err:
            return (f"{where}: {doing}: SQLite says {exc}, and checking the file failed too "
                    f"({err})"), None
        if found.ok:
            return (f"{where}: {doing}: SQLite said '{exc}', but its integrity_check finds the "
                    "file intact; try again (`hashlens library check` checks it)"), None
        return found.message(action), found
    if "locked" in msg or "busy" in msg:
        text = (f"{where} is busy: another hashlens (the app or a command) has held it "
                "locked for too long; try again")
    elif "readonly" in msg or "read-only" in msg or "unable to open" in msg:
        text = (f"cannot write {where}: it is read-only ({exc}); check the permissions of the "
                "file and its folder")
    elif "full" in msg:
        text = f"cannot write {where}: the disk is full"
    else:
        text = f"{where}: {doing}: {exc}"
    return text, None


class _CannotWrite(Exception):
    """SQLite cannot write where the system said it could (ACLs, a read-only mount)."""


class TagLibrary:
    """The user's tag library. Thread-safe (one connection behind a lock); open one per process.

    Use `TagLibrary.open(folder)`; `clock` and `config` are for tests and the benchmarks.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        *,
        config: RankingConfig | None = None,
        clock: Callable[[], float] = time.time,
        readonly: bool = False,
        habit_features: habits.PhotoFeatures | None | str = "default",
    ):
        self._conn = conn
        self._habit_features = habit_features  # "default": the shipped detector's, when needed
        self.path = path
        self.config = config or RankingConfig()
        self.clock = clock
        self.readonly = readonly
        self.note: str | None = None  # e.g. why it is open read-only
        self._verdict: integrity.Diagnosis | None = None  # SQLite's check, once known
        self._bg_check: integrity.BackgroundCheck | None = None
        self._lock = threading.RLock()
        self._index: NeighbourIndex | None = None
        self._index_dim_in = 0
        self._index_seq = 0
        self._index_centred_n = 0  # index size when its centre was computed
        self._mu_full: np.ndarray | None = None  # mean embedding (a sample), for exact cosines
        self._recent: OrderedDict[str, list[HashtagSuggestion]] = OrderedDict()
        self._habit_version = 0  # bumped when this connection changes the habit sums
        self._habit_cache: tuple[tuple, habits.HabitModels | None] | None = None
        self._habits_checked = False  # built for the current features (see _ensure_habits)

    # -- opening and closing ---------------------------------------------------------------
    @classmethod
    def open(
        cls,
        folder: Path | str,
        *,
        readonly: bool = False,
        config: RankingConfig | None = None,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 10.0,
        habit_features: habits.PhotoFeatures | None | str = "default",
        background_check: bool = True,
    ) -> TagLibrary:
        """Open (creating if needed) the library in `folder`/library.sqlite3.

        Raises LibraryError, leaving any existing file as it was, when the folder or file cannot
        be created, SQLite says the file is damaged or not a database, it is another program's,
        its schema is newer than this version of hashlens, or another process holds it locked
        longer than `busy_timeout`. A library that cannot be written (a read-only file or
        folder) opens read-only, with `note` saying so. SQLite's quick_check of the whole file
        starts in the background (`background_check`; else it runs at the first write, as
        short-lived commands that may not write want); the first write waits for its verdict.
        """
        folder = Path(folder).expanduser()
        db = folder / DB_NAME
        note = None
        if readonly:
            if not db.exists():
                raise LibraryError(f"there is no tag library at {db}")
        else:
            problem = integrity.access_problem(db) if db.exists() else None
            if problem:
                readonly, note = True, cls._readonly_note(db, problem)
            else:
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise LibraryError(
                        f"cannot create the tag library folder {folder}: {exc.strerror or exc}"
                    ) from None
        kw = dict(config=config, clock=clock, busy_timeout=busy_timeout,
                  habit_features=habit_features, background_check=background_check)
        try:
            return cls._open(db, readonly, note, **kw)
        except _CannotWrite as exc:
            return cls._open(db, True, cls._readonly_note(db, str(exc)), **kw)

    @staticmethod
    def _readonly_note(db: Path, why: str) -> str:
        return (f"the tag library {db} cannot be written ({why}): it is open read-only, so "
                "nothing is recorded")

    @classmethod
    def _open(cls, db: Path, readonly: bool, note: str | None, *, busy_timeout: float,
              background_check: bool, **kw) -> TagLibrary:
        existed = db.exists()
        try:
            if readonly:
                conn = integrity.connect_readonly(db, timeout=busy_timeout)
            else:
                conn = sqlite3.connect(
                    str(db), timeout=busy_timeout, isolation_level=None, check_same_thread=False
                )
        except sqlite3.Error as exc:
            raise LibraryError(_error_text(db, exc, None)[0]) from None
        lib = cls(conn, db, readonly=readonly, **kw)
        lib.note = note
        try:
            with lib._guard(None):
                try:
                    lib._prepare()
                except sqlite3.Error as exc:
                    if existed and not readonly and integrity.is_access_error(exc):
                        raise _CannotWrite(str(exc)) from None
                    raise
        except BaseException:
            conn.close()
            raise
        if background_check and not readonly and lib._verdict is None:
            lib._bg_check = integrity.BackgroundCheck(db).start()
        return lib

    def _prepare(self) -> None:
        conn = self._conn
        version = migrations.schema_version(conn)
        app_id = migrations.application_id(conn)
        n_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id not in (0, migrations.APPLICATION_ID) or (app_id == 0 and (version or n_tables)):
            raise LibraryError(
                f"{self.path} is a SQLite database of another program, not a hashlens tag "
                "library; it was left untouched. Choose another folder with --library."
            )
        if version > migrations.SCHEMA_VERSION:
            raise LibraryError(
                f"the tag library {self.path} was written by a newer hashlens (schema "
                f"{version}, this version reads up to {migrations.SCHEMA_VERSION}); it was left "
                "untouched. Update hashlens, or use another folder with --library."
            )
        if self.readonly:
            if version < migrations.SCHEMA_VERSION:
                raise LibraryError(
                    f"the tag library {self.path} needs an upgrade (schema {version} to "
                    f"{migrations.SCHEMA_VERSION}), which needs write access: "
                    + (f"{self.note}" if self.note else "open it without read-only")
                )
            return
        conn.execute("PRAGMA cell_size_check = ON")  # (cheap) more damage found as pages are read
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        if mode != "wal":
            if n_tables:  # switching writes the file: not one SQLite calls damaged
                self._require_intact(None)
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            if mode != "wal":  # e.g. a network drive: still safe, just slower
                conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if migrations.pending(version):
            if version > 0:
                self._require_intact("upgrade the library")
                self._backup(self.path.with_name(f"{self.path.name}.v{version}.bak"))
            migrations.migrate(conn)

    def _backup(self, target: Path, source: sqlite3.Connection | None = None) -> None:
        """A consistent copy of the database (SQLite's online backup), e.g. before a migration;
        read through `source` when given (another connection to this file)."""
        tmp = target.with_name(target.name + ".tmp")
        dst = sqlite3.connect(str(tmp))
        try:
            (source or self._conn).backup(dst)
        finally:
            dst.close()
        os.replace(tmp, target)

    def close(self) -> None:
        bg, self._bg_check = self._bg_check, None
        if bg is not None:
            bg.cancel()  # interrupts SQLite's check (a large library takes seconds)
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None  # type: ignore[assignment]
                    self._index = None

    def __enter__(self) -> TagLibrary:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transactions and errors -----------------------------------------------------------
    @contextmanager
    def _guard(self, action: str | None) -> Iterator[None]:
        """Turn SQLite errors into LibraryError with a message the user can act on; when SQLite
        says the file is damaged, its check says what it found and no write follows."""
        try:
            yield
        except LibraryError:
            raise
        except sqlite3.Error as exc:
            known = self._verdict
            if known is not None and not known.ok and integrity.is_damage(exc):
                raise LibraryError(known.message(action)) from None  # (not checked again)
            text, found = _error_text(self.path, exc, action)
            if found is not None:
                self._verdict = found
            raise LibraryError(text) from None

    # -- SQLite's verdict on the file ------------------------------------------------------
    def verify(self) -> integrity.Diagnosis:
        """SQLite's verdict on the file: the check started at open (waited for), else one now
        (seconds for a large library, once). LibraryError when it cannot run (busy)."""
        with self._lock:
            found = self._verdict
            if found is None:
                bg = self._bg_check
                if bg is not None:
                    found = bg.wait()
                if found is None:
                    found = integrity.diagnose(self.path)
                self._verdict = found
            return found

    def _require_intact(self, action: str | None) -> None:
        """Before the first write (and an export): SQLite's check must have found no damage."""
        found = self.verify()
        if not found.ok:
            raise LibraryError(found.message(action))

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LibraryError("the tag library is closed")
        return self._conn

    @contextmanager
    def _write(self, action: str = "write") -> Iterator[sqlite3.Connection]:
        """One short IMMEDIATE transaction (the write lock is taken at BEGIN, so no deadlock)."""
        if self.readonly:
            raise LibraryError(self.note or f"the tag library {self.path} is open read-only")
        with self._lock, self._guard(action):
            conn = self._connection()
            self._require_intact(action)
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self, action: str = "read") -> Iterator[sqlite3.Connection]:
        """A read snapshot (WAL readers never block the writer, nor it them)."""
        with self._lock, self._guard(action):
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # (a read: nothing to lose; COMMIT repeats an error)
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise
            if conn.in_transaction:
                conn.execute("COMMIT")

    # -- photos ----------------------------------------------------------------------------
    def _next_seq(self, conn: sqlite3.Connection) -> int:
        row = conn.execute(  # shaped so that SQLite uses the partial index (0.1 ms at 100k)
            "SELECT decided_seq FROM photos WHERE decided_seq IS NOT NULL "
            "ORDER BY decided_seq DESC LIMIT 1"
        ).fetchone()
        return (int(row[0]) if row else 0) + 1

    def _photo_id(self, conn: sqlite3.Connection, content_hash: str) -> int | None:
        row = conn.execute(
            "SELECT id FROM photos WHERE content_hash = ?", (content_hash,)
        ).fetchone()
        return None if row is None else int(row[0])

    def _ensure_photo(self, conn: sqlite3.Connection, content_hash: str, path: str | None) -> int:
        pid = self._photo_id(conn, content_hash)
        if pid is not None:
            return pid
        now = self.clock()
        pid = self._insert_photo(conn, content_hash, path or "", added_at=now)
        if path:
            self._see_path(conn, pid, path, now)
        return pid

    @staticmethod
    def _insert_photo(
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

    def _see_path(self, conn: sqlite3.Connection, pid: int, path: str, now: float) -> None:
        conn.execute(
            "INSERT INTO photo_paths(photo_id, path, first_seen, last_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(photo_id, path) DO UPDATE SET last_seen = excluded.last_seen",
            (pid, path, now, now),
        )

    def record_result(
        self,
        result: PhotoResult,
        mtime: float,
        file_size: int,
        model_version: str,
        candidates: Sequence[HashtagSuggestion] | None = None,
    ) -> int:
        """Store a captioned photo; returns its id.

        The photo is matched by content hash: a known hash at a new path moves the photo (its
        decisions stay), a new hash is a new photo. The caption and the model's suggestions are
        kept per model version (the latest run replaces the previous one of the same version).

        The suggestions stored are the model's own (unpersonalised) candidates, because the
        library learns from what the model said: `candidates` if given, else the candidates
        `rank` last saw for this photo in this process, else `result.hashtags` without the
        library's and the rules' additions.
        """
        content_hash = result.content_hash
        if not content_hash:
            from ..fingerprint import content_hash as _hash

            try:
                content_hash = _hash(result.path)
            except OSError as exc:
                raise LibraryError(f"cannot read {result.path}: {exc.strerror or exc}") from None
        cap = result.caption
        emb = None if cap is None or cap.embedding is None else cap.embedding
        enc = _encode_embedding(emb) if emb is not None else None
        proj = project_raw(np.asarray(emb, dtype=np.float32).reshape(-1)) if emb is not None else None
        width, height = (int(result.size[0]), int(result.size[1])) if result.size else (0, 0)
        path = str(result.path)
        now = self.clock()
        if candidates is None:
            with self._lock:
                candidates = self._recent.pop(content_hash, None)
        if candidates is None:
            candidates = [h for h in result.hashtags if h.source not in _LIBRARY_SOURCES]
        with self._write("record a photo") as conn:
            pid = self._photo_id(conn, content_hash)
            if pid is None:
                pid = self._insert_photo(conn, content_hash, path, added_at=now, file_size=file_size,
                                         mtime=mtime, width=width, height=height)
            else:
                conn.execute(
                    "UPDATE photos SET path = ?, file_size = ?, mtime = ?, "
                    "width = coalesce(?, width), height = coalesce(?, height), updated_at = ? "
                    "WHERE id = ?",
                    (path, file_size, mtime, width or None, height or None, now, pid),
                )
            self._see_path(conn, pid, path, now)
            if enc is not None:
                kept = self._kept_tags(conn, pid)  # None: no decisions yet
                phi_before = None if kept is None else self._phi(self._stored_embedding(conn, pid))
                conn.execute(
                    "UPDATE photos SET embedding = ?, emb_dtype = ?, emb_dim = ?, emb_proj = ?, "
                    "emb_model = ?, decided_seq = ? WHERE id = ?",
                    (
                        enc[0],
                        enc[1],
                        enc[2],
                        proj.astype("<f2").tobytes(),
                        model_version,
                        self._next_seq(conn) if kept is not None else None,
                        pid,
                    ),
                )
                if kept is not None:  # the sums move to the new embedding (as stored: float16)
                    phi_after = self._phi(_decode_embedding(enc[0], enc[1]))
                    self._habit_apply(conn, [(habits.part(phi_before, kept),
                                              habits.part(phi_after, kept))])
            if cap is not None:
                conn.execute(
                    "INSERT INTO captions(photo_id, model_version, caption, tokens, log_prob, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(photo_id, model_version) "
                    "DO UPDATE SET caption = excluded.caption, tokens = excluded.tokens, "
                    "log_prob = excluded.log_prob, created_at = excluded.created_at",
                    (
                        pid,
                        model_version,
                        cap.caption,
                        json.dumps(list(cap.tokens)),
                        float(cap.log_prob),
                        now,
                    ),
                )
            if candidates:
                self._context(conn, pid, -1)
                conn.execute(
                    "DELETE FROM suggestions WHERE photo_id = ? AND model_version = ?",
                    (pid, model_version),
                )
                seen: set[str] = set()
                rows = []
                for i, h in enumerate(candidates):
                    if h.tag in seen:
                        continue
                    seen.add(h.tag)
                    rows.append((pid, model_version, h.tag, float(h.score), h.source, i, now))
                conn.executemany(
                    "INSERT INTO suggestions(photo_id, model_version, tag, score, source, "
                    "position, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._context(conn, pid, +1)
        return pid

    def _record(self, conn: sqlite3.Connection, where: str, arg) -> PhotoRecord | None:
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
                "SELECT path FROM photo_paths WHERE photo_id = ? ORDER BY first_seen, path",
                (row[0],),
            )
        )
        return PhotoRecord(
            id=row[0],
            content_hash=row[1],
            path=row[2],
            file_size=row[3],
            mtime=row[4],
            width=row[5],
            height=row[6],
            added_at=row[7],
            updated_at=row[8],
            caption=cap[0] if cap else None,
            model_version=cap[1] if cap else None,
            has_embedding=bool(row[9]),
            paths=paths,
        )

    def photo_by_hash(self, content_hash: str) -> PhotoRecord | None:
        with self._read() as conn:
            return self._record(conn, "content_hash = ?", content_hash)

    def photo_by_path(self, path: str | os.PathLike) -> PhotoRecord | None:
        """The photo last seen at `path` (if the file was edited, the newest content)."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT id FROM photos WHERE path = ? ORDER BY updated_at DESC, id DESC LIMIT 1",
                (str(path),),
            ).fetchone()
            return None if row is None else self._record(conn, "id = ?", row[0])

    def embedding(self, content_hash: str) -> np.ndarray | None:
        with self._read() as conn:
            pid = self._photo_id(conn, content_hash)
            return None if pid is None else self._stored_embedding(conn, pid)

    def _stored_embedding(self, conn: sqlite3.Connection, pid: int) -> np.ndarray | None:
        row = conn.execute(
            "SELECT embedding, emb_dtype FROM photos WHERE id = ?", (pid,)
        ).fetchone()
        return None if row is None or row[0] is None else _decode_embedding(row[0], row[1])

    # -- decisions -------------------------------------------------------------------------
    def record_decisions(
        self,
        content_hash: str,
        approve: Iterable[str] = (),
        reject: Iterable[str] = (),
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        *,
        path: str | os.PathLike | None = None,
        at: float | None = None,
    ) -> None:
        """Record the user's decisions on one photo in one short transaction.

        Tags must already be normalised by the caller. A photo the library has not seen yet is
        created (with `path` if given) so no decision is refused. When the call returns, the
        decisions are on disk, and the next `rank` uses them.
        """
        ops: dict[str, str] = {}
        for arg, state in zip(
            (approve, reject, add, remove), (a[1] for a in _ACTIONS), strict=True
        ):
            if isinstance(arg, str):
                arg = (arg,)
            for tag in arg:
                if not tag:
                    continue
                if tag in ops and ops[tag] != state:
                    raise ValueError(f"{tag} is both {ops[tag]} and {state}")
                ops[tag] = state
        if not ops:
            return
        when = self.clock() if at is None else float(at)
        with self._write("record decisions") as conn:
            pid = self._ensure_photo(conn, content_hash, str(path) if path else None)
            emb = self._stored_embedding(conn, pid)
            if self.config.learn:
                self._learn(conn, pid, ops, emb)
            kept_before = self._context(conn, pid, -1)
            for tag, state in ops.items():
                self._apply_decision(conn, pid, tag, state, when, live=True)
            kept_after = self._context(conn, pid, +1)
            phi = self._phi(emb)
            self._habit_apply(conn, [(habits.part(phi, kept_before), habits.part(phi, kept_after))])
            self._mark_decided(conn, pid)

    def _suggested(self, conn: sqlite3.Connection, pid: int) -> list[str]:
        """The model's tags for the photo in its latest run (not the library's additions)."""
        return [
            r[0]
            for r in conn.execute(
                "SELECT tag FROM suggestions WHERE photo_id = ? AND source NOT IN "
                "('library', 'rule') AND model_version = (SELECT model_version FROM suggestions "
                "WHERE photo_id = ? ORDER BY created_at DESC LIMIT 1) ORDER BY position",
                (pid, pid),
            )
        ]

    def _kept_tags(self, conn: sqlite3.Connection, pid: int) -> frozenset[str] | None:
        """The tags kept on a photo now; None if it has no decisions at all (not reviewed)."""
        rows = conn.execute("SELECT tag, state FROM photo_tags WHERE photo_id = ?", (pid,)).fetchall()
        return None if not rows else frozenset(t for t, st in rows if st in POSITIVE_STATES)

    def _context(self, conn: sqlite3.Connection, pid: int, sign: int) -> frozenset[str] | None:
        """Add (+1) or take out (-1) a reviewed photo's counts in suggest_seen/suggest_pairs;
        returns its kept tags (`_kept_tags`), which the habit sums need too.

        Callers take the photo out before changing its suggestions or decisions and put it back
        after, so the counts always match the current state.
        """
        kept = self._kept_tags(conn, pid)
        if kept is None:
            return None
        suggested = self._suggested(conn, pid)
        if suggested:
            _bump(conn, "suggest_seen", ("s",), [(s,) for s in suggested], sign)
            _bump(conn, "suggest_pairs", ("s", "t"),
                  [(s, t) for s in suggested for t in kept if s != t], sign)
        return kept

    def _mark_decided(self, conn: sqlite3.Connection, pid: int) -> None:
        """Put a photo with decisions (and an embedding) into the neighbour index."""
        row = conn.execute(
            "SELECT 1 FROM photos WHERE id = ? AND decided_seq IS NULL AND emb_proj IS NOT NULL "
            "AND EXISTS (SELECT 1 FROM photo_tags WHERE photo_id = ?)",
            (pid, pid),
        ).fetchone()
        if row is not None:
            conn.execute(
                "UPDATE photos SET decided_seq = ? WHERE id = ?", (self._next_seq(conn), pid)
            )

    def _load_stats(self, conn: sqlite3.Connection, tag: str) -> _Stats:
        row = conn.execute(
            "SELECT pos_w, neg_w, ref_at, approved, rejected, added, removed, last_at "
            "FROM tag_stats WHERE tag = ?",
            (tag,),
        ).fetchone()
        return _Stats(tag) if row is None else _Stats(tag, *row)

    def _save_stats(self, conn: sqlite3.Connection, st: _Stats) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO tag_stats(tag, pos_w, neg_w, ref_at, approved, rejected, "
            "added, removed, last_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                st.tag,
                st.pos_w,
                st.neg_w,
                st.ref_at,
                st.approved,
                st.rejected,
                st.added,
                st.removed,
                st.last_at,
            ),
        )

    def _apply_decision(
        self, conn: sqlite3.Connection, pid: int, tag: str, state: str, at: float, live: bool
    ) -> bool:
        """Log one decision and update the derived tables; False if it was already logged.

        `live`: the decision is being made now, so it is the latest whatever the clock says.
        Imported decisions change the photo's state only if they are newer than its current one,
        so importing in any order gives the same result.
        """
        cur = conn.execute(
            "INSERT OR IGNORE INTO decisions(photo_id, tag, state, at) VALUES (?, ?, ?, ?)",
            (pid, tag, state, at),
        )
        if cur.rowcount == 0:
            return False
        prev = conn.execute(
            "SELECT state, at FROM photo_tags WHERE photo_id = ? AND tag = ?", (pid, tag)
        ).fetchone()
        if prev is not None and not live and prev[1] > at:
            return True  # an older decision: history only
        # (the same state again still moves the decision's time, for the recency weight)
        conn.execute(
            "INSERT OR REPLACE INTO photo_tags(photo_id, tag, state, at) VALUES (?, ?, ?, ?)",
            (pid, tag, state, at),
        )
        half_life = self.config.half_life_days
        st = self._load_stats(conn, tag)
        if prev is not None:
            st.count(prev[0], -1)
            st.weigh(prev[0] in POSITIVE_STATES, -1.0, prev[1], half_life)
        st.count(state, +1)
        st.weigh(state in POSITIVE_STATES, +1.0, at, half_life)
        st.last_at = max(st.last_at, at)
        self._save_stats(conn, st)
        was_kept = prev is not None and prev[0] in POSITIVE_STATES
        kept = state in POSITIVE_STATES
        if was_kept != kept:
            others = [
                r[0]
                for r in conn.execute(
                    "SELECT tag FROM photo_tags WHERE photo_id = ? AND tag <> ? "
                    "AND state IN ('approved', 'added')",
                    (pid, tag),
                )
            ]
            _bump(conn, "tag_pairs", ("a", "b"),
                  [pair for o in others for pair in ((tag, o), (o, tag))], 1 if kept else -1)
        return True

    def decisions_for(self, content_hash: str) -> dict[str, str]:
        """tag -> the latest state ('approved', 'rejected', 'added', 'removed') on this photo."""
        with self._read() as conn:
            pid = self._photo_id(conn, content_hash)
            if pid is None:
                return {}
            return {
                tag: state
                for tag, state in conn.execute(
                    "SELECT tag, state FROM photo_tags WHERE photo_id = ? ORDER BY at, tag", (pid,)
                )
                if is_valid_tag(tag)  # (odd tags from an older import are never shown)
            }

    def history(self, content_hash: str) -> list[tuple[str, str, float]]:
        """Every decision on the photo, oldest first: (tag, state, time)."""
        with self._read() as conn:
            pid = self._photo_id(conn, content_hash)
            if pid is None:
                return []
            return [
                (r[0], r[1], r[2])
                for r in conn.execute(
                    "SELECT tag, state, at FROM decisions WHERE photo_id = ? ORDER BY at, id",
                    (pid,),
                )
            ]

    # -- rules -----------------------------------------------------------------------------
    def _set_rule(self, kind: str, tag: str, target: str | None = None) -> None:
        with self._write("change a rule") as conn:
            if kind == "block":
                conn.execute("DELETE FROM rules WHERE kind = 'always' AND tag = ?", (tag,))
            elif kind == "always":
                conn.execute("DELETE FROM rules WHERE kind = 'block' AND tag = ?", (tag,))
            elif kind == "synonym":
                target = self._link_synonym(conn, tag, target)
            conn.execute(
                "INSERT OR REPLACE INTO rules(kind, tag, target, created_at) VALUES (?, ?, ?, ?)",
                (kind, tag, target, self.clock()),
            )

    @staticmethod
    def _link_synonym(conn: sqlite3.Connection, alias: str, target: str) -> str:
        """Before `alias -> target` is stored: chains resolved so every alias points at a final
        tag (returned; the aliases of `alias` now point at it); LibraryError for a loop."""
        syn = dict(conn.execute("SELECT tag, target FROM rules WHERE kind = 'synonym'"))
        final = target
        seen = {alias}
        while final in syn:
            if final in seen:
                break
            seen.add(final)
            final = syn[final]
        if final == alias or final in seen:
            raise LibraryError(f"{alias} -> {target} would make a synonym loop")
        conn.execute(
            "UPDATE rules SET target = ? WHERE kind = 'synonym' AND target = ?", (final, alias)
        )
        return final

    def _drop_rule(self, kind: str, tag: str) -> None:
        with self._write("change a rule") as conn:
            conn.execute("DELETE FROM rules WHERE kind = ? AND tag = ?", (kind, tag))

    def block(self, tag: str) -> None:
        """Never suggest `tag` (or its synonyms)."""
        self._set_rule("block", tag)

    def unblock(self, tag: str) -> None:
        self._drop_rule("block", tag)

    def add_synonym(self, alias: str, canonical: str) -> None:
        """Merge `alias` into `canonical`: suggested and counted as `canonical`."""
        if alias == canonical:
            raise LibraryError(f"{alias} cannot be a synonym of itself")
        self._set_rule("synonym", alias, canonical)

    def remove_synonym(self, alias: str) -> None:
        self._drop_rule("synonym", alias)

    def add_always(self, tag: str) -> None:
        """Add `tag` to every photo's suggestions, first."""
        self._set_rule("always", tag)

    def remove_always(self, tag: str) -> None:
        self._drop_rule("always", tag)

    def _load_rules(self, conn: sqlite3.Connection) -> _Rules:
        rules = _Rules()
        for kind, tag, target in conn.execute(
            "SELECT kind, tag, target FROM rules ORDER BY created_at, tag"
        ):
            if not is_valid_tag(tag) or (kind == "synonym" and not is_valid_tag(target)):
                continue  # an odd tag (imported by an older hashlens): never shown or applied
            if kind == "block":
                rules.blocked.add(tag)
            elif kind == "synonym" and target:
                rules.synonyms[tag] = target
            elif kind == "always":
                rules.always.append(tag)
        return rules

    def rules(self) -> dict:
        """{"blocked": [...], "synonyms": {alias: canonical}, "always": [...]}."""
        with self._read() as conn:
            r = self._load_rules(conn)
        return {
            "blocked": sorted(r.blocked),
            "synonyms": dict(sorted(r.synonyms.items())),
            "always": list(r.always),
        }

    # -- ranking ---------------------------------------------------------------------------
    def unpersonalized(
        self, candidates: Sequence[HashtagSuggestion], limit: int = 30
    ) -> list[HashtagSuggestion]:
        """The model's own order (the benchmark's baseline): copies, best model score first."""
        order = sorted(range(len(candidates)), key=lambda i: (-candidates[i].score, i))
        out: list[HashtagSuggestion] = []
        seen: set[str] = set()
        for i in order:
            c = candidates[i]
            if c.tag in seen or not is_valid_tag(c.tag):
                continue
            seen.add(c.tag)
            p = min(max(float(c.score), self.config.model_clip), 1 - self.config.model_clip)
            out.append(replace(c, parts={"model": ranking.logit(p)}))
        return out[:limit]

    def rank(
        self,
        candidates: Sequence[HashtagSuggestion],
        embedding: np.ndarray | None,
        content_hash: str | None = None,
        chosen: Sequence[str] = (),
        limit: int = 30,
        *,
        personalize: bool = True,
    ) -> list[HashtagSuggestion]:
        """The personalised ranking of `candidates` for one photo, best first.

        - rules: blocked tags dropped, synonyms merged into their canonical tag, always-add tags
          first (source "rule");
        - tags kept on visually similar photos are added (source "library"), as are tags often
          used with the ones already `chosen`;
        - every suggestion gets `parts` (log-odds terms, see ranking.py) and a `reason`.
        `content_hash`: the photo itself (its own decisions come first or last, and it is not its
        own neighbour). The inputs are not modified.
        """
        if not personalize:
            return self.unpersonalized(candidates, limit)
        if not self._habits_checked and embedding is not None:
            self._ensure_habits()
        if content_hash:
            with self._lock:  # for record_result: the model's candidates, not our ranking
                self._recent[content_hash] = list(candidates)
                self._recent.move_to_end(content_hash)
                while len(self._recent) > 256:
                    self._recent.popitem(last=False)
        with self._read("rank") as conn:
            rules = self._load_rules(conn)
            pid = self._photo_id(conn, content_hash) if content_hash else None
            gathered = self._gather(conn, rules, candidates, embedding, pid, chosen, own=True)
            weights = self._weights(conn)
        merged, evidence, order = gathered
        scored = ranking.rank_evidence(evidence, self.config, order, weights)
        out: list[HashtagSuggestion] = []
        for tag in dict.fromkeys(rules.canon(t) for t in rules.always):
            if tag in rules.blocked:
                continue
            out.append(
                HashtagSuggestion(
                    tag=tag, score=1.0, source="rule", parts={"rule": 1.0},
                    reason="always added (your rule)",
                )
            )
        for s in scored:
            if not is_valid_tag(s.tag):
                continue  # an odd tag in the library (imported by an older hashlens)
            cand = merged[s.tag]
            reason = s.reason
            if reason == "suggested from the photo" and cand.reason:
                reason = cand.reason
            out.append(
                HashtagSuggestion(
                    tag=s.tag, score=s.score, source=cand.source,
                    token_indices=cand.token_indices, words=cand.words, parts=s.parts,
                    reason=reason,
                )
            )
        return out[:limit]

    def _weights(self, conn: sqlite3.Connection) -> dict[str, float]:
        """The weights of the parts: learned from this user's decisions, else the defaults."""
        weights = ranking.default_weights(self.config)
        if self.config.learn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'weights'").fetchone()
            if row is not None:
                try:
                    learned = json.loads(row[0])
                    weights.update({k: float(v) for k, v in learned.items() if k in weights})
                except (ValueError, TypeError, AttributeError):
                    pass  # a damaged value: the defaults are always safe
        return weights

    def _gather(
        self,
        conn: sqlite3.Connection,
        rules: _Rules,
        candidates: Sequence[HashtagSuggestion],
        embedding: np.ndarray | None,
        pid: int | None,
        chosen: Sequence[str],
        own: bool,
        extra_tags: Sequence[str] = (),
    ) -> tuple[dict[str, _Candidate], list[TagEvidence], dict[str, int]]:
        """Everything the library knows about each candidate (and the tags it adds)."""
        cfg = self.config
        canon = rules.canon
        merged: dict[str, _Candidate] = {}
        order: dict[str, int] = {}
        for c in candidates:
            tag = canon(c.tag)
            if tag in rules.blocked or c.tag in rules.blocked:
                continue
            have = merged.get(tag)
            if have is None:
                merged[tag] = _Candidate(
                    tag, float(c.score), c.source, tuple(c.token_indices), tuple(c.words),
                    c.reason,
                )
                order[tag] = len(order)
            else:
                have.model = max(have.model or 0.0, float(c.score))
                have.token_indices = tuple(
                    dict.fromkeys(have.token_indices + tuple(c.token_indices))
                )
                have.words = tuple(dict.fromkeys(have.words + tuple(c.words)))
            if c.tag != tag and c.tag not in merged[tag].merged_from:
                merged[tag].merged_from.append(c.tag)

        states: dict[str, str] = {}
        if pid is not None:
            for tag, state in conn.execute(
                "SELECT tag, state FROM photo_tags WHERE photo_id = ? ORDER BY at", (pid,)
            ):
                states[canon(tag)] = state
        chosen_c = list(
            dict.fromkeys(
                [canon(t) for t in chosen] + [t for t, s in states.items() if s in POSITIVE_STATES]
            )
        )

        votes = None
        if embedding is not None and cfg.k > 0:
            votes = self._neighbour_votes(conn, embedding, pid, canon)
        habit_p: dict[str, float] = {}
        habit_kept: dict[str, int] = {}
        habit_cue: dict[str, str] = {}
        if embedding is not None:
            habit_p, habit_kept, habit_cue = self._habit_predictions(conn, embedding, rules)

        def addable(tag: str) -> bool:
            return tag not in merged and tag not in rules.blocked

        extra: list[str] = []
        if votes is not None:
            for tag, _ in sorted(votes.support.items(), key=lambda kv: (-kv[1], kv[0])):
                if len(extra) >= cfg.library_candidates:
                    break
                if addable(tag):
                    extra.append(tag)
        likely = [t for t, p in sorted(habit_p.items(), key=lambda kv: (-kv[1], kv[0]))
                  if p >= cfg.habit_candidate_min]
        for tag in likely[: cfg.habit_candidates]:
            if addable(tag) and tag not in extra:
                extra.append(tag)
        pinned = [t for t, s in states.items() if s in POSITIVE_STATES] if own else []
        for tag in [canon(t) for t in extra_tags] + pinned:
            if addable(tag) and tag not in extra:
                extra.append(tag)

        aliases = rules.aliases()

        def raw(tags: Iterable[str]) -> list[str]:
            out = []
            for t in tags:
                out.append(t)
                out.extend(aliases.get(t, ()))
            return out

        # Co-occurrence: with the tags chosen on this photo (tag_pairs) and with the model's
        # tags for it (suggest_pairs). Their strongest partners become candidates too.
        context = [t for t, c in merged.items() if c.model is not None]
        seen: dict[str, float] = {}
        for part in _chunks(raw(context)):
            for tag, n in conn.execute(
                f"SELECT s, n FROM suggest_seen WHERE s IN ({_marks(len(part))})", list(part)
            ):
                seen[canon(tag)] = seen.get(canon(tag), 0.0) + n
        # One indexed read per key: its PARTNERS most frequent partners. They give both the
        # counts (a partner outside them is too rare to matter) and the new candidates.
        pairs: dict[tuple[str, str], float] = {}
        sugg: dict[tuple[str, str], float] = {}
        for table, cols, keys, counts in (
            ("tag_pairs", ("a", "b"), chosen_c, pairs),
            ("suggest_pairs", ("s", "t"), context, sugg),
        ):
            found: dict[str, float] = {}
            for key in raw(keys):
                ckey = canon(key)
                for tag, n in conn.execute(
                    f"SELECT {cols[1]}, n FROM {table} WHERE {cols[0]} = ? "
                    f"ORDER BY n DESC LIMIT {_PARTNERS}",
                    (key,),
                ):
                    if n < 2:
                        break
                    tag = canon(tag)
                    counts[(ckey, tag)] = counts.get((ckey, tag), 0.0) + n
                    value = n / (seen.get(ckey, n) + cfg.context_shrink)
                    if table == "tag_pairs" or value >= cfg.context_min:
                        found[tag] = max(found.get(tag, 0.0), n)
            ordered = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
            added = 0
            for tag, _ in ordered:
                if added >= 10:
                    break
                if addable(tag) and tag not in extra and tag not in chosen_c:
                    extra.append(tag)
                    added += 1
        for tag in extra:
            if tag not in merged:
                merged[tag] = _Candidate(tag, None, "library")
        for tag in rules.always:
            merged.pop(canon(tag), None)

        stats = self._stats_for(conn, raw(list(merged) + chosen_c), canon)
        now = self.clock()
        kept_counts = {t: float(st.approved + st.added) for t, st in stats.items()}
        cooc = ranking.cooccurrence(pairs, kept_counts, chosen_c, merged, cfg.cooccurrence_shrink)
        ctx = ranking.cooccurrence(sugg, seen, context, merged, cfg.context_shrink)
        evidence = []
        for tag, cand in merged.items():
            st = stats.get(tag) or _Stats(tag)
            ev = TagEvidence(
                tag=tag,
                model=cand.model,
                pos_w=ranking.decayed_value(st.pos_w, st.ref_at, now, cfg.half_life_days),
                neg_w=ranking.decayed_value(st.neg_w, st.ref_at, now, cfg.half_life_days),
                approvals=st.approved,
                adds=st.added,
                rejections=st.rejected,
                removals=st.removed,
                merged_from=tuple(cand.merged_from),
                own_state=states.get(tag) if own else None,
            )
            if votes is not None:
                ev.nb_support = votes.support.get(tag, 0.0)
                ev.nb_against = votes.against.get(tag, 0.0)
                ev.nb_weight = votes.weight
                ev.nb_count = votes.count.get(tag, 0)
                ev.nb_reject_count = votes.reject_count.get(tag, 0)
            if tag in habit_p:
                ev.habit = habit_p[tag]
                ev.habit_kept = habit_kept[tag]
                ev.habit_cue = habit_cue.get(tag)
            if tag in cooc:
                ev.cooc, ev.cooc_with, ev.cooc_count = cooc[tag]
            if tag in ctx:
                ev.ctx, ev.ctx_with, ev.ctx_count = ctx[tag]
            evidence.append(ev)
        return merged, evidence, order

    def _learn(
        self, conn: sqlite3.Connection, pid: int, ops: dict[str, str], emb: np.ndarray | None
    ) -> None:
        """Update the weights of the parts with this photo's new decisions (before they count).

        The photo's evidence is rebuilt as `rank` saw it: its stored suggestions (latest run),
        its embedding, the decisions made on it before these. Kept = 1, rejected = 0. Only tags
        the ranker could have offered teach it (the model's, or ones with library evidence).
        """
        cands = [
            HashtagSuggestion(tag=t, score=sc, source=src)
            for t, sc, src in conn.execute(
                "SELECT tag, score, source FROM suggestions WHERE photo_id = ? AND "
                "model_version = (SELECT model_version FROM suggestions WHERE photo_id = ? "
                "ORDER BY created_at DESC LIMIT 1) ORDER BY position",
                (pid, pid),
            )
        ]
        if not cands:
            return  # never tagged (e.g. feedback on a new photo): nothing was ranked
        rules = self._load_rules(conn)
        _, evidence, _ = self._gather(
            conn, rules, cands, emb, pid, (), own=False, extra_tags=list(ops)
        )
        by_tag = {ev.tag: ev for ev in evidence}
        examples = []
        for tag, state in ops.items():
            ev = by_tag.get(rules.canon(tag))
            if ev is None:
                continue  # blocked or always-added: the rules decide, nothing to learn
            if ev.model is None and ev.nb_support <= 0 and ev.ctx <= 0 and ev.cooc <= 0:
                continue  # a hand-typed tag the ranker could not have offered
            examples.append((ranking.features(ev, self.config), state in POSITIVE_STATES))
        if not examples:
            return
        weights = ranking.sgd_update(self._weights(conn), examples, self.config)
        self._save_weights(conn, weights, self._weights_n(conn) + len(examples))

    def _weights_n(self, conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM meta WHERE key = 'weights_n'").fetchone()
        try:
            return int(row[0]) if row else 0
        except ValueError:
            return 0

    def _save_weights(self, conn: sqlite3.Connection, weights: dict[str, float], n: int) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            [("weights", json.dumps({k: round(v, 6) for k, v in weights.items()})),
             ("weights_n", str(int(n)))],
        )

    def _stats_for(
        self, conn: sqlite3.Connection, tags: Sequence[str], canon: Callable[[str], str]
    ) -> dict[str, _Stats]:
        """tag_stats rows, summed over synonyms into their canonical tag."""
        out: dict[str, _Stats] = {}
        half_life = self.config.half_life_days
        uniq = list(dict.fromkeys(tags))
        for part in _chunks(uniq):
            for row in conn.execute(
                "SELECT tag, pos_w, neg_w, ref_at, approved, rejected, added, removed, last_at "
                f"FROM tag_stats WHERE tag IN ({_marks(len(part))})",
                list(part),
            ):
                st = _Stats(*row)
                key = canon(st.tag)
                have = out.get(key)
                if have is None:
                    st.tag = key
                    out[key] = st
                    continue
                ref = max(have.ref_at, st.ref_at)
                for s in (have, st):
                    s.weigh(True, 0.0, ref, half_life)
                have.pos_w += st.pos_w
                have.neg_w += st.neg_w
                for name in ("approved", "rejected", "added", "removed"):
                    setattr(have, name, getattr(have, name) + getattr(st, name))
                have.last_at = max(have.last_at, st.last_at)
        return out

    # -- habit models (habits.py) ----------------------------------------------------------
    def _features(self) -> habits.PhotoFeatures | None:
        if isinstance(self._habit_features, str):
            self._habit_features = habits.default_features()
        return self._habit_features

    def _ensure_habits(self) -> None:
        """Build the habit sums if this library has none for the current features (made by an
        older hashlens, or with another tag detector): ~6 s at 100k reviewed photos, once. Called
        from `rank`, which runs on the tagging worker, so the GUI thread's first decision does
        not pay for it."""
        self._habits_checked = True
        feats = self._features()
        if feats is None or self.readonly:
            return
        with self._read("check the habit models") as conn:
            row = conn.execute("SELECT key FROM habit_gram").fetchone()
            if row is not None and row[0] == feats.key:
                return
            if conn.execute("SELECT 1 FROM photo_tags LIMIT 1").fetchone() is None:
                return  # nothing reviewed yet: the first decision starts the sums
        with self._write("build the habit models") as conn:
            row = conn.execute("SELECT key FROM habit_gram").fetchone()
            if row is None or row[0] != feats.key:  # (unless another process just did)
                self._rebuild_habits(conn)

    def _phi(self, embedding: np.ndarray | None) -> np.ndarray | None:
        """What the habit models see of a photo (None: no features, or no embedding)."""
        feats = self._features()
        return None if feats is None or embedding is None else feats(embedding)

    def _habit_part(
        self, conn: sqlite3.Connection, pid: int, kept: frozenset[str] | None
    ) -> habits.PhotoPart | None:
        """The photo's terms in the habit sums, given its kept tags (None: not reviewed)."""
        if kept is None:
            return None
        return habits.part(self._phi(self._stored_embedding(conn, pid)), kept)

    def _habit_apply(
        self,
        conn: sqlite3.Connection,
        changes: Iterable[tuple[habits.PhotoPart | None, habits.PhotoPart | None]],
    ) -> None:
        """Move the habit sums from photos' old terms to their new ones, (before, after) per
        photo, in the caller's transaction: one read and write of G however many photos."""
        feats = self._features()
        changes = [(b, a) for b, a in changes if b is not None or a is not None]
        if feats is None or not changes:
            return
        self._habit_version += 1
        row = conn.execute("SELECT key, gram FROM habit_gram").fetchone()
        gram = None if row is None or row[0] != feats.key else habits.from_blob(
            row[1], feats.dim, square=True)
        if gram is None:  # first use, another detector, or damaged: rebuild (includes these)
            self._rebuild_habits(conn)
            return
        dgram = np.zeros_like(gram)
        dn = 0
        dsums: dict[str, np.ndarray] = {}
        dkept: dict[str, int] = {}
        for before, after in changes:
            dg, db = habits.delta(before, after)
            if dg is not None:
                dgram += dg
            dn += (after is not None) - (before is not None)
            for tag, dv in db.items():
                dsums[tag] = dsums[tag] + dv if tag in dsums else dv
                dkept[tag] = dkept.get(tag, 0) + (after is not None and tag in after.kept) - (
                    before is not None and tag in before.kept)
        if dn or np.any(dgram):
            conn.execute(
                "UPDATE habit_gram SET n = n + ?, gram = ? WHERE key = ?",
                (dn, habits.to_blob(gram + dgram), feats.key),
            )
        for tag, dv in dsums.items():
            old = conn.execute("SELECT n, vec FROM habit_sums WHERE tag = ?", (tag,)).fetchone()
            vec = np.zeros(feats.dim) if old is None else habits.from_blob(old[1], feats.dim)
            if vec is None:
                self._rebuild_habits(conn)
                return
            n = (0 if old is None else old[0]) + dkept[tag]
            if n <= 0:
                conn.execute("DELETE FROM habit_sums WHERE tag = ?", (tag,))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO habit_sums(tag, n, vec) VALUES (?, ?, ?)",
                    (tag, n, habits.to_blob(vec + dv)),
                )

    def _rebuild_habits(self, conn: sqlite3.Connection) -> None:
        """Recompute the habit sums from the stored embeddings and decisions (in chunks)."""
        self._habit_version += 1
        conn.execute("DELETE FROM habit_gram")
        conn.execute("DELETE FROM habit_sums")
        feats = self._features()
        if feats is None:
            return
        gram = np.zeros((feats.dim, feats.dim))
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        n = 0
        kept_rows = {
            pid: set(tags.split("\n"))
            for pid, tags in conn.execute(
                "SELECT photo_id, group_concat(tag, char(10)) FROM photo_tags "
                "WHERE state IN ('approved', 'added') GROUP BY photo_id"
            )
        }
        cur = conn.execute(
            "SELECT id, embedding, emb_dtype FROM photos WHERE embedding IS NOT NULL "
            "AND id IN (SELECT DISTINCT photo_id FROM photo_tags)"
        )
        while rows := cur.fetchmany(2048):
            by_dim: dict[int, list[tuple[np.ndarray, set[str]]]] = {}
            for pid, blob, dtype in rows:
                emb = _decode_embedding(blob, dtype)
                if np.isfinite(emb).all():  # (as the features of one photo would say)
                    by_dim.setdefault(emb.size, []).append((emb, kept_rows.get(pid, set())))
            for group in by_dim.values():
                phi = feats.many(np.stack([e for e, _ in group]))
                if phi is None:
                    continue  # embeddings of another kind (another encoder): no features
                gram += phi.T @ phi
                n += len(phi)
                for row, (_, tags) in zip(phi, group, strict=True):
                    for t in tags:
                        if t in sums:
                            sums[t] += row
                            counts[t] += 1
                        else:
                            sums[t] = row.copy()
                            counts[t] = 1
        conn.execute(
            "INSERT INTO habit_gram(key, n, gram) VALUES (?, ?, ?)",
            (feats.key, n, habits.to_blob(gram)),
        )
        conn.executemany(
            "INSERT INTO habit_sums(tag, n, vec) VALUES (?, ?, ?)",
            [(t, counts[t], habits.to_blob(v)) for t, v in sums.items()],
        )

    def _habit_models(
        self, conn: sqlite3.Connection, feats: habits.PhotoFeatures, rules: _Rules
    ) -> habits.HabitModels | None:
        """The habit models of the most kept tags (canonical tags), fitted once per change of
        the sums (here or by another process) or of the synonyms: ~8 ms at 100k photos."""
        cfg = self.config
        key = (conn.execute("PRAGMA data_version").fetchone()[0], self._habit_version, feats.key,
               tuple(sorted(rules.synonyms.items())))
        if self._habit_cache is not None and self._habit_cache[0] == key:
            return self._habit_cache[1]
        models = None
        row = conn.execute("SELECT key, n, gram FROM habit_gram").fetchone()
        if row is not None and row[0] == feats.key and row[1] >= cfg.habit_min_photos:
            gram = habits.from_blob(row[2], feats.dim, square=True)
            if gram is not None:
                sums: dict[str, np.ndarray] = {}
                kept: dict[str, int] = {}
                for tag, n, blob in conn.execute(
                    "SELECT tag, n, vec FROM habit_sums WHERE n >= ? ORDER BY n DESC LIMIT ?",
                    (cfg.habit_min_kept, cfg.habit_tags),
                ):
                    vec = habits.from_blob(blob, feats.dim)
                    if vec is not None:
                        tag = rules.canon(tag)
                        sums[tag] = sums[tag] + vec if tag in sums else vec
                        kept[tag] = kept.get(tag, 0) + n
                models = habits.HabitModels.fit(gram, sums, kept, cfg.habit_ridge)
        self._habit_cache = (key, models)
        return models

    def _habit_predictions(self, conn: sqlite3.Connection, embedding: np.ndarray, rules: _Rules
    ) -> tuple[dict[str, float], dict[str, int], dict[str, str]]:
        """P(kept) on this photo for the tags the user keeps most, how many photos kept each,
        and what in the photo calls for each ("#child")."""
        feats = self._features()
        if feats is None or self.config.habit_tags <= 0:
            return {}, {}, {}
        phi = feats(embedding)
        if phi is None:
            return {}, {}, {}
        models = self._habit_models(conn, feats, rules)
        if models is None:
            return {}, {}, {}
        return models.predict(phi), models.kept, models.cues(phi, feats.names)

    # -- neighbours ------------------------------------------------------------------------
    def _refresh_index(self, conn: sqlite3.Connection, dim_in: int) -> NeighbourIndex:
        """The neighbour index, brought up to date (by decided_seq) with other calls and processes.

        The first call loads every reviewed photo's stored projection (100k photos: ~1 s). The
        centre is computed then, from all of them, and the index is rebuilt when it has doubled
        since (or reaches `center_min_photos`, below which it is not centred at all).
        """
        cfg = self.config
        index = self._index
        if index is not None and self._index_dim_in == dim_in:
            ids, raw = self._load_projections(conn, dim_in)
            if len(ids):
                index.add_raw(ids, raw)
            n = len(index)
            stale = (index.center is None and n >= cfg.center_min_photos) or (
                index.center is not None and n >= 2 * self._index_centred_n
            )
            if not stale:
                if index._flat_n > max(cfg.ivf_min_photos, n // 4):
                    index.build_ivf(cfg.ivf_nprobe)  # the unclustered tail grew too long
                return index
        self._index_seq = 0
        self._index_dim_in = dim_in
        ids, raw = self._load_projections(conn, dim_in)
        dim = raw.shape[1]
        center = None
        self._mu_full = None
        if len(ids) >= cfg.center_min_photos:
            center = raw.mean(axis=0)
            self._mu_full = self._sample_mean(conn, ids, dim_in)
        index = NeighbourIndex(dim, capacity=len(ids), center=center)
        if len(ids):
            index.add_raw(ids, raw)
        del raw
        if len(ids) >= cfg.ivf_min_photos:
            index.build_ivf(cfg.ivf_nprobe)
        self._index = index
        self._index_centred_n = max(1, len(ids))
        return index

    def _load_projections(
        self, conn: sqlite3.Connection, dim_in: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stored projections of photos that entered the index after `_index_seq`."""
        dim = project_raw(np.zeros(dim_in, np.float32)).size
        all_ids: list[np.ndarray] = []
        all_raw: list[np.ndarray] = []
        cur = conn.execute(
            "SELECT id, emb_proj, emb_dim, decided_seq FROM photos "
            "WHERE decided_seq > ? ORDER BY decided_seq",
            (self._index_seq,),
        )
        while True:
            rows = cur.fetchmany(20000)
            if not rows:
                break
            self._index_seq = max(self._index_seq, int(rows[-1][3]))
            rows = [r for r in rows if r[2] == dim_in and r[1] is not None]
            good = [r for r in rows if len(r[1]) == 2 * dim]
            if good:
                vecs = np.frombuffer(b"".join(r[1] for r in good), dtype="<f2")
                all_ids.append(np.array([r[0] for r in good], dtype=np.int64))
                all_raw.append(vecs.reshape(len(good), dim).astype(np.float32))
            for r in rows:  # stored with another projection size: project the embedding again
                if len(r[1]) != 2 * dim:
                    emb = conn.execute(
                        "SELECT embedding, emb_dtype FROM photos WHERE id = ?", (r[0],)
                    ).fetchone()
                    if emb and emb[0] is not None:
                        all_ids.append(np.array([r[0]], dtype=np.int64))
                        all_raw.append(project_raw(_decode_embedding(emb[0], emb[1]))[None])
        if not all_ids:
            return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
        return np.concatenate(all_ids), np.concatenate(all_raw)

    def _sample_mean(self, conn: sqlite3.Connection, ids: np.ndarray, dim_in: int) -> np.ndarray:
        """The mean full embedding of up to 512 reviewed photos spread over the library."""
        pick = np.unique(ids[np.linspace(0, len(ids) - 1, min(512, len(ids))).astype(int)])
        total = np.zeros(dim_in, np.float64)
        n = 0
        for part in _chunks([int(i) for i in pick]):
            for blob, dtype in conn.execute(
                f"SELECT embedding, emb_dtype FROM photos WHERE id IN ({_marks(len(part))})",
                list(part),
            ):
                if blob is not None:
                    vec = _decode_embedding(blob, dtype)
                    if vec.size == dim_in:
                        total += vec
                        n += 1
        return (total / max(1, n)).astype(np.float32)

    def _neighbour_votes(
        self,
        conn: sqlite3.Connection,
        embedding: np.ndarray,
        exclude: int | None,
        canon: Callable[[str], str],
    ) -> ranking.NeighbourVotes | None:
        cfg = self.config
        emb = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if emb.size == 0 or not np.all(np.isfinite(emb)) or not np.any(emb):
            return None
        index = self._refresh_index(conn, emb.size)
        if len(index) == 0:
            return None
        found = index.search_raw(project_raw(emb), max(cfg.k, cfg.shortlist), exclude=exclude)
        if len(found.ids) == 0:
            return None
        baseline = ranking.similarity_baseline(found.all_sims, cfg)
        ids, sims = found.ids, found.sims
        if len(ids):  # exact cosines for the shortlist, from the stored embeddings
            id_list = [int(i) for i in ids]
            rows = [
                r
                for r in conn.execute(
                    "SELECT id, embedding, emb_dtype FROM photos "
                    f"WHERE id IN ({_marks(len(id_list))})",
                    id_list,
                )
                if r[1] is not None and r[2] == "f2" and len(r[1]) == 2 * emb.size
            ]
            if rows:
                mat = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f2")
                exact = exact_similarities(
                    emb, mat.reshape(len(rows), emb.size).astype(np.float32), self._mu_full
                )
                top = np.argsort(-exact, kind="stable")[: cfg.k]
                ids = np.array([r[0] for r in rows], dtype=np.int64)[top]
                sims = exact[top].astype(np.float64)
        ids, sims = ids[: cfg.k], sims[: cfg.k]
        weights = ranking.neighbour_weights(sims, baseline, cfg.similarity_power)
        use = [int(i) for i, w in zip(ids, weights, strict=True) if w > 0]
        if not use:
            return None
        kept: dict[int, list[str]] = {i: [] for i in use}
        rejected: dict[int, list[str]] = {i: [] for i in use}
        for photo_id, tag, state in conn.execute(
            f"SELECT photo_id, tag, state FROM photo_tags WHERE photo_id IN ({_marks(len(use))})",
            use,
        ):
            (kept if state in POSITIVE_STATES else rejected)[photo_id].append(canon(tag))
        w_by_id = {int(i): float(w) for i, w in zip(ids, weights, strict=True)}
        return ranking.neighbour_votes(
            [w_by_id[i] for i in use], [kept[i] for i in use], [rejected[i] for i in use]
        )

    # -- views -----------------------------------------------------------------------------
    def tag_preferences(self, limit: int | None = None) -> list[TagPreference]:
        """Every tag the user decided on, most kept first."""
        now = self.clock()
        cfg = self.config
        sql = (
            "SELECT tag, pos_w, neg_w, ref_at, approved, rejected, added, removed, last_at "
            "FROM tag_stats WHERE approved + rejected + added + removed > 0 "
            "ORDER BY approved + added DESC, rejected + removed, tag"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        feats = self._features()
        with self._read() as conn:
            rows = conn.execute(sql).fetchall()
            rules = self._load_rules(conn)
            canon = rules.canon
            models = self._habit_models(conn, feats, rules) if feats is not None else None
        when = models.triggers(feats.names) if models is not None else {}
        out = []
        for tag, pos_w, neg_w, ref_at, approved, rejected, added, removed, last_at in rows:
            if not is_valid_tag(tag):
                continue  # an odd tag (imported by an older hashlens): never shown
            pos = ranking.decayed_value(pos_w, ref_at, now, cfg.half_life_days)
            neg = ranking.decayed_value(neg_w, ref_at, now, cfg.half_life_days)
            score = ranking.beta_preference(pos, neg, cfg.prior_approve, cfg.prior_reject)
            out.append(TagPreference(tag, approved, rejected, added, removed, score, last_at,
                                     when.get(canon(tag), ())))
        return out

    def known_tags(self, prefix: str, limit: int = 20) -> list[str]:
        """Tags starting with `prefix` (with or without '#'), the user's most used first."""
        p = prefix.strip().lower()
        p = p if p.startswith("#") else "#" + p
        hi = p + "\U0010ffff"
        out: list[str] = []
        with self._read() as conn:
            queries = (
                (
                    "SELECT tag FROM tag_stats WHERE tag >= ? AND tag < ? "
                    "ORDER BY approved + added DESC, rejected, tag LIMIT ?"
                ),
                "SELECT tag FROM rules WHERE tag >= ? AND tag < ? ORDER BY tag LIMIT ?",
                "SELECT DISTINCT tag FROM suggestions WHERE tag >= ? AND tag < ? ORDER BY tag LIMIT ?",
            )
            for sql in queries:
                for (tag,) in conn.execute(sql, (p, hi, limit)):
                    if tag not in out and is_valid_tag(tag):
                        out.append(tag)
                if len(out) >= limit:
                    break
        return out[:limit]

    def stats(self) -> dict:
        """Counts for `hashlens library stats` (and the GUI)."""
        with self._read() as conn:
            one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
            sums = conn.execute(
                "SELECT count(*), coalesce(sum(approved), 0), coalesce(sum(rejected), 0), "
                "coalesce(sum(added), 0), coalesce(sum(removed), 0) FROM tag_stats "
                "WHERE approved + rejected + added + removed > 0"
            ).fetchone()
            rules = dict(conn.execute("SELECT kind, count(*) FROM rules GROUP BY kind").fetchall())
            out = {
                "photos": one("SELECT count(*) FROM photos"),
                "photos_reviewed": one("SELECT count(DISTINCT photo_id) FROM photo_tags"),
                # the log is append-only (never deleted), so its last rowid is its size: O(1)
                "decisions": one("SELECT coalesce(max(id), 0) FROM decisions"),
                "tags": sums[0],
                "approved": sums[1],
                "rejected": sums[2],
                "added": sums[3],
                "removed": sums[4],
                "blocked": rules.get("block", 0),
                "synonyms": rules.get("synonym", 0),
                "always": rules.get("always", 0),
                # tags kept on at least habit_min_kept photos: the ones that get a habit model
                "habit_tags": conn.execute(
                    "SELECT count(*) FROM habit_sums WHERE n >= ?", (self.config.habit_min_kept,)
                ).fetchone()[0],
                "queued": one("SELECT count(*) FROM watch_queue"),  # open() migrated to schema 3
                "failed": one("SELECT count(*) FROM watch_failed"),
                "schema_version": migrations.schema_version(conn),
                "path": str(self.path),
            }
        try:
            out["size_bytes"] = self.path.stat().st_size
        except OSError:
            out["size_bytes"] = 0
        return out

    def check(self, full: bool = False) -> list[str]:
        """SQLite's quick_check (`full`: integrity_check, which also compares each index with
        its table); reads the whole file: seconds for a large library. Its verdict is kept: no
        write follows one that found damage."""
        pragma = "integrity_check" if full else "quick_check"
        with self._read("check") as conn:
            lines = [r[0] for r in conn.execute(f"PRAGMA {pragma}")]
        ok = lines == ["ok"]
        self._verdict = integrity.Diagnosis(self.path, ok, pragma,
                                            () if ok else integrity.clean_findings(lines))
        return lines

    # -- maintenance -----------------------------------------------------------------------
    def rebuild_aggregates(self) -> None:
        """Recompute the derived tables (photo_tags, tag_stats, tag_pairs, suggest_seen,
        suggest_pairs, decided_seq) from the decision log and the stored suggestions.

        A repair tool, and how bulk loads (bench/library_scale.py) finish. One transaction: at
        1M decisions it holds the write lock for tens of seconds.
        """
        half_life = self.config.half_life_days
        now = self.clock()
        with self._write("rebuild") as conn:
            conn.execute("DELETE FROM photo_tags")
            conn.execute(
                "INSERT INTO photo_tags(photo_id, tag, state, at) "
                "SELECT photo_id, tag, state, at FROM (SELECT photo_id, tag, state, at, "
                "row_number() OVER (PARTITION BY photo_id, tag ORDER BY at DESC, id DESC) AS rn "
                "FROM decisions) WHERE rn = 1"
            )
            acc: dict[str, _Stats] = {}
            for tag, state, at in conn.execute("SELECT tag, state, at FROM photo_tags"):
                st = acc.get(tag)
                if st is None:
                    st = acc[tag] = _Stats(tag, ref_at=now)
                setattr(st, state, getattr(st, state) + 1)
                w = ranking.decay_factor(now - at, half_life) if at <= now else 1.0
                if state in POSITIVE_STATES:
                    st.pos_w += w
                else:
                    st.neg_w += w
                st.last_at = max(st.last_at, at)
            conn.execute("DELETE FROM tag_stats")
            conn.executemany(
                "INSERT INTO tag_stats(tag, pos_w, neg_w, ref_at, approved, rejected, added, "
                "removed, last_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        s.tag,
                        s.pos_w,
                        s.neg_w,
                        s.ref_at,
                        s.approved,
                        s.rejected,
                        s.added,
                        s.removed,
                        s.last_at,
                    )
                    for s in acc.values()
                ],
            )
            conn.execute("DELETE FROM tag_pairs")
            conn.execute(
                "INSERT INTO tag_pairs(a, b, n) SELECT x.tag, y.tag, count(*) "
                "FROM photo_tags x JOIN photo_tags y ON x.photo_id = y.photo_id AND x.tag <> y.tag "
                "WHERE x.state IN ('approved', 'added') AND y.state IN ('approved', 'added') "
                "GROUP BY x.tag, y.tag"
            )
            conn.execute("DELETE FROM suggest_seen")
            conn.execute("DELETE FROM suggest_pairs")
            conn.execute("DROP TABLE IF EXISTS temp.latest_sugg")
            conn.execute(
                "CREATE TEMP TABLE latest_sugg AS SELECT s.photo_id AS photo_id, s.tag AS tag "
                "FROM suggestions s JOIN (SELECT photo_id, model_version FROM (SELECT photo_id, "
                "model_version, row_number() OVER (PARTITION BY photo_id ORDER BY created_at "
                "DESC) AS rn FROM suggestions) WHERE rn = 1) l "
                "ON s.photo_id = l.photo_id AND s.model_version = l.model_version "
                "WHERE s.source NOT IN ('library', 'rule') "
                "AND s.photo_id IN (SELECT DISTINCT photo_id FROM photo_tags)"
            )
            conn.execute(
                "INSERT INTO suggest_seen(s, n) SELECT tag, count(*) FROM latest_sugg GROUP BY tag"
            )
            conn.execute(
                "INSERT INTO suggest_pairs(s, t, n) SELECT x.tag, k.tag, count(*) "
                "FROM latest_sugg x JOIN photo_tags k ON k.photo_id = x.photo_id "
                "AND k.tag <> x.tag WHERE k.state IN ('approved', 'added') GROUP BY x.tag, k.tag"
            )
            conn.execute("DROP TABLE temp.latest_sugg")
            seq = self._next_seq(conn)
            conn.execute(
                "UPDATE photos SET decided_seq = ? + id WHERE decided_seq IS NULL "
                "AND emb_proj IS NOT NULL AND id IN (SELECT DISTINCT photo_id FROM photo_tags)",
                (seq,),
            )
            self._rebuild_habits(conn)

    # -- backup ----------------------------------------------------------------------------
    def export_json(self, path: str | os.PathLike, include_embeddings: bool = True) -> dict:
        """Write the whole library as JSON (atomically: a temp file, then renamed).

        What `import_json` would refuse is left out and counted in "skipped" (present only
        when not 0): odd tags from files imported by older versions, and records that do not
        pass import_check (only hand-made libraries have them), so the export always imports.
        """
        self._require_intact("export")  # a backup of a damaged file would be damaged too
        target = Path(path).expanduser()
        tmp = target.with_name(target.name + ".tmp")
        counts = {"photos": 0, "decisions": 0, "rules": 0}
        skipped = {"photos": 0, "decisions": 0, "suggestions": 0, "rules": 0}
        with self._read("export") as conn:
            try:
                with open(tmp, "w", encoding="utf-8") as fh:
                    rules = []
                    for k, t, g, c in conn.execute(
                        "SELECT kind, tag, target, created_at FROM rules ORDER BY kind, tag"
                    ):
                        if is_valid_tag(t) and (k != "synonym" or is_valid_tag(g)):
                            rules.append({"kind": k, "tag": t, "target": g, "created_at": c})
                        else:
                            skipped["rules"] += 1
                    counts["rules"] = len(rules)
                    head = {
                        "format": EXPORT_FORMAT,
                        "format_version": EXPORT_VERSION,
                        "schema_version": migrations.SCHEMA_VERSION,
                        "exported_at": self.clock(),
                        "weights": {  # (NaN or inf would make the file unimportable)
                            k: v for k, v in self._weights(conn).items()
                            if abs(v) <= MAX_WEIGHT_ABS
                        },
                        "weights_n": self._weights_n(conn),
                        "rules": rules,
                    }
                    fh.write(json.dumps(head)[:-1] + ', "photos": [\n')
                    first = True
                    for photo in self._export_photos(conn, include_embeddings, skipped):
                        counts["photos"] += 1
                        counts["decisions"] += len(photo["decisions"])
                        fh.write(("" if first else ",\n") + json.dumps(photo))
                        first = False
                    fh.write("\n]}\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise LibraryError(f"cannot write {target}: {exc.strerror or exc}") from None
        if any(skipped.values()):
            counts["skipped"] = {k: v for k, v in skipped.items() if v}
            logging.getLogger(__name__).warning(
                "the export %s leaves out what an import would refuse: %s", target,
                ", ".join(f"{v} {k}" for k, v in skipped.items() if v),
            )
        return counts

    def _export_photos(
        self, conn: sqlite3.Connection, include_embeddings: bool, skipped: dict[str, int]
    ) -> Iterator[dict]:
        """Each photo as export_json writes it; `skipped` counts what import_check would refuse
        (odd tags' decisions and suggestions, and photos that fail it anyway)."""
        last = 0
        while True:
            rows = conn.execute(
                "SELECT id, content_hash, path, file_size, mtime, width, height, added_at, "
                "updated_at, embedding, emb_dtype, emb_dim, emb_model FROM photos "
                "WHERE id > ? ORDER BY id LIMIT 500",
                (last,),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                pid = r[0]
                last = pid
                suggestions = [
                    {
                        "model_version": m,
                        "tag": t,
                        "score": s,
                        "source": src,
                        "position": p,
                        "created_at": ca,
                    }
                    for m, t, s, src, p, ca in conn.execute(
                        "SELECT model_version, tag, score, source, position, created_at "
                        "FROM suggestions WHERE photo_id = ? ORDER BY model_version, position",
                        (pid,),
                    )
                ]
                decisions = [
                    list(d)
                    for d in conn.execute(
                        "SELECT tag, state, at FROM decisions WHERE photo_id = ? ORDER BY at, id",
                        (pid,),
                    )
                ]
                kept_s = [s for s in suggestions if is_valid_tag(s["tag"])]
                kept_d = [d for d in decisions if is_valid_tag(d[0])]
                for key, n in (("suggestions", len(suggestions) - len(kept_s)),
                               ("decisions", len(decisions) - len(kept_d))):
                    skipped[key] += n
                photo = {
                    "content_hash": r[1],
                    "path": r[2],
                    "file_size": r[3],
                    "mtime": r[4],
                    "width": r[5],
                    "height": r[6],
                    "added_at": r[7],
                    "updated_at": r[8],
                    "paths": [
                        list(p)
                        for p in conn.execute(
                            "SELECT path, first_seen, last_seen FROM photo_paths WHERE photo_id = ? "
                            "ORDER BY first_seen",
                            (pid,),
                        )
                    ],
                    "captions": [
                        {
                            "model_version": m,
                            "caption": c,
                            "tokens": json.loads(t) if t else [],
                            "log_prob": lp,
                            "created_at": ca,
                        }
                        for m, c, t, lp, ca in conn.execute(
                            "SELECT model_version, caption, tokens, log_prob, created_at "
                            "FROM captions WHERE photo_id = ?",
                            (pid,),
                        )
                    ],
                    "suggestions": kept_s,
                    "decisions": kept_d,
                    "embedding": None,
                }
                if include_embeddings and r[9] is not None:
                    photo["embedding"] = {
                        "dtype": r[10],
                        "dim": r[11],
                        "model": r[12],
                        "data": base64.b64encode(r[9]).decode("ascii"),
                    }
                try:
                    check_photo(photo, "photo")
                except ImportCheckError as exc:
                    skipped["photos"] += 1
                    logging.getLogger(__name__).warning(
                        "not exported: the photo %s (%s): %s", r[1], r[2], exc)
                    continue
                yield photo

    def import_json(self, path: str | os.PathLike, checked: LibraryImport | None = None) -> dict:
        """Merge a JSON backup into this library; importing the same file twice changes nothing.

        The whole file is checked first (import_check: types, ranges, hashes, tags through the
        typed-tag normaliser, rules, embeddings); a bad file raises ImportCheckError (a
        LibraryError) naming its first bad record, and nothing is written. Then, in one
        transaction: a copy of the library (`library.sqlite3.import-<time>.bak`, the newest
        three kept; its path is the report's "backup"), the rules, the weights and the photos.

        Photos are matched by content hash; decisions are added unless already logged, and a
        photo's state becomes its newest decision from either side. Local rules win over
        imported ones (one that would loop with a local synonym, or block a tag a local rule
        always adds or the reverse, is skipped). Returns counts of what was added. `checked`:
        the file as `load_export` read it already (the CLI checks it before opening a library).
        """
        doc = checked or load_export(Path(path).expanduser())  # every check before the first write
        report: dict = {
            "photos_added": 0,
            "photos_merged": 0,
            "decisions_added": 0,
            "decisions_skipped": 0,
            "rules_added": 0,
            "rules_skipped": 0,
        }
        with self._write("import") as conn:
            report["backup"] = str(self._import_backup())
            self._import_rules(conn, doc.rules, report)
            # The learned weights of the parts: the side that learned from more decisions wins.
            if doc.weights is not None and doc.weights_n > self._weights_n(conn):
                clean = ranking.default_weights(self.config)
                clean.update({k: v for k, v in doc.weights.items() if k in clean})
                self._save_weights(conn, clean, doc.weights_n)
            for part in _chunks(doc.photos, 200):  # (the habit changes in bounded memory)
                changes: list = []
                for photo in part:
                    self._import_photo(conn, photo, report, changes)
                self._habit_apply(conn, changes)
        return report

    _IMPORT_BACKUPS_KEPT = 3

    def _import_backup(self) -> Path:
        """Copy the library before an import changes it; called inside the import's write
        transaction, so the copy is exactly the state the import starts from (read through a
        second, read-only connection: SQLite's backup cannot read the writer's own)."""
        target = integrity.dated_name(self.path, ".import-", self.clock, ".bak")
        try:
            src = integrity.connect_readonly(self.path, timeout=30)
            try:
                self._backup(target, src)
            finally:
                src.close()
        except (OSError, sqlite3.Error) as exc:
            with suppress(OSError):
                target.with_name(target.name + ".tmp").unlink(missing_ok=True)
            raise LibraryError(
                f"cannot back up the tag library to {target} before the import ({exc}); "
                "nothing was imported"
            ) from None
        old = sorted(
            self.path.parent.glob(f"{self.path.name}.import-*.bak"),
            key=lambda p: (p.stat().st_mtime, p.name),
        )
        for stale in old[: -self._IMPORT_BACKUPS_KEPT]:
            try:
                stale.unlink()
            except OSError:
                pass
        return target

    def _import_rules(
        self, conn: sqlite3.Connection, rules: Sequence[RuleImport], report: dict
    ) -> None:
        """Add the imported rules that do not clash with local ones (local rules win)."""
        kinds = set(conn.execute("SELECT kind, tag FROM rules"))
        for rule in rules:
            if (rule.kind, rule.tag) in kinds:
                continue  # the local one wins (the same rule: nothing to add)
            other = {"block": "always", "always": "block"}.get(rule.kind)
            if (other, rule.tag) in kinds:
                report["rules_skipped"] += 1
                continue
            target = rule.target
            if rule.kind == "synonym":
                try:
                    target = self._link_synonym(conn, rule.tag, rule.target or "")
                except LibraryError:  # it would loop with a local synonym
                    report["rules_skipped"] += 1
                    continue
            conn.execute(
                "INSERT INTO rules(kind, tag, target, created_at) VALUES (?, ?, ?, ?)",
                (rule.kind, rule.tag, target, rule.created_at or self.clock()),
            )
            kinds.add((rule.kind, rule.tag))
            report["rules_added"] += 1

    def _import_photo(
        self, conn: sqlite3.Connection, photo: PhotoImport, report: dict,
        changes: list[tuple[habits.PhotoPart | None, habits.PhotoPart | None]],
    ) -> None:
        """Merge one checked photo; its habit-sum change is appended to `changes`."""
        h = photo.content_hash
        now = self.clock()
        pid = self._photo_id(conn, h)
        if pid is None:
            pid = self._insert_photo(
                conn, h, photo.path, added_at=photo.added_at or now,
                updated_at=photo.updated_at or now, file_size=photo.file_size,
                mtime=photo.mtime, width=photo.width, height=photo.height)
            report["photos_added"] += 1
        else:
            conn.execute(
                "UPDATE photos SET path = CASE WHEN path = '' THEN ? ELSE path END, "
                "file_size = coalesce(file_size, ?), mtime = coalesce(mtime, ?), "
                "width = coalesce(width, ?), height = coalesce(height, ?) WHERE id = ?",
                (photo.path, photo.file_size, photo.mtime, photo.width, photo.height, pid),
            )
            report["photos_merged"] += 1
            self._context(conn, pid, -1)  # put back below, with the merged suggestions
        before = self._habit_part(conn, pid, self._kept_tags(conn, pid))
        for p in photo.paths:
            conn.execute(
                "INSERT INTO photo_paths(photo_id, path, first_seen, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(photo_id, path) DO UPDATE SET "
                "first_seen = min(first_seen, excluded.first_seen), "
                "last_seen = max(last_seen, excluded.last_seen)",
                (pid, p.path, p.first_seen, p.last_seen),
            )
        emb = photo.embedding
        if emb is not None:
            vec = _decode_embedding(emb.blob, emb.dtype)
            conn.execute(
                "UPDATE photos SET embedding = ?, emb_dtype = ?, emb_dim = ?, emb_proj = ?, "
                "emb_model = ? WHERE id = ? AND embedding IS NULL",
                (emb.blob, emb.dtype, vec.size, project_raw(vec).astype("<f2").tobytes(),
                 emb.model, pid),
            )
        for c in photo.captions:
            conn.execute(
                "INSERT OR IGNORE INTO captions(photo_id, model_version, caption, tokens, "
                "log_prob, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (pid, c.model_version, c.caption, json.dumps(list(c.tokens)), c.log_prob,
                 c.created_at or now),
            )
        for s in photo.suggestions:
            conn.execute(
                "INSERT OR IGNORE INTO suggestions(photo_id, model_version, tag, score, source, "
                "position, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (pid, s.model_version, s.tag, s.score, s.source, s.position,
                 s.created_at or now),
            )
        for d in sorted(photo.decisions, key=lambda d: d.at):
            if self._apply_decision(conn, pid, d.tag, d.state, d.at, live=False):
                report["decisions_added"] += 1
            else:
                report["decisions_skipped"] += 1
        changes.append((before, self._habit_part(conn, pid, self._context(conn, pid, +1))))
        self._mark_decided(conn, pid)


__all__ = ["DB_NAME", "PhotoRecord", "RankingConfig", "TagLibrary", "TagPreference"]
