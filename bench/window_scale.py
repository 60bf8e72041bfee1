"""The real window, offscreen, with a folder of 1,000 photos dropped at once.

    python -m bench.window_scale [--photos 1000] [--folder DIR] [--deadline 900]

Makes N small JPEGs (copies of the shipped samples, resources/samples: scikit-image's
astronaut, cat and coffee, cropped, flipped, tinted and resized to 480-2400 px on the long
side) in a temporary folder unless --folder is given, opens the real MainWindow with the real
Pipeline (the shipped captioner on LiteRT) and a thread-pool runner, a throw-away library,
settings and session, drops the folder on it, and while it tags plays a user: every 300 ms
it approves the next undecided chip of the photo shown, and every third time goes to the next
photo. It prints:

- the GUI thread's longest stall (a 10 ms heartbeat timer; goal < 100 ms) and the five worst,
  with when they happened;
- peak memory (the process's maximum RSS; goal <= 1.5 GB);
- when progress and the ETA first moved, counted from the drop and from the model being ready
  (goal: from the first photo), and how many times the bar moved;
- photos tagged, failed, and the rate.

Exit status 0 when the three goals hold. Nothing of the user's is read or written.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "resources" / "samples"
STALL_GOAL_MS, MEMORY_GOAL_MB = 100.0, 1536.0


def make_photos(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """n different JPEGs made from the samples (varied crops, sizes, flips and tints)."""
    from PIL import Image, ImageEnhance, ImageOps

    rng = random.Random(seed)
    bases = [Image.open(p).convert("RGB") for p in sorted(SAMPLES.glob("*.jpg"))]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        im = bases[i % len(bases)]
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.55, 1.0)), int(h * rng.uniform(0.55, 1.0))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        img = im.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            img = ImageOps.mirror(img)
        img = ImageEnhance.Color(img).enhance(rng.uniform(0.6, 1.4))
        side = rng.randint(480, 2400)
        scale = side / max(img.size)
        img = img.resize((max(16, int(img.width * scale)), max(16, int(img.height * scale))))
        path = folder / f"IMG_{i:04d}.jpg"
        img.save(path, quality=88)
        out.append(path)
    return out


class Heartbeat:
    """How long the GUI thread went without running its event loop (a 10 ms timer)."""

    def __init__(self, t0: float):
        from PySide6.QtCore import QTimer

        self.t0, self.last = t0, time.perf_counter()
        self.gaps: list[tuple[float, float]] = []  # (gap ms, seconds since t0)
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self.beat)
        self.timer.start()

    def beat(self) -> None:
        now = time.perf_counter()
        self.gaps.append((1000 * (now - self.last), now - self.t0))
        self.last = now

    def worst(self, k: int = 5) -> list[tuple[float, float]]:
        return sorted(self.gaps, reverse=True)[:k]


class StallSampler:
    """--why: a thread that samples the GUI thread's stack while the heartbeat is late, so a
    stall names the code that made it."""

    def __init__(self, beat: Heartbeat, late_ms: float = 60.0):
        import collections
        import threading

        self.beat, self.late = beat, late_ms / 1000
        self.main = threading.main_thread().ident
        self.counts: collections.Counter[str] = collections.Counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        import traceback

        while not self.stop.wait(0.02):
            if time.perf_counter() - self.beat.last < self.late:
                continue
            frame = sys._current_frames().get(self.main)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-8:]
            self.counts[" < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                                   for f in reversed(stack))] += 1

    def print(self) -> None:
        self.stop.set()
        for stack, n in self.counts.most_common(8):
            print(f"  stalled x{n}: {stack}")


class GcTimes:
    """How long Python's cyclic garbage collector ran (any thread; it holds the interpreter)."""

    def __init__(self):
        import gc

        self.runs: list[tuple[float, int, float]] = []  # (ms, generation, at)
        self._start = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.runs.append((1000 * (time.perf_counter() - self._start), info["generation"], time.perf_counter()))

    def worst(self) -> str:
        runs = sorted(self.runs, reverse=True)[:3]
        return ", ".join(f"{ms:.0f} ms (generation {g})" for ms, g, _ in runs) or "none"


class User:
    """Approves the next undecided chip every 300 ms; every third time, the next photo."""

    def __init__(self, win):
        from PySide6.QtCore import QTimer

        self.win, self.ticks, self.decisions = win, 0, 0
        self.timer = QTimer(interval=300)
        self.timer.timeout.connect(self.act)
        self.timer.start()

    def act(self) -> None:
        self.ticks += 1
        it = self.win.current_item()
        if it is not None and it.taggable:
            tag = self.win.detail.chips.focused_tag()
            if tag and not self.win.detail.chips.state_of(tag):
                self.win.decide(tag, "approve")
                self.decisions += 1
        if self.ticks % 3 == 0:
            self.win.next_photo()


