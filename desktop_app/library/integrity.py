"""Is the tag library damaged, and what can be saved: SQLite's own checks, and a repair.

Damage is never guessed from the file's bytes (such a test races with another process writing
its WAL back into the file, and reported healthy libraries damaged). It is what SQLite says:
an error it returns (SQLITE_CORRUPT, SQLITE_NOTADB), or what `PRAGMA quick_check` /
`integrity_check` find. Those run in a read transaction on their own read-only connection, a
consistent snapshot whatever other processes write meanwhile, and never write the file.

- `diagnose(db)`: the check -> a `Diagnosis` (what SQLite found, and what to do).
- `BackgroundCheck`: the same on a thread. `TagLibrary.open` starts one; the first write waits
  for its verdict, and nothing is written to a library SQLite calls damaged.
- `repair.repair(folder)` (its own module): copies what SQLite can still read (table by table, skipping unreadable
  pages) into a new library, rebuilds the derived tables, checks the result, and puts it in
  place; the damaged file is kept beside it, never written. A damaged file header is rebuilt on
  a copy first.
- `connect_readonly(db)`: a connection that cannot write, which also works in a folder that
  cannot be written (where SQLite cannot create the WAL's -shm file).
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ..errors import LibraryError

DB_NAME = "library.sqlite3"
DAMAGED_SUFFIX = ".damaged-"  # library.sqlite3.damaged-20240131-120000: a file repair kept
FOLDER_READ_ONLY = "its folder cannot be written"
_SHOWN = 3  # findings quoted in a message (`hashlens library check` lists them all)
_LIMIT = 100  # findings collected


# -- what SQLite says --------------------------------------------------------------------------
def is_damage(exc: BaseException) -> bool:
    """True when SQLite says the file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    msg = str(exc).lower()
    return "malformed" in msg or "not a database" in msg or "corrupt" in msg


