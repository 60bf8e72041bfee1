from __future__ import annotations

import os

import pytest

from desktop_app.watch.filters import is_candidate_name, is_candidate_path
from desktop_app.watch.settle import Settler


@pytest.mark.parametrize("name", ["IMG_0001.JPG", "photo.jpeg", "a.heic", "x.png", "scan.tiff"])
def test_photos_are_candidates(name):
    assert is_candidate_name(name)


@pytest.mark.parametrize("name", [
    "notes.txt", "photo.jpg.part", "photo.jpg.crdownload", "~$photo.jpg", ".hidden.jpg",
    "photo.jpg.xmp", "photo.jpg.xmp.tmp", "photo.jpg~", "movie.mp4", "photo.jpg.tmp", "jpg", "",
])
def test_junk_is_ignored(name):
    assert not is_candidate_name(name)


def test_paths_below_hidden_or_system_folders_are_ignored():
    root = os.path.abspath("/data/.camera")  # a root may itself be hidden: the user chose it
    assert is_candidate_path(f"{root}/2024/a.jpg", (root,))
    assert not is_candidate_path(f"{root}/.thumbnails/a.jpg", (root,))
    assert not is_candidate_path(f"{root}/@eaDir/a.jpg", (root,))
    assert not is_candidate_path("/elsewhere/a.jpg", (root,))


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_settles_after_quiet_period_and_restarts_on_change():
    mono, wall = Clock(), Clock()
    s = Settler(quiet_s=1.0, trust_old_s=10.0, clock=mono, wall=wall)
    assert s.wait_s("a", 100, 999.5) == 1.0  # first sight: wait the whole period
    mono.t += 0.6
    assert s.wait_s("a", 100, 999.5) == pytest.approx(0.4)
    mono.t += 0.3
    assert s.wait_s("a", 200, 1000.5) == 1.0  # it grew: start again
    mono.t += 1.0
    assert s.wait_s("a", 200, 1000.5) == 0.0


def test_old_files_are_settled_at_once_but_empty_ones_are_not():
    mono, wall = Clock(), Clock()
    s = Settler(quiet_s=1.0, trust_old_s=10.0, clock=mono, wall=wall)
    assert s.wait_s("old", 100, wall.t - 60) == 0.0
    assert s.wait_s("empty", 0, wall.t - 60) == 1.0
    assert len(s) == 1


def test_memory_is_bounded():
    s = Settler(quiet_s=1.0, clock=Clock(), wall=Clock(), max_tracked=10)
    for i in range(100):
        s.wait_s(str(i), 1, 1000.0)
    assert len(s) == 10