def run(folder: Path, n_photos: int, deadline: float, why: bool = False) -> dict:
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.pipeline import Pipeline
    from desktop_app.session.photo import Status
    from desktop_app.session.store import SessionStore
    from desktop_app.ui.settings import SettingsStore
    from desktop_app.ui.thumbnails import ThumbnailCache
    from desktop_app.ui.window import MainWindow
    from desktop_app.ui.workers import ThreadRunner

    app = QApplication.instance() or QApplication([sys.argv[0]])
    work = Path(os.environ["HASHLENS_HOME"])
    store = SettingsStore(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(Pipeline(library_dir=work / "library"), ThreadRunner(), store,
                     ThumbnailCache(work / "thumbs"), SessionStore.in_folder(work / "library"))
    win.resize(1440, 900)
    win.show()
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    marks: dict[str, float] = {}
    texts: list[tuple[float, str]] = []
    moves = [0]

    def on_progress(view) -> None:
        now = time.perf_counter() - t0
        if view.visible and not view.busy and view.done >= 1 and "first-progress" not in marks:
            marks["first-progress"] = now
        if "left" in view.text and "first-eta" not in marks:
            marks["first-eta"] = now
            texts.append((now, view.text))
        if view.visible and not view.busy:
            moves[0] += 1

    original = win.progress

    def progress(view) -> None:
        original(view)
        on_progress(view)

    win.progress = progress  # the controller's listener: the window, watched
    beat = Heartbeat(t0)
    gc_times = GcTimes()
    sampler = StallSampler(beat) if why else None
    win.start()
    win.add_paths([str(folder)])
    user = User(win)

    def check() -> None:  # the app's own event loop runs; this only looks, every 100 ms
        if win.review.model_state == "ready" and "model-ready" not in marks:
            marks["model-ready"] = time.perf_counter() - t0
        photos = win.review.photos
        finished = len(photos) >= n_photos and win.job is None and all(
            p.status not in (Status.QUEUED, Status.TAGGING) for p in photos)
        if finished or time.perf_counter() - t0 > deadline:
            app.quit()

    watch = QTimer(interval=100)
    watch.timeout.connect(check)
    watch.start()
    app.exec()
    watch.stop()
    marks["done"] = time.perf_counter() - t0
    user.timer.stop()
    beat.timer.stop()
    if sampler is not None:
        sampler.print()
    photos = win.review.photos
    result = {
        "photos": len(photos), "tagged": sum(1 for p in photos if p.taggable),
        "failed": sum(1 for p in photos if p.status == Status.ERROR), "marks": marks,
        "worst": beat.worst(), "gaps": beat.gaps, "texts": texts, "moves": moves[0], "decisions": user.decisions,
        "beats": len(beat.gaps), "load": (load_before, os.getloadavg()[0]), "gc": gc_times.worst(),
    }
    t_close = time.perf_counter()
    win.close()
    result["close_s"] = time.perf_counter() - t_close
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def report(r: dict, made_s: float | None) -> int:
    m = r["marks"]
    stall = r["worst"][0][0] if r["worst"] else 0.0
    tagging = m["done"] - m.get("model-ready", 0.0)
    print(f"photos: {r['photos']} in the batch, {r['tagged']} tagged, {r['failed']} failed, "
          f"in {m['done']:.1f} s from the drop ({r['tagged'] / max(0.1, tagging):.1f} photos/s after "
          f"the model was ready at {m.get('model-ready', float('nan')):.1f} s)"
          + (f"; photos made in {made_s:.1f} s" if made_s is not None else ""))
    first = m.get("first-progress")
    print(f"progress: first moved {first:.2f} s after the drop"
          f" ({first - m.get('model-ready', 0.0):.2f} s after the model was ready), moved {r['moves']} times;"
          if first is not None else "progress: NEVER moved;", end=" ")
    print(f"first ETA {r['texts'][0][1]!r} at {r['texts'][0][0]:.2f} s" if r["texts"] else "no ETA shown")
    gaps = sorted(g for g, _ in r["gaps"])
    p99 = gaps[int(0.99 * (len(gaps) - 1))] if gaps else 0.0
    print("GUI thread: longest stall {:.0f} ms (goal < {:.0f} ms); worst five: {}; {} of {} heartbeats "
          "over 100 ms, {} over 50 ms, 99th percentile {:.0f} ms".format(
              stall, STALL_GOAL_MS, ", ".join(f"{g:.0f} ms at {t:.1f} s" for g, t in r["worst"]),
              sum(g > 100 for g in gaps), len(gaps), sum(g > 50 for g in gaps), p99))
    print(f"memory: peak RSS {r['peak_rss_mb']:.0f} MB (goal <= {MEMORY_GOAL_MB:.0f} MB); longest garbage "
          f"collections: {r['gc']}")
    print(f"user: {r['decisions']} decisions while tagging; closing (session saved) took {r['close_s']:.2f} s")
    print(f"machine: {os.cpu_count()} cores; load average (1 min) {r['load'][0]:.1f} before, "
          f"{r['load'][1]:.1f} after (this run and anything else the machine ran)")
    ok = stall < STALL_GOAL_MS and r["peak_rss_mb"] <= MEMORY_GOAL_MB and first is not None \
        and first - m.get("model-ready", 0.0) < 5.0 and r["tagged"] + r["failed"] == r["photos"]
    print("goals:", "all met" if ok else "NOT met")
    return 0 if ok else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=1000)
    ap.add_argument("--folder", help="use these photos instead of making them")
    ap.add_argument("--deadline", type=float, default=900.0, help="seconds to wait for the batch")
    ap.add_argument("--why", action="store_true", help="name the code the GUI thread was in when it stalled")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="hashlens-window-bench-"))
    os.environ["HASHLENS_HOME"] = str(work)  # library, settings, session, logs: all here
    for var in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        os.environ[var] = str(work / var.lower())
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    made_s = None
    try:
        if args.folder:
            folder = Path(args.folder)
            n = sum(1 for _ in folder.rglob("*.jpg"))
        else:
            t = time.perf_counter()
            folder = work / "photos"
            n = len(make_photos(folder, args.photos))
            made_s = time.perf_counter() - t
        return report(run(folder, n, args.deadline, args.why), made_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
