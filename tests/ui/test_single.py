"""A second launch hands its photos to the window already open (QLocalServer/QLocalSocket)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from desktop_app.ui.single import InstanceServer, hand_over, server_name

ROOT = Path(__file__).resolve().parents[2]


def test_the_server_is_named_after_the_user_and_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HASHLENS_HOME", str(tmp_path / "one"))
    one = server_name()
    monkeypatch.setenv("HASHLENS_HOME", str(tmp_path / "two"))
    assert server_name() != one and server_name().startswith("hashlens-")


def test_a_second_launch_hands_its_paths_to_the_running_window(qtbot, tmp_path):
    got = []
    name = f"hashlens-test-{tmp_path.name}"
    server = InstanceServer(got.append, name=name)
    assert server.listen()
    try:
        code = ("import sys; from PySide6.QtCore import QCoreApplication; app = QCoreApplication([]); "
                "from desktop_app.ui.single import hand_over; "
                f"sys.exit(0 if hand_over(['/photos/a.jpg', '/photos'], {name!r}) else 3)")
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
        qtbot.waitUntil(lambda: bool(got), timeout=10000)
        assert proc.wait(10) == 0  # it heard "ok": the second launch ends there
        assert got == [["/photos/a.jpg", "/photos"]]
    finally:
        server.close()


def test_with_nobody_listening_the_launch_opens_its_own_window(qapp, tmp_path):
    assert hand_over(["/x.jpg"], name=f"hashlens-nobody-{tmp_path.name}") is False


def test_the_window_adds_handed_over_photos_and_comes_forward(window, photos):
    window.open_from_elsewhere([str(photos[0])])
    assert [p.name for p in window.review.photos] == ["photo0.jpg"]


def test_a_photo_opened_with_the_app_on_macos_reaches_the_window(qtbot):
    """Finder's "Open with" sends a FileOpen event, not an argument."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtGui import QFileOpenEvent

    from desktop_app.ui.single import FileOpenFilter

    got = []
    app = QCoreApplication.instance()
    opened = FileOpenFilter(got.append)
    app.installEventFilter(opened)
    try:
        QCoreApplication.sendEvent(app, QFileOpenEvent("/photos/a.jpg"))
        QCoreApplication.sendEvent(app, QEvent(QEvent.Type.User))  # anything else passes
    finally:
        app.removeEventFilter(opened)
    assert got == [["/photos/a.jpg"]]


def test_a_window_on_another_library_folder_has_its_own_server(monkeypatch, tmp_path):
    """Settings may point the library elsewhere: that window answers only for that folder."""
    monkeypatch.setenv("HASHLENS_HOME", str(tmp_path / "home"))
    assert server_name(str(tmp_path / "other")) != server_name()
    assert server_name(str(tmp_path / "home")) == server_name()
