"""The GUI bridge: photos tagged by the watch service appear in the window's batch as ready."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from desktop_app.ui.grid import Status  # noqa: E402
from tests.ui.fakes import make_photos  # noqa: E402

from .conftest import tiny_jpeg  # noqa: E402


@pytest.fixture
def settings_store(tmp_path):
    from PySide6.QtCore import QSettings

    from desktop_app.ui.settings import SettingsStore

    return SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def test_settings_keep_the_watch_options(settings_store):
    from desktop_app.ui.settings import AppSettings

    settings_store.save(AppSettings(watched_folders=["/x"], auto_approve=150, write_xmp=True))
    s = settings_store.load()
    assert (s.watched_folders, s.auto_approve, s.write_xmp) == (["/x"], 100, True)


def test_watched_photos_appear_in_the_window(qtbot, tmp_path, pipeline, settings_store, library):
    from dataclasses import replace

    from desktop_app.ui.settings import AppSettings
    from desktop_app.ui.thumbnails import ThumbnailCache
    from desktop_app.ui.window import MainWindow
    from desktop_app.ui.workers import SyncRunner

    folder = tmp_path / "camera"
    [first] = make_photos(folder, n=1)
    settings_store.save(AppSettings(watched_folders=[str(folder)], auto_approve=1))
    win = MainWindow(pipeline, SyncRunner(), settings_store, ThumbnailCache(tmp_path / "thumbs"))
    qtbot.addWidget(win)
    win.start()  # loads the (fake) model, then starts watching

    def ready(path) -> bool:
        row = win.model.row_of(path)
        return row >= 0 and win.model.items[row].status in (Status.READY, Status.APPROVED)

    qtbot.waitUntil(lambda: ready(first), timeout=10_000)
    it = win.model.items[win.model.row_of(first)]
    assert it.caption == "a teddy bear sitting on a wooden bench"
    assert it.status == Status.APPROVED and it.decisions  # auto-approved above 1 %
    later = folder / "later.jpg"
    tiny_jpeg(later, 9)
    qtbot.waitUntil(lambda: ready(later), timeout=10_000)
    # turning watching off in Settings stops the service
    win.apply_settings(replace(win.settings, watched_folders=[]))
    assert win.watching.service is None
    win.close()