def is_access_error(exc: BaseException) -> bool:
    """SQLite cannot open or write the file (permissions, a read-only folder)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY")) or (
        "unable to open" in str(exc).lower())


def access_problem(db: Path) -> str | None:
    """Why the library cannot be written (None: it can, as far as the system says)."""
    if db.parent.is_dir() and not os.access(db.parent, os.W_OK):
        return FOLDER_READ_ONLY  # (SQLite cannot create the WAL's files there)
    if db.exists() and not os.access(db, os.W_OK):
        return "the file is read-only"
    return None


def wal_size(db: Path) -> int:
    try:
        return db.with_name(db.name + "-wal").stat().st_size
    except OSError:
        return 0


def connect_readonly(db: Path, *, timeout: float = 10.0) -> sqlite3.Connection:
    """A connection that never writes `db` (and, read-only, never checkpoints into it).

    In a folder that cannot be written SQLite cannot create the -shm file a WAL database needs
    (even to read): there the file is opened `immutable` (nobody can write it there either),
    unless it has a WAL with changes in it, which only SQLite with write access can read.
    """
    uri = db.resolve().as_uri()
    shm = db.with_name(db.name + "-shm")

    def connect(immutable: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(f"{uri}?mode=ro{'&immutable=1' if immutable else ''}", uri=True,
                               timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA cell_size_check = ON")  # (cheap) more damage found as it is read
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    folder_ro = access_problem(db) == FOLDER_READ_ONLY
    try:
        return connect(folder_ro and not shm.exists() and wal_size(db) == 0)
    except sqlite3.Error as exc:
        if not is_access_error(exc):
            raise
        if wal_size(db) > 0:
            raise LibraryError(
                f"cannot read the tag library {db}: it has changes in {db.name}-wal that SQLite "
                "can only read with write access to its folder (a hashlens was stopped while "
                f"writing it); open it once where the folder can be written ({exc})"
            ) from None
        try:
            return connect(True)
        except sqlite3.Error:
            raise exc from None


# -- the diagnosis -----------------------------------------------------------------------------
def repair_command(folder: Path) -> str:
    """`hashlens library repair`, with --library when the folder is not the default one."""
    try:
        from ..paths import data_dir

        default = data_dir(None).resolve() == folder.resolve()
    except Exception:  # noqa: BLE001 - only the wording depends on it
        default = False
    cmd = "hashlens library repair"
    return cmd if default else f"{cmd} --library {shlex.quote(str(folder))}"


@dataclass(frozen=True)
class Diagnosis:
    """What SQLite says about a library file: ok, or the damage it found."""

    path: Path
    ok: bool
    check: str = "quick_check"  # or "integrity_check", or "open" (SQLite could not read it)
    findings: tuple[str, ...] = ()  # SQLite's lines (empty when ok or when `error` is set)
    error: str | None = None  # SQLite's error when it cannot read the file at all
    detail: str = ""  # e.g. why SQLite calls it not a database
    seconds: float = 0.0

    @property
    def what(self) -> str:
        """What was found, in a sentence."""
        if self.ok:
            return f"SQLite's {self.check} found no damage"
        if self.error is not None:
            return f"SQLite cannot read it ({self.error}{': ' + self.detail if self.detail else ''})"
        n = len(self.findings)
        shown = "; ".join(self.findings[:_SHOWN])
        more = f"; and {n - _SHOWN} more" if n > _SHOWN else ""
        count = f"{n}{'+' if n >= _LIMIT else ''} problem{'s' if n != 1 else ''}"
        return f"SQLite's {self.check} found {count}: {shown}{more}"

    def message(self, action: str | None = None) -> str:
        """The user's message: what was found, that the file was kept, what to do."""
        if self.ok:
            return f"the tag library {self.path} is intact ({self.what})"
        head = f"could not {action}: " if action else ""
        return (
            f"{head}the tag library {self.path} is damaged: {self.what}. It was left as it is "
            "(nothing is written to a damaged library). To recover, run "
            f"`{repair_command(self.path.parent)}`: it copies everything SQLite can still read "
            "into a new library and keeps the damaged file beside it (as "
            f"{DB_NAME}{DAMAGED_SUFFIX}DATE). Or move it away and restore a backup with "
            "`hashlens library import FILE`."
        )

    def to_json(self) -> dict:
        return {"path": str(self.path), "ok": self.ok, "check": self.check,
                "findings": list(self.findings), "error": self.error, "detail": self.detail,
                "seconds": round(self.seconds, 3), "advice": None if self.ok else self.message()}


