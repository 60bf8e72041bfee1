"""Damage is what SQLite says (never a guess that races with a writer), nothing is written to a
damaged library, `library check` says what is wrong and `library repair` saves what SQLite can
still read, leaving the damaged file as it was; a read-only library opens read-only."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bench.library_race import WRITER
from desktop_app.cli import main
from desktop_app.errors import LibraryError
from desktop_app.library import integrity
from desktop_app.library.repair import repair
from desktop_app.library.store import DB_NAME, TagLibrary

from .conftest import cands, embedding, result

ROOT = Path(__file__).resolve().parents[2]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def child(code: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )


def make_library(folder: Path, photos: int = 5, embeddings: bool = False) -> Path:
    with TagLibrary.open(folder, habit_features=None) as lib:
        for i in range(photos):
            if embeddings:
                lib.record_result(result(f"h{i}", cands(("#x", 0.5), ("#y", 0.4)),
                                         embedding(i % 5, seed=i)), 1.0, 10, "m")
            lib.record_decisions(f"h{i}", approve=["#a"], reject=["#b"])
        lib.block("#never")
    return folder / DB_NAME


def big_library(folder: Path) -> Path:
    """300 photos with embeddings, 2,400 decisions: tables of many pages."""
    with TagLibrary.open(folder, habit_features=None) as lib:
        for i in range(300):
            lib.record_result(result(f"h{i}", cands(("#x", 0.5), ("#y", 0.4)),
                                     embedding(i % 5, seed=i)), 1.0, 10, "m")
            lib.record_decisions(f"h{i}", approve=[f"#a{j}" for j in range(5)],
                                 reject=["#b", "#c"], add=[f"#d{i % 7}"])
    return folder / DB_NAME


def pages(db: Path, name: str, kind: str) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT pageno, pagetype FROM dbstat WHERE name = ? ORDER BY pageno",
                            (name,)).fetchall()
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table")
    finally:
        conn.close()
    return [p for p, t in rows if t == kind]


def shred_page(db: Path, page: int, page_size: int = 4096) -> None:
    data = bytearray(db.read_bytes())
    data[(page - 1) * page_size : page * page_size] = os.urandom(page_size)
    db.write_bytes(bytes(data))


def set_rowid(db: Path, table: str, cell: int, rowid: int) -> None:
    """The issue's damage: one cell's rowid changed on a table's leaf page (header intact)."""
    conn = sqlite3.connect(db)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    base = (root - 1) * page_size
    assert data[base] == 0x0D  # a table leaf
    ptr = int.from_bytes(data[base + 8 + 2 * cell : base + 10 + 2 * cell], "big")
    assert data[base + ptr] < 0x80 and data[base + ptr + 1] < 0x80  # one-byte varints
    data[base + ptr + 1] = rowid
    db.write_bytes(bytes(data))


