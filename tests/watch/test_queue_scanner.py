from __future__ import annotations

import os
import tracemalloc

from desktop_app.library import migrations
from desktop_app.library.store import TagLibrary
from desktop_app.watch.queue import WatchQueue
from desktop_app.watch.scanner import FileStat, scan


def test_migration_two_creates_the_queue_and_stats_count_it(library):
    assert migrations.SCHEMA_VERSION >= 2
    q = WatchQueue(library)
    assert q.add_many([FileStat("/p/a.jpg", 10, 1.0), FileStat("/p/b.jpg", 10, 1.0)]) == 2
    assert library.stats()["queued"] == 2
    q.fail("/p/a.jpg", "broken")
    assert library.stats()["queued"] == 1
    assert q.counts() == {"queued": 1, "failed": 1}


def test_dedupe_by_path_size_mtime(library):
    q = WatchQueue(library)
    assert q.add("/p/a.jpg", 10, 1.0)
    assert not q.add("/p/a.jpg", 10, 1.0)  # the same file again: nothing new
    assert q.add("/p/a.jpg", 20, 2.0)  # it changed: updated
    assert q.get("/p/a.jpg").size == 20
    assert q.counts()["queued"] == 1


def test_a_failed_file_is_not_queued_again_until_it_changes(library):
    q = WatchQueue(library)
    q.add("/p/a.jpg", 10, 1.0)
    q.fail("/p/a.jpg", "truncated")
    assert not q.add("/p/a.jpg", 10, 1.0)
    assert [f.path for f in q.failures()] == ["/p/a.jpg"]
    assert q.add("/p/a.jpg", 11, 2.0)
    assert q.failures() == []


def test_queue_survives_reopening(tmp_path):
    lib = TagLibrary.open(tmp_path / "lib")
    WatchQueue(lib).add("/p/a.jpg", 10, 1.0)
    lib.close()
    lib = TagLibrary.open(tmp_path / "lib")
    try:
        assert [i.path for i in WatchQueue(lib).due(10)] == ["/p/a.jpg"]
    finally:
        lib.close()


def test_remove_under_a_folder_keeps_siblings(library):
    q = WatchQueue(library)
    q.add_many([FileStat("/p/a/1.jpg", 1, 1.0), FileStat("/p/a/b/2.jpg", 1, 1.0),
                FileStat("/p/ab/3.jpg", 1, 1.0)])
    assert q.remove_under("/p/a") == 2
    assert [i.path for i in q.due(10)] == ["/p/ab/3.jpg"]


def test_scan_skips_junk_hidden_and_symlink_loops(tmp_path):
    root = tmp_path / "root"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".thumbs").mkdir()
    for p in ["a.jpg", "sub/b.png", "sub/deeper/c.heic", ".thumbs/t.jpg", "x.jpg.part",
              "~$y.jpg", "notes.txt", "a.jpg.xmp"]:
        (root / p).write_bytes(b"x")
    os.symlink(root, root / "sub" / "loop")  # a symlink back up the tree
    os.symlink(tmp_path / "nowhere.jpg", root / "dangling.jpg")
    found = sorted(os.path.relpath(f.path, root) for f in scan([str(root)]))
    assert found == ["a.jpg", "sub/b.png", "sub/deeper/c.heic"]


def test_scan_streams_with_flat_memory(tmp_path):
    root = tmp_path / "many"
    for d in range(20):
        (root / f"d{d}").mkdir(parents=True)
        for i in range(100):
            (root / f"d{d}" / f"{i}.jpg").write_bytes(b"x")
    tracemalloc.start()
    n = 0
    for _ in scan([str(root)]):
        n += 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n == 2000
    assert peak < 1_000_000  # one folder's listing at a time, not 2000 FileStats
