"""Work off the GUI thread: a task runner and the tagging job.

- `run_task(func, on_done, on_error)`: runs `func()` somewhere and calls back *on the GUI
  thread* with its result or exception (Picard's run_task). `ThreadRunner` uses a
  QThreadPool; `SyncRunner` runs at once, in the caller's thread, so tests are deterministic.
- `TaggingJob`: a QObject whose `run()` tags a list of photos through the Pipeline, checking
  `cancel()` between photos, and reports through signals (started / tagging / result /
  progress / failed / finished). Its signals are emitted from the worker thread; the job lives
  in the GUI thread, so Qt queues them there.
- Pure helpers (`eta_text`, `batch_marks`) are unit-tested without Qt threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..errors import HashlensError

log = logging.getLogger(__name__)

Callback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class TaskRunner(Protocol):
    def run_task(self, func: Callable[[], Any], on_done: Callback | None = None,
                 on_error: ErrorCallback | None = None, priority: int = 0) -> None: ...


def _report(exc: BaseException, on_error: ErrorCallback | None) -> None:
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
            _report(exc, on_error)
            return
        if on_done is not None:
            on_done(result)

    def wait(self, msecs: int = -1) -> bool:
        return True


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, func, relay: _Relay):
        super().__init__()
        self.func, self.relay = func, relay

    def run(self) -> None:
        try:
            result = self.func()
        except Exception as exc:  # noqa: BLE001
            self.relay.failed.emit(exc)
            return
        self.relay.done.emit(result)


class ThreadRunner(QObject):
    """Runs tasks in a QThreadPool; callbacks arrive on the GUI thread (queued signals)."""

    def __init__(self, max_threads: int = 3, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._live: set[_Relay] = set()  # relays must outlive their task

    def run_task(self, func, on_done=None, on_error=None, priority: int = 0) -> None:
        """Higher `priority` runs first among queued tasks (the photo the user clicked)."""
        relay = _Relay()  # created here, so it lives in the GUI thread

        def done(result, relay=relay):
            self._live.discard(relay)
            if on_done is not None:
                on_done(result)

        def failed(exc, relay=relay):
            self._live.discard(relay)
            _report(exc, on_error)

        relay.done.connect(done)
        relay.failed.connect(failed)
        self._live.add(relay)
        self.pool.start(_Task(func, relay), priority)

    def wait(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)


# -- pure helpers -----------------------------------------------------------------------------
def eta_text(done: int, total: int, elapsed_s: float) -> str:
    """'12 / 40 · about 1 min left' (no ETA before the first photo is done)."""
    text = f"{done} / {total}"
    if 0 < done < total and elapsed_s > 0:
        left = (total - done) * elapsed_s / done
        if left < 60:
            text += f" · about {max(1, round(left))} s left"
        elif left < 3600:
            text += f" · about {round(left / 60)} min left"
        else:
            text += f" · about {left / 3600:.1f} h left"
    return text


def batch_marks(total: int, batch_size: int) -> list[tuple[int, int]]:
    """The (start, end) of each batch the pipeline captions together."""
    bs = max(1, batch_size)
    return [(i, min(total, i + bs)) for i in range(0, total, bs)]


# -- model loading ----------------------------------------------------------------------------
@dataclass
class ModelInfo:
    version: str
    device: str  # "LiteRT 2.3.0 · CPU, 2 threads", "TensorFlow 2.21.0 · GPU (NVIDIA ...)"


def device_summary(captioner=None) -> str:
    """Which runtime and device run the model ("LiteRT 2.3.0 · CPU, 2 threads")."""
    return str(getattr(captioner, "device", "") or "CPU")


def load_model(pipeline) -> ModelInfo:
    """Load the captioner and warm up the tagging path (~1 s); run it in a worker. Raises what
    loading the model raises."""
    pipeline.warm_up()
    cap = pipeline.captioner
    return ModelInfo(str(getattr(cap, "version", "")), device_summary(cap))


# -- the tagging job --------------------------------------------------------------------------
class TaggingJob(QObject):
    started = Signal(int)  # total photos
    tagging = Signal(list)  # paths (str) now being captioned
    result = Signal(object)  # PhotoResult
    progress = Signal(int, int, str)  # done, total, "12 / 40 · about 1 min left"
    failed = Signal(str)  # the whole job stopped (model missing, ...): a message for the user
    finished = Signal(bool)  # cancelled?

    def __init__(self, pipeline, files: list[Path], parent: QObject | None = None):
        super().__init__(parent)
        self.pipeline = pipeline
        self.files = [Path(f) for f in files]
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        """Tag every photo (call it in a worker). Never raises: failures become signals."""
        total = len(self.files)
        marks = batch_marks(total, getattr(self.pipeline.options, "batch_size", 16))
        starts = {s: e for s, e in marks}
        self.started.emit(total)
        t0 = time.perf_counter()
        done = 0
        try:
            if marks:
                self.tagging.emit([str(p) for p in self.files[: marks[0][1]]])
            results = self.pipeline.tag_paths(self.files, should_cancel=self._cancel.is_set)
            try:
                for res in results:
                    self.result.emit(res)
                    done += 1
                    self.progress.emit(done, total, eta_text(done, total, time.perf_counter() - t0))
                    if self._cancel.is_set():
                        break
                    if done in starts:
                        self.tagging.emit([str(p) for p in self.files[done : starts[done]]])
            finally:
                results.close()
        except HashlensError as exc:  # model missing, library locked: the message says it all
            log.warning("tagging stopped: %s", exc)
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown in the window, never a crash
            log.exception("tagging stopped")
            self.failed.emit(str(exc) or type(exc).__name__)
        self.finished.emit(self._cancel.is_set())
