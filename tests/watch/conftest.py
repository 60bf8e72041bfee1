"""Fixtures for the watcher tests: a temporary library, a fake captioner, a service factory."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from desktop_app.pipeline import Pipeline
from desktop_app.watch.service import WatchOptions, WatchService
from tests.ui.fakes import FakeCaptioner

FAST = dict(quiet_s=0.2, trust_old_s=10.0, retry_delay_s=0.05, check_s=0.1, rescan_s=0.5)


def wait_until(cond, timeout: float = 10.0, step: float = 0.02) -> bool:
    """Poll `cond` until it is true or the deadline passes (no fixed sleeps in tests)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def tiny_jpeg(path, seed: int) -> bytes:
    """An 8x8 JPEG whose content differs per seed; returns its bytes."""
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, quality=95)
    return path.read_bytes()


class Recorder:
    def __init__(self):
        self.results = []
        self.notices: list[str] = []
        self._lock = threading.Lock()

    def result(self, wr) -> None:
        with self._lock:
            self.results.append(wr)

    def notice(self, text: str) -> None:
        with self._lock:
            self.notices.append(text)

    def by_status(self, status: str) -> list:
        with self._lock:
            return [r for r in self.results if r.status == status]

    def paths(self, status: str) -> list[str]:
        return [r.path for r in self.by_status(status)]


@pytest.fixture
def captioner():
    return FakeCaptioner()


@pytest.fixture
def pipeline(library, captioner):
    return Pipeline(captioner=captioner, library=library)


@pytest.fixture
def make_service(pipeline):
    started: list[WatchService] = []

    def make(folders, recorder: Recorder | None = None, pipe=None, **opts) -> WatchService:
        rec = recorder or Recorder()
        svc = WatchService(pipe or pipeline, folders, on_result=rec.result, on_notice=rec.notice,
                           options=WatchOptions(**{**FAST, **opts}))
        svc.recorder = rec
        started.append(svc)
        return svc

    yield make
    for svc in started:
        svc.stop(10)