def damage(db: Path, kind: str) -> None:
    if kind == "rowid":
        set_rowid(db, "decisions", 2, 83)
    elif kind == "decisions page":
        leaves = pages(db, "decisions", "leaf")
        shred_page(db, leaves[len(leaves) // 2])
    elif kind == "photos page":
        leaves = pages(db, "photos", "leaf")
        shred_page(db, leaves[len(leaves) // 2])
    elif kind == "decisions root":
        shred_page(db, pages(db, "decisions", "internal")[0])
    elif kind == "zeroed header":
        data = db.read_bytes()
        db.write_bytes(b"\0" * 100 + data[100:])
    elif kind == "truncated":
        data = db.read_bytes()
        db.write_bytes(data[: len(data) * 6 // 10 // 4096 * 4096])
    else:
        raise AssertionError(kind)


# -- 1. no false 'damaged' while another process writes ---------------------------------------
# The writer of bench/library_race.py, with a checkpoint (the WAL written back into the file,
# which grows) every 40 pages: the moment a byte test of the header raced with.
WRITER_CHECKPOINT = "40"


def test_reads_during_writes_never_report_damage(tmp_path):
    folder = tmp_path / "lib"
    TagLibrary.open(folder, habit_features=None).close()
    writer = child(WRITER, str(folder), WRITER_CHECKPOINT)
    assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
    size0 = (folder / DB_NAME).stat().st_size
    reads, errors = 0, []
    deadline = time.monotonic() + 30
    try:
        while reads < 1000 and time.monotonic() < deadline:
            try:
                with TagLibrary.open(folder, habit_features=None) as lib:
                    lib.stats()
            except LibraryError as exc:
                errors.append(str(exc))
            reads += 1
    finally:
        writer.kill()
        writer.wait(timeout=30)
    assert (folder / DB_NAME).stat().st_size > size0  # the writer's checkpoints grew the file
    assert reads >= 300
    assert errors == [], f"{len(errors)} of {reads} reads failed: {errors[:2]}"
    with TagLibrary.open(folder, habit_features=None) as lib:
        assert lib.check(full=True) == ["ok"]
        assert lib.verify().ok


def test_checks_during_writes_find_no_damage(tmp_path):
    folder = tmp_path / "lib"
    TagLibrary.open(folder, habit_features=None).close()
    writer = child(WRITER, str(folder), WRITER_CHECKPOINT)
    assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
    try:
        found = [integrity.diagnose(folder / DB_NAME) for _ in range(40)]
    finally:
        writer.kill()
        writer.wait(timeout=30)
    assert all(f.ok for f in found), [f.what for f in found if not f.ok][:2]


# -- 2. nothing is written to a damaged library ----------------------------------------------
@pytest.mark.parametrize("kind", ["rowid", "decisions page", "photos page"])
def test_damaged_data_page_refuses_every_write_and_keeps_the_file(tmp_path, kind):
    folder = tmp_path / "lib"
    db = big_library(folder) if kind != "rowid" else make_library(folder, photos=5)
    damage(db, kind)
    before = digest(db)
    with TagLibrary.open(folder, habit_features=None) as lib:  # the header is intact
        writes = [
            lambda: lib.record_decisions("h1", approve=["#c"]),
            lambda: lib.record_result(result("new", cands(("#x", 0.5))), 1.0, 10, "m"),
            lambda: lib.block("#z"),
            lambda: lib.rebuild_aggregates(),
        ]
        for write in writes:
            with pytest.raises(LibraryError) as err:
                write()
            text = str(err.value)
            assert "is damaged" in text and "library repair" in text
            assert "It was left as it is" in text
        if kind == "rowid":
            assert "Rowid 83 out of order" in text
        with pytest.raises(LibraryError, match="damaged"):  # a backup of it would be damaged too
            lib.export_json(tmp_path / "backup.json")
        assert not (tmp_path / "backup.json").exists()
        assert not lib.verify().ok
    assert digest(db) == before
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        DB_NAME]


def test_feedback_on_a_damaged_library_fails_and_changes_nothing(tmp_path, capsys):
    db = make_library(tmp_path / "lib", photos=5)
    damage(db, "rowid")
    before = digest(db)
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"any bytes: the photo is found by its content hash")
    code = main(["feedback", str(photo), "--approve", "#sea", "--library", str(tmp_path / "lib")])
    assert code == 1
    err = capsys.readouterr().err
    assert "damaged" in err and "Rowid 83 out of order" in err and "library repair" in err
    assert digest(db) == before


def test_sqlite_error_on_an_intact_file_is_not_called_damage(tmp_path):
    make_library(tmp_path / "lib")
    with TagLibrary.open(tmp_path / "lib", habit_features=None) as lib:
        with pytest.raises(LibraryError, match="finds the file intact; try again"):
            with lib.db.guard("read"):
                raise sqlite3.DatabaseError("database disk image is malformed")
        assert lib.verify().ok
        lib.record_decisions("h1", approve=["#c"])  # still writable


def test_errors_on_a_library_known_damaged_do_not_check_it_again(tmp_path, monkeypatch):
    make_library(tmp_path / "lib", photos=5)
    damage(tmp_path / "lib" / DB_NAME, "rowid")
    with TagLibrary.open(tmp_path / "lib", habit_features=None) as lib:
        assert not lib.verify().ok
        monkeypatch.setattr(integrity, "diagnose", lambda *a, **k: pytest.fail("checked again"))
        for _ in range(2):
            with pytest.raises(LibraryError, match="could not read: .* Rowid 83 out of order"):
                with lib.db.guard("read"):
                    raise sqlite3.DatabaseError("database disk image is malformed")


def test_open_checks_in_the_background_and_close_stops_it(tmp_path):
    make_library(tmp_path / "lib")
    lib = TagLibrary.open(tmp_path / "lib", habit_features=None)
    found = lib.verify()
    assert found.ok and found.check == "quick_check"
    lib.close()
    lib = TagLibrary.open(tmp_path / "lib", habit_features=None)
    lib.close()  # at once: the check is interrupted, its thread gone
    assert not [t for t in threading.enumerate() if t.name == "hashlens-library-check"]


@pytest.mark.parametrize("kind", ["zeroed header", "truncated"])
def test_unreadable_file_is_refused_at_open_with_what_sqlite_says(tmp_path, kind):
    db = big_library(tmp_path / "lib")
    damage(db, kind)
    before = digest(db)
    with pytest.raises(LibraryError) as err:
        TagLibrary.open(tmp_path / "lib", habit_features=None)
    text = str(err.value)
    assert "is damaged: SQLite cannot read it" in text and "library repair" in text
    assert ("not a SQLite header" if kind == "zeroed header" else "shorter than its header") in text
    assert digest(db) == before


# -- check and repair --------------------------------------------------------------------------
def test_check_command(tmp_path, capsys):
    make_library(tmp_path / "lib")
    lib_arg = ["--library", str(tmp_path / "lib")]
    assert main(["library", "check", *lib_arg]) == 0
    assert "intact" in capsys.readouterr().out
    damage(tmp_path / "lib" / DB_NAME, "rowid")
    assert main(["library", "check", *lib_arg]) == 1
    out, err = capsys.readouterr()
    assert "DAMAGED" in out and "Rowid 83 out of order" in out
    assert "library repair" in err
    assert main(["library", "check", "--json", *lib_arg]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["ok"] is False and found["check"] == "integrity_check"
    assert any("Rowid 83" in line for line in found["findings"])
    assert main(["library", "check", "--library", str(tmp_path / "none")]) == 1
    assert "no tag library" in capsys.readouterr().err


def _table(db: Path, sql: str) -> list:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("kind,at_least", [
    ("rowid", {"photos": 5, "decisions": 10}),
    ("decisions page", {"photos": 300, "decisions": 2400}),  # read through decisions_unique
    ("decisions root", {"photos": 300, "decisions": 2400}),
    ("photos page", {"photos": 300, "decisions": 2400}),  # lost rows rebuilt from its indexes
    ("zeroed header", {"photos": 300, "decisions": 2400}),  # the header rebuilt on a copy
    ("truncated", {"photos": 150, "decisions": 1200}),
])
def test_repair_saves_what_sqlite_can_read_and_keeps_the_damaged_file(tmp_path, capsys, kind,
                                                                       at_least):
    folder = tmp_path / "lib"
    db = make_library(folder, photos=5) if kind == "rowid" else big_library(folder)
    damage(db, kind)
    damaged = digest(db)
    assert main(["library", "repair", "--library", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "repaired the tag library" in out and "integrity_check of the new library: ok" in out
    kept = [p for p in folder.iterdir() if p.name.startswith(DB_NAME + ".damaged-")
            and not p.name.endswith(("-wal", "-shm"))]
    assert len(kept) == 1 and digest(kept[0]) == damaged  # never written
    assert str(kept[0]) in out
    with TagLibrary.open(folder, habit_features=None) as lib:
        assert lib.check(full=True) == ["ok"]
        st = lib.stats()
        assert st["photos"] >= at_least["photos"]
        assert st["decisions"] >= at_least["decisions"]
        # the log is dense again: its size is its last id (`stats` counts it so)
        assert st["decisions"] == _table(db, "SELECT count(*) FROM decisions")[0][0]
        assert st["blocked"] == (1 if kind == "rowid" else 0)
        approved = st["approved"]
        lib.rebuild_aggregates()  # the repair's aggregates are the log's
        assert lib.stats()["approved"] == approved
        lib.record_decisions("h1", approve=["#after"])
        assert lib.decisions_for("h1")["#after"] == "approved"
    assert _table(db, "PRAGMA foreign_key_check") == []


def test_repair_of_an_intact_library_changes_nothing_unless_forced(tmp_path, capsys):
    db = make_library(tmp_path / "lib")
    before = digest(db)
    assert main(["library", "repair", "--library", str(tmp_path / "lib")]) == 0
    assert "nothing to repair" in capsys.readouterr().out
    assert digest(db) == before
    report = repair(tmp_path / "lib", force=True, habit_features=None)
    assert report.done and report.kept is not None and digest(report.kept) == before
    with TagLibrary.open(tmp_path / "lib", habit_features=None) as lib:
        assert lib.stats()["decisions"] == 10 and lib.rules()["blocked"] == ["#never"]


def test_repair_to_another_folder_leaves_the_damaged_one_alone(tmp_path):
    db = big_library(tmp_path / "lib")
    damage(db, "decisions page")
    before = digest(db)
    report = repair(tmp_path / "lib", output=tmp_path / "new", habit_features=None)
    assert report.done and report.kept is None
    assert digest(db) == before
    with TagLibrary.open(tmp_path / "new", habit_features=None) as lib:
        assert lib.stats()["decisions"] == 2400
    with pytest.raises(LibraryError, match="already holds a tag library"):
        repair(tmp_path / "lib", output=tmp_path / "new", habit_features=None)


@pytest.mark.skipif(os.name != "posix", reason="the in-use test reads SQLite's POSIX locks")
def test_repair_refuses_while_another_process_has_the_library_open(tmp_path):
    db = make_library(tmp_path / "lib")
    damage(db, "rowid")
    before = digest(db)
    holder = child("""
        import sys
        from desktop_app.library.store import TagLibrary
        lib = TagLibrary.open(sys.argv[1], readonly=True)
        lib.stats()
        print("open", flush=True)
        sys.stdin.readline()
    """, str(tmp_path / "lib"))
    try:
        assert holder.stdout.readline().strip() == "open", holder.stderr.read()
        with pytest.raises(LibraryError, match="has the tag library .* open; close it"):
            repair(tmp_path / "lib", habit_features=None)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert digest(db) == before
    assert repair(tmp_path / "lib", habit_features=None).done  # once it is closed


def test_nothing_readable_is_not_replaced(tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / DB_NAME).write_bytes(os.urandom(64 * 1024))
    before = digest(folder / DB_NAME)
    with pytest.raises(LibraryError, match="nothing can be read"):
        repair(folder, habit_features=None)
    assert digest(folder / DB_NAME) == before
    assert [p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm"))] == [DB_NAME]


# -- 5. a read-only library opens read-only ----------------------------------------------------
def test_read_only_library_opens_read_only_with_a_note(tmp_path, monkeypatch):
    """As root (these tests' usual user) permissions are not enforced: the folder's read-only
    state is injected here; the next test runs the CLI with the permissions enforced."""
    make_library(tmp_path / "lib")
    folder = tmp_path / "lib"
    before = sorted(p.name for p in folder.iterdir())
    monkeypatch.setattr(integrity, "access_problem", lambda db: "its folder cannot be written")
    with TagLibrary.open(folder, habit_features=None) as lib:
        assert lib.readonly
        assert "cannot be written (its folder cannot be written)" in lib.note
        assert lib.stats()["decisions"] == 10
        assert lib.export_json(tmp_path / "backup.json")["decisions"] == 10
        assert lib.rank(cands(("#a", 0.1), ("#b", 0.9)), None)
        with pytest.raises(LibraryError, match="open read-only, so nothing is recorded"):
            lib.record_decisions("h1", approve=["#c"])
    # immutable: SQLite created no -wal/-shm file (it could not, in a read-only folder)
    assert sorted(p.name for p in folder.iterdir()) == before


def _unprivileged(cmd: list[str]) -> list[str]:
    """`cmd` without the root's power to ignore file permissions."""
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be enforced")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--", *cmd]


@pytest.mark.skipif(os.name != "posix", reason="chmod")
def test_read_only_folder_cli_stats_export_check_and_a_clear_refusal(tmp_path):
    folder = tmp_path / "lib"
    make_library(folder)
    probe = subprocess.run(_unprivileged(["true"]), capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr!r}")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"a photo")
    (folder / DB_NAME).chmod(0o444)
    folder.chmod(0o555)
    env = dict(os.environ, PYTHONPATH=str(ROOT), HASHLENS_HOME=str(folder))

    def hashlens(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-c", "import sys; from desktop_app.cli import main; "
               "sys.exit(main(sys.argv[1:]))", *args]
        return subprocess.run(_unprivileged(cmd), capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=120)

    try:
        stats = hashlens("library", "stats", "--json")
        assert stats.returncode == 0, stats.stderr
        assert json.loads(stats.stdout)["decisions"] == 10
        assert "open read-only" in stats.stderr
        exported = hashlens("library", "export", str(out_dir / "backup.json"))
        assert exported.returncode == 0, exported.stderr
        assert json.loads((out_dir / "backup.json").read_text())["photos"]
        check = hashlens("library", "check")
        assert check.returncode == 0 and "intact" in check.stdout, check.stderr
        feedback = hashlens("feedback", str(photo), "--approve", "#sea")
        assert feedback.returncode == 1
        assert "cannot be written" in feedback.stderr and "nothing is recorded" in feedback.stderr
        assert sorted(p.name for p in folder.iterdir()) == [DB_NAME]
    finally:
        folder.chmod(0o755)
        (folder / DB_NAME).chmod(0o644)


def test_stats_of_a_damaged_library_says_so_instead_of_wrong_counts(tmp_path, capsys):
    db = make_library(tmp_path / "lib", photos=5)
    assert main(["library", "stats", "--library", str(tmp_path / "lib")]) == 0
    capsys.readouterr()
    damage(db, "rowid")
    before = digest(db)
    assert main(["library", "stats", "--json", "--library", str(tmp_path / "lib")]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "could not count what it holds" in out.err and "Rowid 83" in out.err
    assert digest(db) == before
