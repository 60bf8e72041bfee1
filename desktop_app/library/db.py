"""The tag library's SQLite connection: opening, transactions, errors, SQLite's verdict.

- Every write is one short `BEGIN IMMEDIATE` transaction with `synchronous=FULL`: a decision
  whose call returned survives a killed process (and a power cut), and a killed write leaves the
  previous state. Writers from other processes (the GUI and the CLI at once) wait up to
  `busy_timeout` seconds for the lock instead of failing.
- Damage is what SQLite says, never a guess from the file's bytes (integrity.py): an error it
  returns (malformed, not a database) is confirmed with its quick_check on a separate read-only
  connection, and a quick_check of the whole file starts in the background at open; the first
  write waits for its verdict. Nothing is written to a library SQLite calls damaged, and the
  message says what was found and to run `hashlens library repair`. A file of another program
  or with a newer schema is refused *before anything is written*; the file is never rewritten
  or replaced. Before a schema migration the old file is copied to `library.sqlite3.v{N}.bak`.
- A library that cannot be written (a read-only file or folder) opens read-only, with `note`
  saying so.

`Database.read()` / `Database.write()` are the only ways to the connection; the library's
parts and the watch queue (whose tables live in the same file) use them.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..errors import LibraryError
from . import integrity, migrations

DB_NAME = integrity.DB_NAME
MAX_VARS = 900  # stay under SQLITE_MAX_VARIABLE_NUMBER of old builds


def chunks(seq: Sequence, n: int = MAX_VARS) -> Iterator[Sequence]:
    """`seq` in slices of at most `n` (SQL `IN (...)` lists)."""
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def marks(n: int) -> str:
    """n SQL parameter marks: "?,?,?"."""
    return ",".join("?" * n)


def bump(
    conn: sqlite3.Connection, table: str, keys: tuple[str, ...], rows: list[tuple], delta: int
) -> None:
    """n += delta for each key tuple of a counter table; rows that reach 0 are deleted."""
    if not rows or not delta:
        return
    cols = ", ".join(keys)
    conn.executemany(
        f"INSERT INTO {table}({cols}, n) VALUES ({marks(len(keys) + 1)}) "
        f"ON CONFLICT({cols}) DO UPDATE SET n = n + excluded.n",
        [(*r, delta) for r in rows],
    )
    if delta < 0:
        where = " AND ".join(f"{k} = ?" for k in keys)
        conn.executemany(f"DELETE FROM {table} WHERE {where} AND n <= 0", rows)


def error_text(db: Path, exc: sqlite3.Error, action: str | None,
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


class Database:
    """One connection behind a lock (thread-safe); open one per process with `open_database`."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool = False):
        self._conn: sqlite3.Connection | None = conn
        self.path = path
        self.readonly = readonly
        self.note: str | None = None  # e.g. why it is open read-only
        self.lock = threading.RLock()
        self.writes = 0  # write transactions committed through this connection
        self._verdict: integrity.Diagnosis | None = None  # SQLite's check, once known
        self._bg_check: integrity.BackgroundCheck | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection (bulk loads and repairs; everything else goes through read/write)."""
        if self._conn is None:
            raise LibraryError("the tag library is closed")
        return self._conn

    @property
    def closed(self) -> bool:
        return self._conn is None

    def close(self) -> None:
        bg, self._bg_check = self._bg_check, None
        if bg is not None:
            bg.cancel()  # interrupts SQLite's check (a large library takes seconds)
        with self.lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    # -- transactions and errors -----------------------------------------------------------
    @contextmanager
    def guard(self, action: str | None) -> Iterator[None]:
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
            text, found = error_text(self.path, exc, action)
            if found is not None:
                self._verdict = found
            raise LibraryError(text) from None

    @contextmanager
    def write(self, action: str = "write") -> Iterator[sqlite3.Connection]:
        """One short IMMEDIATE transaction (the write lock is taken at BEGIN, so no deadlock)."""
        if self.readonly:
            raise LibraryError(self.note or f"the tag library {self.path} is open read-only")
        with self.lock, self.guard(action):
            conn = self.conn
            self.require_intact(action)
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
                self.writes += 1
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def read(self, action: str = "read") -> Iterator[sqlite3.Connection]:
        """A read snapshot (WAL readers never block the writer, nor it them)."""
        with self.lock, self.guard(action):
            conn = self.conn
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

    def generation(self) -> tuple[int, int]:
        """Changes whenever the file changes: another process's commit (SQLite's data_version)
        or one of ours. Callers compare it to know whether what they read is stale."""
        with self.lock, self.guard("read"):
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0]), self.writes

    # -- SQLite's verdict on the file ------------------------------------------------------
    def verify(self) -> integrity.Diagnosis:
        """SQLite's verdict on the file: the check started at open (waited for), else one now
        (seconds for a large library, once). LibraryError when it cannot run (busy)."""
        with self.lock:
            found = self._verdict
            if found is None:
                bg = self._bg_check
                if bg is not None:
                    found = bg.wait()
                if found is None:
                    found = integrity.diagnose(self.path)
                self._verdict = found
            return found

    def require_intact(self, action: str | None) -> None:
        """Before the first write (and an export): SQLite's check must have found no damage."""
        found = self.verify()
        if not found.ok:
            raise LibraryError(found.message(action))

    def check(self, full: bool = False) -> list[str]:
        """SQLite's quick_check (`full`: integrity_check, which also compares each index with
        its table); reads the whole file. Its verdict is kept: no write follows one that found
        damage."""
        pragma = "integrity_check" if full else "quick_check"
        with self.read("check") as conn:
            lines = [r[0] for r in conn.execute(f"PRAGMA {pragma}")]
        ok = lines == ["ok"]
        self._verdict = integrity.Diagnosis(self.path, ok, pragma,
                                            () if ok else integrity.clean_findings(lines))
        return lines

    def backup(self, target: Path, source: sqlite3.Connection | None = None) -> None:
        """A consistent copy of the database (SQLite's online backup), e.g. before a migration;
        read through `source` when given (another connection to this file)."""
        tmp = target.with_name(target.name + ".tmp")
        dst = sqlite3.connect(str(tmp))
        try:
            (source or self.conn).backup(dst)
        finally:
            dst.close()
        os.replace(tmp, target)

    # -- opening ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Refuse another program's file or a newer schema; WAL, FULL sync, migrations."""
        conn = self.conn
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
                self.require_intact(None)
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            if mode != "wal":  # e.g. a network drive: still safe, just slower
                conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if migrations.pending(version):
            if version > 0:
                self.require_intact("upgrade the library")
                self.backup(self.path.with_name(f"{self.path.name}.v{version}.bak"))
            migrations.migrate(conn)


