"""What build_scripts/measure_startup.py reads from the app (HASHLENS_REPORT_STARTUP=1).

On stderr, each with the wall-clock time (time.time()):

    window-shown T       the main window is shown and the event loop runs
    first-tags T         the first photo's hashtags are in the window
    max-stall-ms M       the longest the GUI thread did not run its event loop (a 10 ms
                         heartbeat timer), from the window being shown until 3 s after the
                         first tags (or 30 s)

HASHLENS_STARTUP_PHOTOS (paths joined with os.pathsep) are added as if dropped on the window
right after it is shown: the measurement of "first tags on a dropped photo".
"""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QObject, QTimer

REPORT_ENV = "HASHLENS_REPORT_STARTUP"
PHOTOS_ENV = "HASHLENS_STARTUP_PHOTOS"


def _say(what: str) -> None:
    print(what, file=sys.stderr, flush=True)


class StartupReport(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.first_tags: float | None = None
        self.max_gap = 0.0
        self.started = time.monotonic()
        self.last = self.started
        self.timer = QTimer(self)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._beat)

    def start(self) -> None:
        _say(f"window-shown {time.time():.3f}")
        photos = [p for p in os.environ.get(PHOTOS_ENV, "").split(os.pathsep) if p]
        if photos:
            self.window.add_paths(photos)
        self.last = time.monotonic()
        self.timer.start()

    def _beat(self) -> None:
        now = time.monotonic()
        self.max_gap = max(self.max_gap, now - self.last)
        self.last = now
        if self.first_tags is None and any(it.result is not None and it.result.hashtags
                                           for it in self.window.model.items):
            self.first_tags = now
            _say(f"first-tags {time.time():.3f}")
        end = (self.first_tags + 3.0) if self.first_tags is not None else self.started + 30.0
        if now >= end:
            self.timer.stop()
            _say(f"max-stall-ms {1000 * self.max_gap:.0f}")


def report_startup(window) -> None:
    """Start the report if asked for (call once the window is shown)."""
    if os.environ.get(REPORT_ENV):
        report = StartupReport(window)
        QTimer.singleShot(0, report.start)
