"""Live watching in the GUI: a QObject bridge between the WatchService thread and the window.

The service calls back on its own thread; the bridge re-emits those callbacks as Qt signals,
which Qt queues to the GUI thread, where photos tagged in the background are added to the batch
as ready (never captioned again by the window). The service starts once the model is ready
(in production the window loads it in a worker; two threads must not load it at once) and is
restarted when the watched folders or the watch options change.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from ..errors import HashlensError
from ..watch.service import WatchOptions, WatchResult, WatchService

log = logging.getLogger(__name__)


def watch_options(settings) -> WatchOptions:
    return WatchOptions(
        auto_approve=settings.auto_approve / 100.0 if settings.auto_approve > 0 else None,
        write_xmp=bool(settings.write_xmp),
        sidecar_name=settings.sidecar_name,
    )


class WatchBridge(QObject):
    resultReady = Signal(object)  # WatchResult, from the service thread
    noticeReady = Signal(str)

    def __init__(self, window, observer_factory=None):
        super().__init__(window)
        self.window = window
        self.observer_factory = observer_factory
        self.service: WatchService | None = None
        self.enabled = False  # set by the window's start(): tests of other parts never watch
        self._wanted: tuple[tuple[str, ...], WatchOptions] | None = None
        self._timer = QTimer(self, interval=300)
        self._timer.timeout.connect(self._start_when_ready)
        self.resultReady.connect(self._on_result)
        self.noticeReady.connect(self._on_notice)

    # -- control (GUI thread) --------------------------------------------------------------
    def enable(self, settings) -> None:
        self.enabled = True
        self.apply(settings)

    def apply(self, settings) -> None:
        """Watch settings.watched_folders with the settings' options (none: stop watching)."""
        if not self.enabled:
            return
        wanted = (tuple(settings.watched_folders), watch_options(settings))
        if self.service is not None and self._wanted == wanted:
            return
        self.stop()
        self._wanted = wanted
        if wanted[0]:
            self._start_when_ready()

    def _start_when_ready(self) -> None:
        if self._wanted is None or not self._wanted[0]:
            self._timer.stop()
            return
        state = getattr(self.window, "model_state", "ready")
        if state == "loading":
            self._timer.start()  # try again shortly
            return
        self._timer.stop()
        if state == "failed":
            return  # the window already says why nothing can be captioned
        folders, options = self._wanted
        try:
            self.service = WatchService(self.window.pipeline, folders,
                                        on_result=self.resultReady.emit,
                                        on_notice=self.noticeReady.emit,
                                        options=options, observer_factory=self.observer_factory)
        except HashlensError as exc:
            self.window.show_error(f"<b>Watched folders are not watched:</b> {exc}", "warning")
            return
        self.service.start()

    def stop(self) -> None:
        self._timer.stop()
        svc, self.service = self.service, None
        if svc is not None:
            svc.stop()

    # -- results (GUI thread) --------------------------------------------------------------
    def _on_result(self, wr: WatchResult) -> None:
        w = self.window
        name = Path(wr.path).name
        if wr.status != "tagged" or wr.result is None:
            if wr.status == "failed":
                w.notify(f"Could not tag {name} from a watched folder: {wr.error}", 8000)
            return
        w.review.watched(wr.result)
        w.notify(f"Tagged {name} from a watched folder.")

    def _on_notice(self, text: str) -> None:
        if "gone" in text or "cannot" in text or "stopped" in text:
            self.window.show_error(text, "warning")
        else:
            self.window.notify(text, 6000)
