"""Task runners and the tagging job."""

from __future__ import annotations

import threading

from desktop_app.pipeline import Pipeline
from desktop_app.session.model import device_summary
from desktop_app.ui.workers import (
    SyncRunner,
    TaggingJob,
    ThreadRunner,
    eta_text,
)

from .fakes import FakeCaptioner, make_photos


def test_eta_text():
    assert eta_text(0, 10, 0.0) == "0 / 10"
    assert eta_text(5, 10, 10.0) == "5 / 10 · about 10 s left"
    assert eta_text(1, 100, 10.0) == "1 / 100 · about 16 min left"
    assert eta_text(10, 10, 3.0) == "10 / 10"


def test_device_summary_prefers_the_captioner_and_never_imports_tensorflow():
    assert device_summary(FakeCaptioner()) == "CPU (fake)"


def test_sync_runner_calls_back_with_result_or_error():
    got, errs = [], []
    r = SyncRunner()
    r.run_task(lambda: 41 + 1, got.append, errs.append)
    r.run_task(lambda: 1 / 0, got.append, errs.append)
    assert got == [42] and isinstance(errs[0], ZeroDivisionError)


def test_thread_runner_calls_back_on_the_gui_thread(qtbot):
    runner = ThreadRunner()
    where, results = [], []
    main = threading.get_ident()

    def work():
        where.append(threading.get_ident())
        return "done"

    runner.run_task(work, lambda r: results.append((r, threading.get_ident())))
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert results == [("done", main)] and where[0] != main
    errors = []
    runner.run_task(lambda: 1 / 0, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert runner.wait(1000)


def test_tagging_job_reports_and_can_be_cancelled(qtbot, tmp_path, library):
    photos = make_photos(tmp_path / "p", 5)
    pipe = Pipeline(captioner=FakeCaptioner(), library=library)
    pipe.options.batch_size = 2
    job = TaggingJob(pipe, photos)
    seen, progress, tagging, finished = [], [], [], []
    def on_result(r) -> None:
        seen.append(r)
        if len(seen) == 2:
            job.cancel()

    job.result.connect(on_result)
    job.progress.connect(lambda d, t, s: progress.append((d, t)))
    job.tagging.connect(tagging.append)
    job.finished.connect(finished.append)
    SyncRunner().run_task(job.run)
    assert len(seen) == 2 and finished == [True]
    assert progress == [(1, 5), (2, 5)]
    # the first photo alone (progress moves at once), then batches of the pipeline's size
    assert tagging == [[str(photos[0])], [str(p) for p in photos[1:3]]]


def test_tagging_job_in_a_thread(qtbot, tmp_path, library):
    photos = make_photos(tmp_path / "p", 3)
    job = TaggingJob(Pipeline(captioner=FakeCaptioner(), library=library), photos)
    seen, finished = [], []
    job.result.connect(seen.append)
    job.finished.connect(finished.append)
    runner = ThreadRunner()
    runner.run_task(job.run)
    qtbot.waitUntil(lambda: bool(finished), timeout=10000)
    assert finished == [False] and [r.path for r in seen] == [str(p) for p in photos]


def test_tagging_job_turns_a_crash_into_a_signal(tmp_path):
    class Broken(FakeCaptioner):
        def caption_batch(self, images, beam=3):
            raise RuntimeError("out of memory")

    job = TaggingJob(Pipeline(captioner=Broken(), use_library=False), make_photos(tmp_path / "p", 1))
    failed, finished = [], []
    job.failed.connect(failed.append)
    job.finished.connect(finished.append)
    job.run()
    assert failed == ["out of memory"] and finished == [False]


def test_many_emits_do_not_exhaust_the_reference_count_of_true():
    """PySide6 6.12.0 loses a reference to True per emit; desktop_app.ui pins True (see there)."""
    import sys

    from PySide6.QtCore import QObject, Signal

    import desktop_app.ui as ui

    class Emitter(QObject):
        s = Signal()

    o = Emitter()
    for _ in range(5000):
        o.s.emit()
    if ui.EMIT_WORKAROUND:
        assert sys.getrefcount(True) > 1 << 39
    else:
        assert sys.getrefcount(True) > 100
