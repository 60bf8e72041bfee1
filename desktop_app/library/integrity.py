"""Is the tag library damaged, and what can be saved: SQLite's own checks, and a repair.

Damage is never guessed from the file's bytes (such a test races with another process writing
its WAL back into the file, and reported healthy libraries damaged). It is what SQLite says:
an error it returns (SQLITE_CORRUPT, SQLITE_NOTADB), or what `PRAGMA quick_check` /
`integrity_check` find. Those run in a read transaction on their own read-only connection, a
consistent snapshot whatever other processes write meanwhile, and never write the file.

- `diagnose(db)`: the check -> a `Diagnosis` (what SQLite found, and what to do).
- `BackgroundCheck`: the same on a thread. `TagLibrary.open` starts one; the first write waits
  for its verdict, and nothing is written to a library SQLite calls damaged.
- `repair(folder)`: copies what SQLite can still read (table by table, skipping unreadable
  pages) into a new library, rebuilds the derived tables, checks the result, and puts it in
  place; the damaged file is kept beside it, never written. A damaged file header is rebuilt on
  a copy first.
- `connect_readonly(db)`: a connection that cannot write, which also works in a folder that
  cannot be written (where SQLite cannot create the WAL's -shm file).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LibraryError
from . import migrations

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


def _wal_size(db: Path) -> int:
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
        return connect(folder_ro and not shm.exists() and _wal_size(db) == 0)
    except sqlite3.Error as exc:
        if not is_access_error(exc):
            raise
        if _wal_size(db) > 0:
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
            found = [r[0] for r in conn.execute(f"PRAGMA {check}({_q(name)})")]
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


# -- other processes ---------------------------------------------------------------------------
@contextmanager
def _sole_user(db: Path) -> Iterator[bool]:
    """Yields False when another process has `db` open (WAL mode), else True, holding SQLite's
    'dead man switch' lock on the -shm file meanwhile so that nobody opens it.

    Every connection to a WAL database holds a shared lock on byte 128 of its -shm file (SQLite's
    unix VFS, UNIX_SHM_DMS) while it is open. This process must have no connection to `db` open:
    POSIX locks belong to the process, and closing our descriptor drops all of them. Elsewhere
    (Windows) renaming a file another process has open fails, which says the same.
    """
    shm = db.with_name(db.name + "-shm")
    if os.name != "posix" or not shm.exists():
        yield True
        return
    import fcntl

    try:
        fd = os.open(shm, os.O_RDWR)
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128, os.SEEK_SET)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            with suppress(OSError):
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, 128, os.SEEK_SET)
    finally:
        os.close(fd)


def _in_use_text(db: Path) -> str:
    return (f"another hashlens (the app, `hashlens watch`, or a command) has the tag library {db} "
            "open; close it and run the repair again")


# -- reading what SQLite still can -------------------------------------------------------------
@dataclass
class TableReport:
    read: int = 0  # rows read from the damaged file
    copied: int = 0  # rows in the new library
    partial: int = 0  # rows saved in part (a photo without its embedding, or from indexes)
    unreadable: int = 0  # unreadable rows or regions of rows skipped
    indexed: int = 0  # rows read through an index only (the table's own pages unreadable)
    invalid: int = 0  # rows read but with impossible values (damaged), left out
    orphans: int = 0  # rows of photos that were lost, left out

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


# The tables copied, with their key (rowid tables: the rowid). The derived tables are not copied:
# the new library rebuilds them from these (`rebuild_aggregates`).
_COPY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("meta", ("key",)),
    ("photos", ("rowid",)),
    ("photo_paths", ("photo_id", "path")),
    ("captions", ("photo_id", "model_version")),
    ("suggestions", ("photo_id", "model_version", "tag")),
    ("decisions", ("rowid",)),
    ("rules", ("kind", "tag")),
    ("watch_queue", ("path",)),
    ("watch_failed", ("path",)),
)
_CHILDREN = ("photo_paths", "captions", "suggestions", "decisions")  # rows of a photo
# A covering index holds every column of a table's rows: read through it where the table's own
# pages cannot be read (index, its columns in order).
_VIA_INDEX = {"decisions": ("decisions_unique", ("photo_id", "tag", "state", "at"))}
# Columns a photo can lose and still be a photo (its embedding, on overflow pages).
_PHOTO_BLOBS = frozenset({"embedding", "emb_dtype", "emb_dim", "emb_proj", "emb_model",
                          "decided_seq"})
_INT_MAX = 2**63 - 1


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Salvage:
    """Reads one table of a damaged database, row ranges at a time, skipping what SQLite cannot
    read: a scan in key order; where it fails, the next readable key is looked for (exponential
    steps, then bisection) and the scan goes on from there."""

    def __init__(self, conn: sqlite3.Connection, table: str, key: tuple[str, ...],
                 cols: list[str], report: TableReport, budget: list[int],
                 index: str | None = None):
        self.conn, self.table, self.key, self.cols = conn, table, key, cols
        self.report = report
        self.budget = budget  # queries left for this repair (a bound on a shredded file)
        self.rowid = key == ("rowid",)
        self.lead = key[0]
        # through a covering index (every column read is in it): the table's pages are not read
        self.source = _q(table) + (f" INDEXED BY {_q(index)}" if index else "")

    def _select(self, cols: list[str], where: str = "", desc: bool = False,
                limit: str = "") -> str:
        order = ", ".join(f"{_q(k) if k != 'rowid' else 'rowid'}{' DESC' if desc else ''}"
                          for k in self.key)
        keys = ", ".join(k if k == "rowid" else _q(k) for k in self.key)
        sel = ", ".join(_q(c) for c in cols) if cols else "NULL"
        return f"SELECT {keys}, {sel} FROM {self.source} {where} ORDER BY {order} {limit}"

    def _spend(self) -> bool:
        self.budget[0] -= 1
        return self.budget[0] > 0

    def rows(self) -> Iterator[tuple]:
        """(key..., cols...) tuples; duplicates are possible (the caller's keys drop them)."""
        if self.lead in ("rowid", "photo_id"):
            yield from self._by_int_key()
        else:
            yield from self._both_ends()

    def _scan(self, sql: str, args: tuple, seen: list) -> Iterator[tuple]:
        """Rows of `sql` until SQLite fails (then returns; `seen[0]` is set to True)."""
        try:
            for row in self.conn.execute(sql, args):
                self.report.read += 1
                yield row
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            seen[0] = True

    def _probe(self, x: int) -> tuple[bool, int | None]:
        """(readable, next lead key >= x): can SQLite find its way to the keys from x on?"""
        self._spend()
        lead = "rowid" if self.rowid else _q(self.lead)
        try:
            row = self.conn.execute(
                f"SELECT {lead} FROM {self.source} WHERE {lead} >= ? ORDER BY {lead} LIMIT 1",
                (x,)).fetchone()
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            return False, None
        return True, (None if row is None else int(row[0]))

    def _skip(self, x: int) -> int | None:
        """The smallest lead key > x from which SQLite can read again (None: none)."""
        bad, step = x, 1
        while True:
            if not self._spend():
                return None
            y = x + step
            if y > _INT_MAX:
                return None
            ok, _ = self._probe(y)
            if ok:
                break
            bad, step = y, step * 2
        good = y
        while good - bad > 1 and self._spend():
            mid = (bad + good) // 2
            if self._probe(mid)[0]:
                good = mid
            else:
                bad = mid
        return good

    def _by_int_key(self) -> Iterator[tuple]:
        lead = "rowid" if self.rowid else _q(self.lead)
        x: int | None = None  # None: from the start
        while self.budget[0] > 0:
            failed = [False]
            last: int | None = None
            where = "" if x is None else f"WHERE {lead} >= ?"
            for row in self._scan(self._select(self.cols, where), () if x is None else (x,),
                                  failed):
                if isinstance(row[0], int):
                    last = row[0]
                yield row
            if not failed[0]:
                return
            if last is not None and (x is None or last > x or self.rowid):
                # it read up to `last`: go on after it (a rowid is one row; a photo's rows may
                # have been read in part, so that photo is read again)
                x = last + 1 if self.rowid else last
                continue
            # stuck at x: nothing at all could be read from x on
            start = x if x is not None else -_INT_MAX
            ok, nxt = self._probe(start)
            if ok and nxt is None:
                return
            if ok and nxt is not None and nxt > start:
                x = nxt  # the keys can be found: read from the next one
                continue
            if ok and nxt is not None:  # the key is there but its row cannot be read
                if self.rowid and self.table == "photos":
                    row = self._light(nxt)
                    if row is not None:
                        yield row
                        x = nxt + 1
                        continue
                self.report.unreadable += 1
                x = nxt + 1
                continue
            nxt = self._skip(start)
            self.report.unreadable += 1
            if nxt is None:
                return
            x = nxt

    def _light(self, rowid: int) -> tuple | None:
        """A photo without its embedding columns (its overflow pages cannot be read)."""
        self._spend()
        keep = [c for c in self.cols if c not in _PHOTO_BLOBS]
        try:
            row = self.conn.execute(self._select(keep, "WHERE rowid = ?"), (rowid,)).fetchone()
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            return None
        if row is None:
            return None
        values = dict(zip(keep, row[1:], strict=True))
        self.report.partial += 1
        self.report.read += 1
        return (row[0], *(values.get(c) for c in self.cols))

    def _both_ends(self) -> Iterator[tuple]:
        failed = [False]
        yield from self._scan(self._select(self.cols), (), failed)
        if not failed[0]:
            return
        self.report.unreadable += 1
        back = [False]
        yield from self._scan(self._select(self.cols, desc=True), (), back)


# -- a damaged header, rebuilt on a copy -------------------------------------------------------
_PAGE_SIZES = (4096, 1024, 2048, 8192, 16384, 32768, 65536, 512)


def _header(page_size: int, wal: bool) -> bytes:
    h = bytearray(100)
    h[0:16] = b"SQLite format 3\x00"
    h[16:18] = (1 if page_size == 65536 else page_size).to_bytes(2, "big")
    h[18] = h[19] = 2 if wal else 1
    h[21], h[22], h[23] = 64, 32, 32
    h[24:28] = (1).to_bytes(4, "big")  # change counter; 92-95 differ: size from the file's
    h[40:44] = (1).to_bytes(4, "big")  # schema cookie
    h[44:48] = (4).to_bytes(4, "big")  # schema format
    h[56:60] = (1).to_bytes(4, "big")  # UTF-8
    h[96:100] = (3040001).to_bytes(4, "big")
    return bytes(h)


def _open_copy(db: Path, work: Path, timeout: float) -> tuple[sqlite3.Connection, str]:
    """A copy of `db` (and its WAL) in `work` with a rebuilt file header, opened read-only:
    for a file SQLite cannot open (its header damaged, or the file cut short)."""
    copy = work / "damaged-copy.sqlite3"
    shutil.copyfile(db, copy)
    wal = db.with_name(db.name + "-wal")
    has_wal = _wal_size(db) > 0
    if has_wal:
        shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
    with open(copy, "rb") as fh:
        old = fh.read(100)
    magic = old[:16] == b"SQLite format 3\x00"
    candidates: list[tuple[bytes, str]] = []
    if magic:  # the header's own fields, but the size taken from the file's (a file cut short)
        head = bytearray(old)
        head[92:96] = (int.from_bytes(old[24:28], "big") ^ 1).to_bytes(4, "big")
        candidates.append((bytes(head), "its size was taken from the file, on a copy"))
    sizes: list[int] = []
    if has_wal:
        with open(wal, "rb") as fh:
            sizes.append(int.from_bytes(fh.read(32)[8:12], "big"))
    if magic:
        ps = int.from_bytes(old[16:18], "big")
        sizes.append(65536 if ps == 1 else ps)
    for ps in [*sizes, *_PAGE_SIZES]:
        if ps in _PAGE_SIZES and all(c[0] != _header(ps, has_wal) for c in candidates):
            candidates.append((_header(ps, has_wal), "its file header was rebuilt on a copy"))
    for head, what in candidates:
        with open(copy, "r+b") as fh:
            fh.write(head)
        try:
            conn = connect_readonly(copy, timeout=timeout)
        except sqlite3.Error:
            continue
        try:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.Error:
            conn.close()
            continue
        if {"photos", "decisions"} <= names:
            return conn, what
        conn.close()
    raise LibraryError(
        f"nothing can be read from the tag library {db}: SQLite cannot read it as a database, "
        "even with its file header rebuilt. It was left as it is; restore a backup with "
        "`hashlens library import FILE`, or move it away (a new library is then created)."
    )


# -- the repair --------------------------------------------------------------------------------
@dataclass
class RepairReport:
    path: Path
    before: Diagnosis
    done: bool = False  # False: nothing to repair (the check found none and not forced)
    kept: Path | None = None  # the damaged file, moved aside (None with --output)
    output: Path | None = None  # where the new library is
    source: str = ""  # e.g. "its file header was rebuilt on a copy"
    tables: dict[str, TableReport] = field(default_factory=dict)
    after: list[str] = field(default_factory=list)  # integrity_check of the new library
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "path": str(self.path), "repaired": self.done,
            "before": self.before.to_json(),
            "kept": None if self.kept is None else str(self.kept),
            "library": None if self.output is None else str(self.output),
            "source": self.source or None,
            "tables": {k: v.to_json() for k, v in self.tables.items()},
            "after": self.after, "seconds": round(self.seconds, 2),
        }