def clean_findings(lines: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for line in lines:
        for part in str(line).splitlines():
            part = part.strip()
            if part and not part.startswith("*** in database"):
                out.append(part)
    return tuple(out)


def _notadb_detail(db: Path) -> str:
    """Why SQLite said 'not a database' (asked only after it did: no race with a writer)."""
    try:
        with open(db, "rb") as fh:
            head = fh.read(100)
    except OSError:
        return ""
    if not head.startswith(b"SQLite format 3\x00"):
        return "its first bytes, the file header, are not a SQLite header"
    return "its file header is damaged"


def _truncated_detail(db: Path) -> str:
    """Why SQLite said 'malformed' at once: a file shorter than its header says (asked only after
    SQLite said so, from a file it could not open: no race with a writer)."""
    try:
        size = db.stat().st_size
        with open(db, "rb") as fh:
            head = fh.read(100)
    except OSError:
        return ""
    if len(head) < 100:
        return ""
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    if page >= 512 and head[24:28] == head[92:96] and size < pages * page:
        return f"the file is shorter than its header says: {size} of {pages * page} bytes"
    return ""


def diagnose(db: Path, *, full: bool = False, timeout: float = 10.0,
             on_connect: Callable[[sqlite3.Connection], None] | None = None) -> Diagnosis:
    """SQLite's quick_check (`full`: integrity_check, which also compares every index with its
    table) of `db`, on its own read-only connection and in one read transaction.

    Damage -> Diagnosis(ok=False); an error that says nothing about the file (busy, cannot
    open, interrupted) -> LibraryError.
    """
    db = Path(db)
    check = "integrity_check" if full else "quick_check"
    t0 = time.perf_counter()
    if not db.exists():
        raise LibraryError(f"there is no tag library at {db}")
    try:
        conn = connect_readonly(db, timeout=timeout)
    except sqlite3.Error as exc:
        if not is_damage(exc):
            raise LibraryError(f"cannot check the tag library {db}: {exc}") from None
        notadb = "not a database" in str(exc).lower()
        detail = _notadb_detail(db) if notadb else _truncated_detail(db)
        return Diagnosis(db, False, "open", error=str(exc), detail=detail,
                         seconds=time.perf_counter() - t0)
    try:
        if on_connect is not None:
            on_connect(conn)
        conn.execute("BEGIN")  # one snapshot, whatever other processes commit meanwhile
        try:
            lines = [r[0] for r in conn.execute(f"PRAGMA {check}({_LIMIT})")]
        except sqlite3.Error as exc:
            if not is_damage(exc):
                raise
            # The check itself stopped on a page it cannot read: which tables are damaged?
            lines = _by_table(conn, check) or [str(exc)]
        finally:
            if conn.in_transaction:  # (a read: nothing to commit; COMMIT would repeat the error)
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        if not is_damage(exc):
            raise LibraryError(f"cannot check the tag library {db}: {exc}") from None
        return Diagnosis(db, False, check, error=str(exc), seconds=time.perf_counter() - t0)
    finally:
        conn.close()
    ok = lines == ["ok"]
    return Diagnosis(db, ok, check, () if ok else clean_findings(lines),
                     seconds=time.perf_counter() - t0)


def _by_table(conn: sqlite3.Connection, check: str) -> list[str]:
    """The check table by table, each table's findings (or error) prefixed with its name."""
    out: list[str] = []
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for name in tables:
        try:
            found = [r[0] for r in conn.execute(f"PRAGMA {check}({quote_name(name)})")]
        except sqlite3.Error as exc:
            if not is_damage(exc):
                raise
            found = [f"{exc} (SQLite cannot read all its rows)"]
        out += [f"table {name}: {line}" for line in clean_findings(found) if line != "ok"]
        if len(out) >= _LIMIT:
            break
    return out


class BackgroundCheck:
    """`diagnose` on a thread; `cancel()` interrupts it (closing a library does)."""

    def __init__(self, db: Path):
        self.db = db
        self.result: Diagnosis | None = None  # None: not done, or it could not run (busy...)
        self._conn: sqlite3.Connection | None = None
        self._cancelled = False
        self._mutex = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="hashlens-library-check",
                                        daemon=True)

    def start(self) -> BackgroundCheck:
        self._thread.start()
        return self

    def _attach(self, conn: sqlite3.Connection) -> None:
        with self._mutex:
            if self._cancelled:
                raise LibraryError("the check was cancelled")
            self._conn = conn

    def _run(self) -> None:
        try:
            self.result = diagnose(self.db, on_connect=self._attach)
        except Exception:  # noqa: BLE001 - no verdict: TagLibrary.verify checks again
            pass
        finally:
            with self._mutex:
                self._conn = None

    def wait(self) -> Diagnosis | None:
        if self._thread.ident is not None:
            self._thread.join()
        return self.result

    def cancel(self) -> None:
        with self._mutex:
            self._cancelled = True
            if self._conn is not None:
                with suppress(sqlite3.Error):
                    self._conn.interrupt()
        if self._thread.ident is not None:
            self._thread.join()


def dated_name(db: Path, infix: str, clock: Callable[[], float], ext: str = "") -> Path:
    """A free name beside `db`: its name, `infix`, the date and time (then -2, -3...), `ext`."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clock()))
    path = db.with_name(f"{db.name}{infix}{stamp}{ext}")
    n = 2
    while path.exists():
        path = db.with_name(f"{db.name}{infix}{stamp}-{n}{ext}")
        n += 1
    return path


def quote_name(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


