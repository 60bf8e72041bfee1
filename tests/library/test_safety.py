"""The library never loses a committed decision and never overwrites a file it cannot read."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from desktop_app.errors import LibraryError
from desktop_app.library import migrations
from desktop_app.library.migrations import Migration
from desktop_app.library.store import DB_NAME, TagLibrary

ROOT = Path(__file__).resolve().parents[2]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_library(folder: Path, n: int = 3) -> Path:
    with TagLibrary.open(folder) as lib:
        for i in range(n):
            lib.record_decisions(f"h{i}", approve=["#a"], reject=["#b"])
    return folder / DB_NAME


def child(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )


@pytest.mark.parametrize("damage", ["garbage", "truncated", "zeroed_header"])
def test_corrupt_file_is_refused_and_kept(tmp_path, damage):
    db = make_library(tmp_path / "lib", n=200)
    data = db.read_bytes()
    if damage == "garbage":
        db.write_bytes(os.urandom(len(data)))
    elif damage == "truncated":
        db.write_bytes(data[: len(data) // 2])
    else:
        db.write_bytes(b"\0" * 100 + data[100:])
    before = digest(db)
    with pytest.raises(LibraryError, match="damaged"):
        TagLibrary.open(tmp_path / "lib")
    assert digest(db) == before
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == [DB_NAME]


def test_newer_schema_is_refused_and_kept(tmp_path):
    db = make_library(tmp_path / "lib")
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = digest(db)
    with pytest.raises(LibraryError, match="newer hashlens"):
        TagLibrary.open(tmp_path / "lib")
    with pytest.raises(LibraryError, match="newer hashlens"):
        TagLibrary.open(tmp_path / "lib", readonly=True)
    assert digest(db) == before


def test_another_programs_database_is_refused(tmp_path):
    (tmp_path / "lib").mkdir()
    db = tmp_path / "lib" / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE accounts(id INTEGER)")
    conn.commit()
    conn.close()
    before = digest(db)
    with pytest.raises(LibraryError, match="another program"):
        TagLibrary.open(tmp_path / "lib")
    assert digest(db) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_unwritable_folder_gives_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(LibraryError, match="cannot"):
            TagLibrary.open(folder / "lib")
    finally:
        folder.chmod(0o700)


def test_read_only_open_refuses_writes(tmp_path):
    make_library(tmp_path / "lib")
    with TagLibrary.open(tmp_path / "lib", readonly=True) as lib:
        assert lib.decisions_for("h0") == {"#a": "approved", "#b": "rejected"}
        with pytest.raises(LibraryError, match="read-only"):
            lib.record_decisions("h0", approve=["#c"])
    with pytest.raises(LibraryError, match="no tag library"):
        TagLibrary.open(tmp_path / "missing", readonly=True)


def test_locked_library_reports_busy(tmp_path):
    make_library(tmp_path / "lib")
    holder = sqlite3.connect(tmp_path / "lib" / DB_NAME, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a long write
    try:
        with TagLibrary.open(tmp_path / "lib", busy_timeout=0.2) as lib:
            assert lib.decisions_for("h1")  # readers are not blocked (WAL)
            t0 = time.monotonic()
            with pytest.raises(LibraryError, match="busy"):
                lib.record_decisions("h1", approve=["#c"])
            assert time.monotonic() - t0 >= 0.15  # it waited for the lock first
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with TagLibrary.open(tmp_path / "lib") as lib:
        lib.record_decisions("h1", approve=["#c"])  # and works once the lock is gone


def test_killed_writer_loses_no_committed_decision(tmp_path):
    folder = tmp_path / "lib"
    code = """
        import sys
        from desktop_app.library.store import TagLibrary
        lib = TagLibrary.open(sys.argv[1])
        i = 0
        while True:
            lib.record_decisions(f"photo{i % 50}", approve=[f"#a{i}"], reject=[f"#r{i}"],
                                 add=["#mine"])
            print(i, flush=True)   # only after record_decisions returned (committed)
            i += 1
    """
    proc = child(code, str(folder))
    committed = -1
    try:
        while committed < 40:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            committed = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)  # mid-write, most likely
        proc.wait(timeout=30)
    with TagLibrary.open(folder) as lib:
        for i in range(committed + 1):
            states = lib.decisions_for(f"photo{i % 50}")
            assert states.get(f"#a{i}") == "approved", i
            assert states.get(f"#r{i}") == "rejected", i
        assert lib.check() == ["ok"]
        st = lib.stats()
        assert st["decisions"] >= 3 * (committed + 1)
        # the derived tables agree with the log
        approved = st["approved"]
        lib.rebuild_aggregates()
        assert lib.stats()["approved"] == approved


def test_two_processes_writing_at_once(tmp_path):
    folder = tmp_path / "lib"
    TagLibrary.open(folder).close()
    code = """
        import sys
        from desktop_app.library.store import TagLibrary
        name = sys.argv[2]
        with TagLibrary.open(sys.argv[1]) as lib:
            for i in range(60):
                lib.record_decisions(f"shared{i % 5}", approve=[f"#{name}{i}"])
                lib.record_decisions(f"{name}{i}", add=["#common"], reject=[f"#x{i}"])
                lib.rank([], None)
        print("done", flush=True)
    """
    procs = [child(code, str(folder), name) for name in ("gui", "cli")]
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        assert out.strip() == "done"
    with TagLibrary.open(folder) as lib:
        assert lib.check() == ["ok"]
        st = lib.stats()
        assert st["decisions"] == 2 * 60 * 3
        assert st["photos"] == 5 + 120
        assert {p.tag: p.adds for p in lib.tag_preferences()}["#common"] == 120
        shared = {}
        for i in range(5):
            shared.update(lib.decisions_for(f"shared{i}"))
        assert len(shared) == 120


def test_migration_backs_up_and_upgrades(tmp_path, monkeypatch):
    db = make_library(tmp_path / "lib")
    old = migrations.SCHEMA_VERSION
    nxt = Migration(old + 1, "test: a new table", ("CREATE TABLE test_next(x TEXT PRIMARY KEY)",))
    monkeypatch.setattr(migrations, "MIGRATIONS", (*migrations.MIGRATIONS, nxt))
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", old + 1)
    with TagLibrary.open(tmp_path / "lib") as lib:
        assert lib.stats()["schema_version"] == old + 1
        assert lib.stats()["queued"] == 0
        assert lib.decisions_for("h0") == {"#a": "approved", "#b": "rejected"}
    backup = tmp_path / "lib" / f"{DB_NAME}.v{old}.bak"
    conn = sqlite3.connect(backup)
    assert migrations.schema_version(conn) == old
    assert conn.execute("SELECT count(*) FROM decisions").fetchone()[0] == 6
    conn.close()
    assert db.exists()


def test_folder_that_cannot_be_created_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(LibraryError, match="cannot create the tag library folder"):
        TagLibrary.open(blocker / "lib")
