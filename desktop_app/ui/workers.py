"""Work off the GUI thread: the Qt task runner and the tagging job.

- `ThreadRunner.run_task(func, on_done, on_error, priority)`: runs `func()` in a QThreadPool and
  calls back *on the GUI thread* with its result or exception (Picard's run_task). The
  protocol, and `SyncRunner` (at once, in the caller's thread: tests, scripts), are Qt-free in
  desktop_app/session/tasks.py.
- `TaggingJob`: a QObject whose `run()` tags a list of photos through the Pipeline, checking
  `cancel()` between photos, and reports through signals (tagging / result / progress /
  failed / finished). Its signals are emitted from the worker thread; the job lives
  in the GUI thread, so Qt queues them there. The first photo is asked for alone, so progress
  and the ETA move as soon as the model is ready.
- Pure helpers (`eta_text`) are unit-tested without Qt threads.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ..errors import HashlensError
from ..session.model import ModelInfo, load_model
from ..session.review import first_alone
from ..session.tasks import BACKGROUND, SyncRunner
from ..session.tasks import report as _report

log = logging.getLogger(__name__)

# SyncRunner lives in session/tasks.py; tests and scripts that run the window import it from here
__all__ = ["SyncRunner", "TaggingJob", "ThreadRunner", "eta_text", "freeze_long_lived",
           "load_model_quietly"]


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


def lower_this_thread() -> None:
    """Give the calling thread (and the threads it starts: the decoders, LiteRT's) a lower CPU
    priority, so the GUI thread wins the cores and the GIL while a batch is tagged. Linux
    only (a thread's nice value; elsewhere the same call would name a process)."""
    if not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < BACKGROUND_NICE:
            os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICE)
    except OSError:
        pass


BACKGROUND_NICE = 10


class _LowTask(_Task):
    def run(self) -> None:
        lower_this_thread()
        super().run()


class ThreadRunner(QObject):
    """Runs tasks in a QThreadPool; callbacks arrive on the GUI thread (queued signals).
    Tasks with priority BACKGROUND run in a pool of their own, at a lower CPU priority."""

    def __init__(self, max_threads: int = 3, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self.background = QThreadPool(self)
        self.background.setMaxThreadCount(2)  # a tagging job, and the model loading or a watch
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
        if priority == BACKGROUND:
            self.background.start(_LowTask(func, relay))
        else:
            self.pool.start(_Task(func, relay), priority)

    def wait(self, msecs: int = -1) -> bool:
        return self.background.waitForDone(msecs) and self.pool.waitForDone(msecs)


# -- the garbage collector ----------------------------------------------------------------------
def load_model_quietly(pipeline) -> ModelInfo:
    """load_model with Python's cyclic garbage collector paused, then what it loaded frozen out
    of later collections (gc.freeze): loading the captioner and the hashtag code makes so many
    objects that one full collection walked them for ~0.2 s, holding every thread, the GUI
    thread too; afterwards each full collection would walk them again."""
    was = gc.isenabled()
    gc.disable()
    try:
        return load_model(pipeline)
    finally:
        gc.freeze()
        if was:
            gc.enable()


def freeze_long_lived() -> None:
    """A batch is tagged: its results live as long as the batch, so full collections need not
    walk them (gc.freeze; they are freed by reference counting as before, having no cycles)."""
    gc.freeze()


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


# -- the tagging job --------------------------------------------------------------------------
class TaggingJob(QObject):
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
        starts = dict(first_alone(total, getattr(self.pipeline.options, "batch_size", 16)))
        t0 = time.perf_counter()
        done = 0
        try:
            # The first photo alone, then the rest: the pipeline overlaps decoding and
            # captioning within a call, so two calls cost one photo's decoding, no more.
            for start, end in ((0, min(1, total)), (min(1, total), total)):
                if start >= end or self._cancel.is_set():
                    continue
                self.tagging.emit([str(p) for p in self.files[start:starts[start]]])
                results = self.pipeline.tag_paths(self.files[start:end], should_cancel=self._cancel.is_set)
                try:
                    for res in results:
                        self.result.emit(res)
                        done += 1
                        self.progress.emit(done, total, eta_text(done, total, time.perf_counter() - t0))
                        if self._cancel.is_set():
                            break
                        if done in starts and done < end:
                            self.tagging.emit([str(p) for p in self.files[done:starts[done]]])
                finally:
                    results.close()
        except HashlensError as exc:  # model missing, library locked: the message says it all
            log.warning("tagging stopped: %s", exc)
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown in the window, never a crash
            log.exception("tagging stopped")
            self.failed.emit(str(exc) or type(exc).__name__)
        self.finished.emit(self._cancel.is_set())
