"""Work off the GUI thread, as the controller sees it: `run_task(func, on_done, on_error)`.

`func()` runs somewhere (a thread pool in the window, at once in tests and scripts) and its
result or exception comes back through the callbacks on the caller's thread (Picard's
run_task). The Qt runner lives in desktop_app/ui/workers.py; this module imports no Qt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

BACKGROUND = -1  # run_task priority of long work (tagging, loading the model): the runner's
# low-priority threads

Callback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class TaskRunner(Protocol):
    def run_task(self, func: Callable[[], Any], on_done: Callback | None = None,
                 on_error: ErrorCallback | None = None, priority: int = 0) -> None: ...


def report(exc: BaseException, on_error: ErrorCallback | None) -> None:
    """Hand `exc` to `on_error`, or log it when nobody asked."""
    if on_error is not None:
        on_error(exc)
    else:
        log.error("background task failed", exc_info=(type(exc), exc, exc.__traceback__))


class SyncRunner:
    """Runs each task at once in the calling thread (tests, scripts)."""

    def run_task(self, func, on_done=None, on_error=None, priority: int = 0) -> None:
        try:
            result = func()
        except Exception as exc:  # noqa: BLE001 - reported to the caller like the thread runner
            report(exc, on_error)
            return
        if on_done is not None:
            on_done(result)

    def wait(self, msecs: int = -1) -> bool:
        return True