def _table_columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, bool]]:
    """(name, declared type, not null) of each column."""
    return [(r[1], str(r[2] or "").upper(), bool(r[3]))
            for r in conn.execute(f"PRAGMA table_info({_q(table)})")]


def _valid(cols: list[tuple[str, str, bool]]) -> str:
    """SQL that is true for rows whose values have the declared types (a damaged record can
    read as values of any type)."""
    conds = []
    for name, decl, notnull in cols:
        kinds = {"INTEGER": "'integer'", "REAL": "'real', 'integer'", "TEXT": "'text'",
                 "BLOB": "'blob'"}.get(decl)
        if kinds is None:
            continue
        if not notnull:
            kinds += ", 'null'"
        conds.append(f"typeof({_q(name)}) IN ({kinds})")
    return " AND ".join(conds) or "1"


def _load(salvage: _Salvage, dst: sqlite3.Connection, temp: str, names: list[str],
          ids: set | None = None, skip: set | None = None) -> int:
    """Rows read by `salvage` into a temp table, (k__: the row's id, columns...); their ids go
    into `ids`, rows with an id in `skip` are left out. Returns the rows added."""
    nkey = len(salvage.key)
    at_id = nkey + names.index("id") if "id" in names and not salvage.rowid else 0
    insert = f"INSERT INTO {temp} VALUES ({', '.join('?' * (len(names) + 1))})"
    batch: list[tuple] = []
    added = 0
    for row in salvage.rows():
        if skip is not None and row[at_id] in skip:
            continue
        if ids is not None:
            ids.add(row[at_id])
        batch.append((row[at_id], *row[nkey:]))
        added += 1
        if len(batch) >= 1000:
            dst.executemany(insert, batch)
            batch.clear()
    dst.executemany(insert, batch)
    return added


