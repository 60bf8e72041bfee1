"""Repair a damaged tag library: copy what SQLite can still read into a new library.

`repair(folder)` copies the library table by table, skipping the pages SQLite cannot read (and
reading a table through a covering index where its own pages are lost), into a new library,
rebuilds the derived tables, checks the result, and puts it in place; the damaged file is kept
beside it (`library.sqlite3.damaged-DATE`), never written. A damaged file header is rebuilt on a
copy first. What counts as damage is integrity.py's (SQLite's own checks).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LibraryError
from . import migrations
from .integrity import (
    DAMAGED_SUFFIX,
    DB_NAME,
    Diagnosis,
    access_problem,
    connect_readonly,
    dated_name,
    diagnose,
    is_damage,
    quote_name,
    wal_size,
)


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
        self.source = quote_name(table) + (f" INDEXED BY {quote_name(index)}" if index else "")

    def _select(self, cols: list[str], where: str = "", desc: bool = False,
                limit: str = "") -> str:
        order = ", ".join(f"{quote_name(k) if k != 'rowid' else 'rowid'}{' DESC' if desc else ''}"
                          for k in self.key)
        keys = ", ".join(k if k == "rowid" else quote_name(k) for k in self.key)
        sel = ", ".join(quote_name(c) for c in cols) if cols else "NULL"
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
        lead = "rowid" if self.rowid else quote_name(self.lead)
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
        lead = "rowid" if self.rowid else quote_name(self.lead)
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
    has_wal = wal_size(db) > 0
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
            for r in conn.execute(f"PRAGMA table_info({quote_name(table)})")]


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
        conds.append(f"typeof({quote_name(name)}) IN ({kinds})")
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
    for row in src.execute(f"PRAGMA index_list({quote_name(table)})"):
        cols = [r[2] for r in src.execute(f"PRAGMA index_info({quote_name(row[1])})")]
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
    union = " UNION ".join(f"SELECT photo_id FROM temp.{quote_name('s_' + t)}" for t in children)
    missing = [r[0] for r in dst.execute(
        f"SELECT photo_id FROM ({union}) WHERE typeof(photo_id) = 'integer' AND photo_id NOT IN "
        "(SELECT id FROM temp.s_photos WHERE typeof(id) = 'integer')")]
    if not missing:
        return
    hashes = _index_values(src, "photos", "content_hash", budget)
    paths = _index_values(src, "photos", "path", budget)
    times = {"decisions": "at", "photo_paths": "first_seen", "captions": "created_at",
             "suggestions": "created_at"}
    first = " UNION ALL ".join(f"SELECT {times[t]} AS t FROM temp.{quote_name('s_' + t)} "
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
        temp = f"temp.{quote_name('s_' + table)}"
        dst.execute(f"CREATE TABLE {temp}(k__, {', '.join(quote_name(n) for n in names)})")
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
        temp = f"temp.{quote_name('s_' + table)}"
        names = [r[1] for r in dst.execute(f"PRAGMA temp.table_info({quote_name('s_' + table)})")][1:]
        cols = [c for c in _table_columns(dst, table) if c[0] in names]
        valid = _valid(cols)
        before = dst.total_changes
        if table == "decisions":  # renumbered in order: the log's size is its last id again
            plain = ", ".join(quote_name(n) for n in names if n != "id")
            dst.execute(f"INSERT OR IGNORE INTO decisions({plain}) SELECT {plain} FROM {temp} "
                        f"WHERE {valid} ORDER BY at, k__")
        else:
            target = ", ".join(quote_name(n) for n in names)
            dst.execute(f"INSERT OR IGNORE INTO {quote_name(table)}({target}) SELECT {target} "
                        f"FROM {temp} WHERE {valid} ORDER BY k__")
        rep.copied = dst.total_changes - before
        rep.invalid = dst.execute(f"SELECT count(*) FROM {temp} WHERE NOT ({valid})").fetchone()[0]
        dst.execute(f"DROP TABLE {temp}")
    for table in _CHILDREN:
        if table in loaded:
            rep = report.tables[table]
            cur = dst.execute(
                f"DELETE FROM {quote_name(table)} WHERE photo_id NOT IN (SELECT id FROM photos)")
            rep.orphans = max(cur.rowcount, 0)
            rep.copied -= rep.orphans


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
    t0 = time.perf_counter()
    folder = Path(folder).expanduser()
    db = folder / DB_NAME
    out_folder = None if output is None else Path(output).expanduser()
    _check_target(db, out_folder)
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
        _build_copy(db, work, report, habit_features, clock, timeout)
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


def _check_target(db: Path, out_folder: Path | None) -> None:
    """LibraryError unless the repair may run: a library there, a free --output folder, or
    (in place) a folder that can be written and no other process holding the library."""
    if not db.exists():
        raise LibraryError(f"there is no tag library at {db}")
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


def _build_copy(db: Path, work: Path, report: RepairReport, habit_features,
                clock: Callable[[], float], timeout: float) -> None:
    """The new library in `work`: what can be read of `db`, its derived tables rebuilt and
    checked; LibraryError (nothing changed) when nothing could be read or the copy is bad."""
    from .store import TagLibrary  # (store imports this module's users)

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
            new.db.conn.execute("PRAGMA foreign_keys = OFF")
            with new.db.write("repair") as dst:
                _copy_tables(src, dst, report, clock())
            new.db.conn.execute("PRAGMA foreign_keys = ON")
            new.rebuild_aggregates()
            report.after = new.check(full=True)
        finally:
            new.close()
    finally:
        src.close()
    got = report.tables
    if not report.before.ok and not any(got[t].copied for t in ("photos", "rules", "meta")):
        raise LibraryError(
            f"nothing could be read from the tag library {db} ({report.before.what}); it was "
            "left as it is. Restore a backup with `hashlens library import FILE`, or move it "
            "away (a new library is then created).")
    if report.after != ["ok"]:
        raise LibraryError(f"the repaired copy of {db} failed SQLite's check "
                           f"({'; '.join(report.after[:3])}); nothing was changed")


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
