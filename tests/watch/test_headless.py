"""`hashlens watch` (headless) and `hashlens library stats --json`."""

from __future__ import annotations

import argparse
import json
import threading

from desktop_app.cli import main
from desktop_app.watch.headless import run_watch
from desktop_app.watch.queue import WatchQueue
from desktop_app.watch.service import WatchOptions
from tests.ui.fakes import make_photos

from .conftest import FAST, wait_until


def test_run_watch_prints_one_line_per_photo_and_stops_cleanly(tmp_path, pipeline, capfd):
    folder = tmp_path / "camera"
    photos = make_photos(folder, n=2, broken=True)
    stop = threading.Event()
    args = argparse.Namespace(folders=[str(folder)], model=None, library=None)
    out: list[int] = []
    opts = WatchOptions(**FAST)
    t = threading.Thread(target=lambda: out.append(
        run_watch(args, pipeline=pipeline, stop_event=stop, options=opts)))
    t.start()
    try:
        lib = pipeline.library
        assert wait_until(lambda: lib.stats()["photos"] == 2 and WatchQueue(lib).counts()["failed"] == 1,
                          timeout=30)
    finally:
        stop.set()
        t.join(30)
    assert out == [0]
    captured = capfd.readouterr()
    lines = captured.out.strip().splitlines()
    assert sorted(line.split("\t")[0] for line in lines) == sorted(str(p) for p in photos[:2])
    assert all("#teddybear" in line.split("\t")[1] for line in lines)
    assert "could not tag" in captured.err and "broken.jpg" in captured.err
    assert len([x for x in captured.err.splitlines() if "broken.jpg" in x]) == 1  # reported once
    assert "stopped: 2 tagged this run, 0 queued, 1 failed" in captured.err


def test_run_watch_refuses_when_no_folder_exists(tmp_path, pipeline, capfd):
    args = argparse.Namespace(folders=[str(tmp_path / "nope")], model=None, library=None)
    assert run_watch(args, pipeline=pipeline) == 1
    assert "not a folder" in capfd.readouterr().err


def test_library_stats_json_shows_queued_and_tagged(tmp_path, capsys):
    from desktop_app.library.store import TagLibrary
    from desktop_app.watch.scanner import FileStat

    with TagLibrary.open(tmp_path / "lib") as lib:
        WatchQueue(lib).add_many(FileStat(f"/p/{i}.jpg", 1, 1.0) for i in range(3))
    assert main(["library", "stats", "--json", "--library", str(tmp_path / "lib")]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["queued"] == 3 and stats["photos"] == 0 and stats["failed"] == 0