def _index_on(src: sqlite3.Connection, table: str, column: str) -> str | None:
    """An index of `table` whose first column is `column` (from the schema)."""
    for row in src.execute(f"PRAGMA index_list({_q(table)})"):
        cols = [r[2] for r in src.execute(f"PRAGMA index_info({_q(row[1])})")]
        if cols[:1] == [column]:
            return str(row[1])
    return None


def _index_values(src: sqlite3.Connection, table: str, column: str,
                  budget: list[int]) -> dict[int, object]:
    """rowid -> value of `column`, read from an index on it alone (not the table's pages)."""
    index = _index_on(src, table, column)
    if index is None:
        return {}
    out: dict[int, object] = {}
    salvage = _Salvage(src, table, (column,), ["rowid"], TableReport(), budget, index)
    for value, rowid in salvage.rows():
        if isinstance(rowid, int):
            out.setdefault(rowid, value)
    return out


def _photo_stubs(src: sqlite3.Connection, dst: sqlite3.Connection, report: RepairReport,
                 loaded: list[str], budget: list[int], now: float) -> None:
    """Photos whose row is lost but whose decisions, captions... were read: their content hash
    (and path) from the photos' indexes, so that their rows are not lost with them."""
    children = [t for t in _CHILDREN if t in loaded]
    if not children:
        return
    union = " UNION ".join(f"SELECT photo_id FROM temp.{_q('s_' + t)}" for t in children)
    missing = [r[0] for r in dst.execute(
        f"SELECT photo_id FROM ({union}) WHERE typeof(photo_id) = 'integer' AND photo_id NOT IN "
        "(SELECT id FROM temp.s_photos WHERE typeof(id) = 'integer')")]
    if not missing:
        return
    hashes = _index_values(src, "photos", "content_hash", budget)
    paths = _index_values(src, "photos", "path", budget)
    times = {"decisions": "at", "photo_paths": "first_seen", "captions": "created_at",
             "suggestions": "created_at"}
    first = " UNION ALL ".join(f"SELECT {times[t]} AS t FROM temp.{_q('s_' + t)} "
                               "WHERE photo_id = :p AND typeof(" + times[t] + ") IN "
                               "('real', 'integer')" for t in children)
    rows = []
    for pid in missing:
        h = hashes.get(pid)
        if not isinstance(h, str) or not h:
            continue
        path = paths.get(pid)
        if not isinstance(path, str):
            path = ""
        t = dst.execute(f"SELECT min(t) FROM ({first})", {"p": pid}).fetchone()[0]
        t = now if t is None else float(t)
        rows.append((pid, pid, h, path, t, t))
    dst.executemany("INSERT INTO temp.s_photos(k__, id, content_hash, path, added_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", rows)
    report.tables["photos"].partial += len(rows)


