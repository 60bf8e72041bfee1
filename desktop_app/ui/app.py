"""`hashlens` without a command: the desktop app.

The window is shown before anything heavy happens: the model loads in a worker after the event
loop has started (LiteRT, ~0.3 s, then a warm-up of the tagging path), and TensorFlow is never
imported.
"""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

THEME_ENV = "HASHLENS_THEME"  # light | dark: overrides the setting (screenshots, testing)


def dark_palette() -> QPalette:
    p = QPalette()
    c = QColor
    roles = {
        QPalette.ColorRole.Window: c(37, 39, 43),
        QPalette.ColorRole.WindowText: c(230, 230, 230),
        QPalette.ColorRole.Base: c(28, 30, 33),
        QPalette.ColorRole.AlternateBase: c(46, 49, 54),
        QPalette.ColorRole.ToolTipBase: c(50, 52, 57),
        QPalette.ColorRole.ToolTipText: c(235, 235, 235),
        QPalette.ColorRole.PlaceholderText: c(150, 153, 160),
        QPalette.ColorRole.Text: c(230, 230, 230),
        QPalette.ColorRole.Button: c(50, 53, 58),
        QPalette.ColorRole.ButtonText: c(230, 230, 230),
        QPalette.ColorRole.BrightText: c(255, 90, 90),
        QPalette.ColorRole.Highlight: c(47, 129, 247),
        QPalette.ColorRole.HighlightedText: c(255, 255, 255),
        QPalette.ColorRole.Link: c(88, 166, 255),
        QPalette.ColorRole.Mid: c(80, 84, 90),
        QPalette.ColorRole.Dark: c(20, 21, 23),
    }
    for role, colour in roles.items():
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, c(120, 120, 120))
    return p


def system_is_dark() -> bool:
    from PySide6.QtCore import Qt

    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else Qt.ColorScheme.Unknown
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    # Unknown (e.g. a bare X server): judge by the default palette's window colour.
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def apply_theme(theme: str = "system") -> str:
    """Fusion style with a light or dark palette; returns the one applied."""
    app = QApplication.instance()
    theme = os.environ.get(THEME_ENV, theme)
    dark = system_is_dark() if theme == "system" else theme == "dark"
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    return "dark" if dark else "light"


def open_session(library_dir: str = ""):
    """The session file beside the tag library (None, logged, when it cannot be opened: the
    window then works without restoring or saving its batch)."""
    import logging

    from ..paths import data_dir
    from ..session.store import SessionError, SessionStore

    try:
        return SessionStore.in_folder(data_dir(library_dir or None))
    except SessionError as exc:
        logging.getLogger(__name__).warning("the batch will not be saved for next time: %s", exc)
        return None


def run_gui(argv: list[str] | None = None, paths: list[str] | None = None) -> int:
    """Open the window (with `paths`: photos and folders to add, `hashlens PATH...`), or hand
    them to the window already open for this user and library and return at once."""
    from ..paths import resources_dir
    from .single import FileOpenFilter, InstanceServer, hand_over, server_name

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("hashlens")
    app.setOrganizationName("hashlens")
    app.setDesktopFileName("hashlens")
    icon = resources_dir() / "desktop" / "hashlens.svg"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    from .settings import SettingsStore

    store = SettingsStore()
    settings = store.load()
    # one window per library folder: the one the settings point at
    name = server_name(settings.library_dir or None)
    if hand_over(list(paths or []), name):
        print("hashlens: handed to the window already open", file=sys.stderr)
        return 0
    from ..pipeline import Pipeline
    from .startup_report import report_startup
    from .window import MainWindow
    from .workers import ThreadRunner

    apply_theme(settings.theme)
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "colorSchemeChanged"):
        def follow_system(*_args) -> None:  # slots return None (PySide and returned bools: see chips)
            apply_theme(store.load().theme)

        hints.colorSchemeChanged.connect(follow_system)
    pipeline = Pipeline(library_dir=settings.library_dir or None)  # the window applies the options
    window = MainWindow(pipeline, ThreadRunner(), store, session=open_session(settings.library_dir))
    server = InstanceServer(window.open_from_elsewhere, name=name, parent=window)
    server.listen()
    opened = FileOpenFilter(window.open_from_elsewhere, parent=window)
    app.installEventFilter(opened)
    window.show()
    QTimer.singleShot(0, window.start)  # model and library load after the window is up
    if paths:
        QTimer.singleShot(0, lambda: window.add_paths(paths))
    report_startup(window)  # build_scripts/measure_startup.py
    code = app.exec()
    server.close()
    return code
