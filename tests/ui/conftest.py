"""Offscreen Qt, a fake captioner, a temporary library, and a window wired synchronously."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from desktop_app.pipeline import Pipeline  # noqa: E402

from .fakes import FakeCaptioner, make_photos  # noqa: E402


@pytest.fixture
def pipeline(library):
    return Pipeline(captioner=FakeCaptioner(), library=library)


@pytest.fixture
def photos(tmp_path):
    return make_photos(tmp_path / "photos", n=2, broken=True)


@pytest.fixture
def settings_store(tmp_path):
    from PySide6.QtCore import QSettings

    from desktop_app.ui.settings import SettingsStore

    return SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def window(qtbot, pipeline, settings_store, tmp_path):
    from desktop_app.ui.thumbnails import ThumbnailCache
    from desktop_app.ui.window import MainWindow
    from desktop_app.ui.workers import SyncRunner

    win = MainWindow(pipeline, SyncRunner(), settings_store, ThumbnailCache(tmp_path / "thumbs"))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win