def _copy_tables(src: sqlite3.Connection, dst: sqlite3.Connection, report: RepairReport,
                 now: float) -> None:
    """Every readable row of the copied tables into temp tables (through a covering index too,
    where the table's pages cannot be read), then the valid ones into the new library's tables
    (decisions renumbered in their order), rows of lost photos left out."""
    have = {r[0]: r[1] for r in src.execute("SELECT name, type FROM sqlite_master")}
    budget = [200_000]
    loaded: list[str] = []
    for table, key in _COPY:
        rep = report.tables[table] = TableReport()
        if have.get(table) != "table":
            continue
        dst_cols = _table_columns(dst, table)
        src_names = {c[0] for c in _table_columns(src, table)}
        names = [c[0] for c in dst_cols if c[0] in src_names]
        temp = f"temp.{_q('s_' + table)}"
        dst.execute(f"CREATE TABLE {temp}(k__, {', '.join(_q(n) for n in names)})")
        via = _VIA_INDEX.get(table)
        ids: set | None = set() if via is not None else None
        _load(_Salvage(src, table, key, names, rep, budget), dst, temp, names, ids)
        if rep.unreadable and via is not None and have.get(via[0]) == "index" and (
                set(names) <= {"id", *via[1]}):
            rep.indexed = _load(_Salvage(src, table, via[1], names, rep, budget, via[0]), dst,
                                temp, names, skip=ids)
        loaded.append(table)
    if "photos" in loaded:
        _photo_stubs(src, dst, report, loaded, budget, now)
    for table in loaded:
        rep = report.tables[table]
        temp = f"temp.{_q('s_' + table)}"
        names = [r[1] for r in dst.execute(f"PRAGMA temp.table_info({_q('s_' + table)})")][1:]
        cols = [c for c in _table_columns(dst, table) if c[0] in names]
        valid = _valid(cols)
        before = dst.total_changes
        if table == "decisions":  # renumbered in order: the log's size is its last id again
            plain = ", ".join(_q(n) for n in names if n != "id")
            dst.execute(f"INSERT OR IGNORE INTO decisions({plain}) SELECT {plain} FROM {temp} "
                        f"WHERE {valid} ORDER BY at, k__")
        else:
            target = ", ".join(_q(n) for n in names)
            dst.execute(f"INSERT OR IGNORE INTO {_q(table)}({target}) SELECT {target} "
                        f"FROM {temp} WHERE {valid} ORDER BY k__")
        rep.copied = dst.total_changes - before
        rep.invalid = dst.execute(f"SELECT count(*) FROM {temp} WHERE NOT ({valid})").fetchone()[0]
        dst.execute(f"DROP TABLE {temp}")
    for table in _CHILDREN:
        if table in loaded:
            rep = report.tables[table]
            cur = dst.execute(
                f"DELETE FROM {_q(table)} WHERE photo_id NOT IN (SELECT id FROM photos)")
            rep.orphans = max(cur.rowcount, 0)
            rep.copied -= rep.orphans