def readonly_note(db: Path, why: str) -> str:
    return (f"the tag library {db} cannot be written ({why}): it is open read-only, so "
            "nothing is recorded")


def open_database(folder: Path | str, *, readonly: bool = False, busy_timeout: float = 10.0,
                  background_check: bool = True) -> Database:
    """Open (creating if needed) `folder`/library.sqlite3; see TagLibrary.open."""
    folder = Path(folder).expanduser()
    db = folder / DB_NAME
    note = None
    if readonly:
        if not db.exists():
            raise LibraryError(f"there is no tag library at {db}")
    else:
        problem = integrity.access_problem(db) if db.exists() else None
        if problem:
            readonly, note = True, readonly_note(db, problem)
        else:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LibraryError(
                    f"cannot create the tag library folder {folder}: {exc.strerror or exc}"
                ) from None
    try:
        return _open(db, readonly, note, busy_timeout, background_check)
    except _CannotWrite as exc:
        return _open(db, True, readonly_note(db, str(exc)), busy_timeout, background_check)


def _open(db: Path, readonly: bool, note: str | None, busy_timeout: float,
          background_check: bool) -> Database:
    existed = db.exists()
    try:
        if readonly:
            conn = integrity.connect_readonly(db, timeout=busy_timeout)
        else:
            conn = sqlite3.connect(
                str(db), timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
    except sqlite3.Error as exc:
        raise LibraryError(error_text(db, exc, None)[0]) from None
    base = Database(conn, db, readonly=readonly)
    base.note = note
    try:
        with base.guard(None):
            try:
                base.prepare()
            except sqlite3.Error as exc:
                if existed and not readonly and integrity.is_access_error(exc):
                    raise _CannotWrite(str(exc)) from None
                raise
    except BaseException:
        conn.close()
        raise
    if background_check and not readonly and base._verdict is None:
        base._bg_check = integrity.BackgroundCheck(db).start()
    return base