def dated_name(db: Path, infix: str, clock: Callable[[], float], ext: str = "") -> Path:
    """A free name beside `db`: its name, `infix`, the date and time (then -2, -3...), `ext`."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clock()))
    path = db.with_name(f"{db.name}{infix}{stamp}{ext}")
    n = 2
    while path.exists():
        path = db.with_name(f"{db.name}{infix}{stamp}-{n}{ext}")
        n += 1
    return path


def _fsync_dir(folder: Path) -> None:
    with suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def repair(folder: Path | str, *, output: Path | str | None = None, force: bool = False,
           habit_features="default", clock: Callable[[], float] = time.time,
           timeout: float = 10.0) -> RepairReport:
    """Copy what SQLite can read of the library in `folder` into a new library, rebuild its
    derived tables and check it; then the damaged file is moved aside (library.sqlite3.damaged-
    DATE, with its -wal) and the new one takes its place. The damaged file is never written.

    `output`: put the new library in that folder instead and leave `folder` alone. Nothing is
    done when SQLite's integrity_check finds no damage, unless `force`.
    """
    from .store import TagLibrary  # (store imports this module)

    t0 = time.perf_counter()
    folder = Path(folder).expanduser()
    db = folder / DB_NAME
    if not db.exists():
        raise LibraryError(f"there is no tag library at {db}")
    out_folder = None if output is None else Path(output).expanduser()
    if out_folder is not None and (out_folder / DB_NAME).exists():
        raise LibraryError(f"{out_folder} already holds a tag library; choose a new folder")
    if out_folder is None:
        problem = access_problem(db)
        if problem:
            raise LibraryError(
                f"cannot repair the tag library {db} in place: {problem}. Write the repaired "
                "library elsewhere with --output DIR")
        with _sole_user(db) as alone:
            if not alone:
                raise LibraryError(_in_use_text(db))
    before = diagnose(db, full=True, timeout=timeout)
    report = RepairReport(db, before)
    if before.ok and not force:
        report.seconds = time.perf_counter() - t0
        return report
    work_parent = out_folder or folder
    try:
        work_parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".hashlens-repair-", dir=work_parent))
    except OSError as exc:
        raise LibraryError(f"cannot write in {work_parent}: {exc.strerror or exc}") from None
    try:
        try:
            src = connect_readonly(db, timeout=timeout)
            src.execute("SELECT name FROM sqlite_master").fetchall()
        except sqlite3.Error as exc:
            if not is_damage(exc):
                raise LibraryError(f"cannot read the tag library {db}: {exc}") from None
            src, report.source = _open_copy(db, work, timeout)
        try:
            app_id = migrations.application_id(src)
            version = migrations.schema_version(src)
            names = {r[0] for r in src.execute("SELECT name FROM sqlite_master")}
            if app_id not in (0, migrations.APPLICATION_ID) or not {"photos", "decisions"} <= names:
                raise LibraryError(f"{db} is not a hashlens tag library; it was left as it is")
            if version > migrations.SCHEMA_VERSION:
                raise LibraryError(
                    f"the tag library {db} was written by a newer hashlens (schema {version}); "
                    "repair it with that version. It was left as it is")
            new = TagLibrary.open(work, habit_features=habit_features, clock=clock)
            try:
                conn = new._conn
                conn.execute("PRAGMA foreign_keys = OFF")
                with new._write("repair") as dst:
                    _copy_tables(src, dst, report, clock())
                conn.execute("PRAGMA foreign_keys = ON")
                new.rebuild_aggregates()
                report.after = new.check(full=True)
            finally:
                new.close()
        finally:
            src.close()
        got = report.tables
        if not before.ok and not any(got[t].copied for t in ("photos", "rules", "meta")):
            raise LibraryError(
                f"nothing could be read from the tag library {db} ({before.what}); it was left "
                "as it is. Restore a backup with `hashlens library import FILE`, or move it away "
                "(a new library is then created).")
        if report.after != ["ok"]:
            raise LibraryError(f"the repaired copy of {db} failed SQLite's check "
                               f"({'; '.join(report.after[:3])}); nothing was changed")
        new_db = work / DB_NAME
        if out_folder is not None:
            os.replace(new_db, out_folder / DB_NAME)
            report.output = out_folder / DB_NAME
            _fsync_dir(out_folder)
        else:
            report.kept = _swap(db, new_db, clock)
            report.output = db
        report.done = True
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.seconds = time.perf_counter() - t0
    return report


def _swap(db: Path, new_db: Path, clock: Callable[[], float]) -> Path:
    """Move the damaged file (and its -wal, -shm) aside and the new library into its place."""
    kept = dated_name(db, DAMAGED_SUFFIX, clock)
    moved: list[tuple[Path, Path]] = []
    with _sole_user(db) as alone:
        if not alone:
            raise LibraryError(_in_use_text(db) + "; nothing was changed")
        try:
            for sfx in ("", "-wal", "-shm"):
                a, b = db.with_name(db.name + sfx), kept.with_name(kept.name + sfx)
                if sfx == "" or a.exists():
                    os.replace(a, b)
                    moved.append((a, b))
            os.replace(new_db, db)
        except OSError as exc:
            for a, b in reversed(moved):
                with suppress(OSError):
                    os.replace(b, a)
            raise LibraryError(
                f"cannot put the repaired library in place of {db}: {exc.strerror or exc} "
                "(is another program using it?); nothing was changed") from None
    _fsync_dir(db.parent)
    return kept
