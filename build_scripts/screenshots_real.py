"""The desktop app with the REAL model, as a user would drive it, rendered to PNGs.

    xvfb-run -a -s "-screen 0 1600x1000x24" nice -n 19 python build_scripts/screenshots_real.py \
        [--out DIR] [--docs docs/screenshots] [--cancel-test] [MORE_PHOTOS ...]

The real window, the real Pipeline (the bundle in model_assets/captioner/, on LiteRT) and a
thread-pool runner, with a throw-away library and settings in a temporary folder. It adds the
three shipped samples (resources/samples/*.jpg), waits for tagging with a deadline, selects a
photo, clicks a caption word so its attention shows, and saves PNGs to --out.

Phase 1 uses only the shipped samples; with --docs its two shots (a confident photo and an
unsure one) also go there, for committing. Phase 2 adds MORE_PHOTOS (e.g. Flickr8k photos,
which must not be committed: their shots only go to --out, named "more-*").

It also reports what a user would feel: whether TensorFlow was imported before the window
showed, how long the model took to load, what the status bar said, the ETA texts, and the
longest stall of the GUI thread (a 20 ms heartbeat timer). --cancel-test cancels phase 2
after its first result and checks that the rest stay queued and resume.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLES = ROOT / "resources" / "samples"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos", nargs="*", help="more photos for phase 2 (never committed)")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "hashlens-real-shots"))
    ap.add_argument("--docs", help="also save the samples-only shots here (e.g. docs/screenshots)")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=800)
    ap.add_argument("--deadline", type=float, default=900.0, help="seconds for each wait")
    ap.add_argument("--cancel-test", action="store_true")
    ap.add_argument("--theme", default="light")
    ap.add_argument("--library", help="start from a copy of this library folder (a user's history)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hashlens-real-"))
    os.environ["HASHLENS_HOME"] = str(work / "home")
    if args.library:  # a copy: the shots never write to the real library
        shutil.copytree(args.library, work / "home", ignore=shutil.ignore_patterns("*.bak"))
    os.environ["HASHLENS_THEME"] = args.theme

    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.pipeline import Pipeline, TagOptions
    from desktop_app.ui.app import apply_theme
    from desktop_app.ui.grid import Status
    from desktop_app.ui.settings import SettingsStore
    from desktop_app.ui.thumbnails import ThumbnailCache
    from desktop_app.ui.window import MainWindow
    from desktop_app.ui.workers import ThreadRunner

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("hashlens-shots")
    apply_theme(args.theme)
    report: list[str] = []

    def say(text: str) -> None:
        report.append(text)
        print(text, file=sys.stderr, flush=True)

    # The GUI thread's heartbeat: the longest gap between 20 ms ticks is the worst stall.
    beat = QElapsedTimer()
    stalls: list[tuple[int, str]] = []  # (ms, phase) of every gap over 150 ms
    phase = {"name": "start"}

    def tick() -> None:
        gap = beat.restart()
        if gap > 150:
            stalls.append((gap, phase["name"]))

    heart = QTimer(interval=20)
    heart.timeout.connect(tick)

    def wait_until(cond, what: str, deadline: float | None = None) -> bool:
        end = time.monotonic() + (deadline or args.deadline)
        while time.monotonic() < end:
            app.processEvents()
            if cond():
                return True
            time.sleep(0.01)
        say(f"TIMEOUT waiting for {what}")
        return False

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def snap(win, name: str, *dirs: Path) -> None:
        """Save the window (the script's own grab and quantising do not count as stalls)."""
        settle(0.2)
        heart.stop()
        for d in (out, *dirs):
            path = d / f"{name}.png"
            win.grab().save(str(path))
            im = Image.open(path).convert("RGB")
            im.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
            say(f"saved {path} ({path.stat().st_size // 1024} KB)")
        beat.restart()
        heart.start()

    def busy(win) -> bool:
        return win.job is not None or any(it.status in (Status.QUEUED, Status.TAGGING) for it in win.model.items)

    pipe = Pipeline(library_dir=work / "home", options=TagOptions())  # the app's defaults
    store = SettingsStore(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    runner = ThreadRunner()
    win = MainWindow(pipe, runner, store, ThumbnailCache(work / "thumbs"))
    win.resize(args.width, args.height)
    t0 = time.monotonic()
    win.show()
    say(f"window shown; tensorflow imported before: {'tensorflow' in sys.modules}")
    beat.start()
    heart.start()
    phase["name"] = "model loading"
    QTimer.singleShot(0, win.start)
    settle(0.5)
    say(f"status bar while loading: {win.device_label.text()!r}")
    snap(win, "real-00-loading")

    # Phase 1: the shipped samples, added while the model may still be loading.
    samples = sorted(SAMPLES.glob("*.jpg"))
    win.add_paths(samples)
    wait_until(lambda: len(win.model.items) == len(samples), "the samples in the grid", 60)
    if win.model_state == "loading":
        say(f"while the model loads: {win.progress_label.text()!r}")
        snap(win, "real-01-waiting-for-model")
    wait_until(lambda: win.model_state in ("ready", "failed"), "the model")
    say(f"model {win.model_state} after {time.monotonic() - t0:.1f} s; status bar: {win.device_label.text()!r}"
        f" tooltip: {win.device_label.toolTip()!r}")
    if win.model_state == "failed":
        snap(win, "real-error")
        return 1
    phase["name"] = "tagging samples"
    etas: list[str] = []
    t1 = time.monotonic()
    wait_until(lambda: (etas.append(win.progress_label.text()) or True) and not busy(win), "sample tagging")
    say(f"samples tagged in {time.monotonic() - t1:.1f} s; progress texts: {sorted(set(e for e in etas if e))}")
    phase["name"] = "browsing"
    for it in win.model.items:
        cap = it.result.caption if it.result and it.result.caption else None
        if cap:
            low = [f"{cap.tokens[i]} {cap.token_probs[i]:.2f}" for i in cap.unsure_indices()]
            say(f"  {it.path.name}: {cap.caption!r} confidence {cap.confidence:.3f}; unsure: {low}; "
                f"tags: {' '.join(h.tag + '/' + h.source for h in it.result.hashtags[:8])}")
        else:
            say(f"  {it.path.name}: {it.status} {it.error}")

    def show(name: str, word: str | None = None) -> None:
        row = win.model.row_of(next(it.path for it in win.model.items if it.path.name == name))
        win.grid.select_row(row)
        wait_until(lambda: win.detail.canvas.photo is not None, f"the photo {name}", 60)
        toks = win.detail.tokens()
        if toks:
            probs = win.current_item().result.caption.token_probs  # the surest real word
            i = toks.index(word) if word in toks else max(range(len(toks)),
                                                          key=lambda k: (len(toks[k]) > 3, probs[k]))
            win.detail.caption.linkActivated.emit(f"#w{i}")  # what a click on the word does
        say(f"  detail hint: {win.detail.hint.text()!r}")
        d = win.detail
        say(f"  {name}: {d.confidence.text()!r}; note shown: {d.note.isVisible()}; unsure words: "
            f"{[toks[i] for i in sorted(d.unsure())]}")
        for r in range(min(3, len(d.chips.chips))):  # what hovering the first chips would say
            tip = html.unescape(re.sub(r"<[^>]+>", " ", d.chips.tip(r)))
            say(f"  chip {r + 1}: {' '.join(tip.split())}")

    docs = [Path(args.docs)] if args.docs else []
    by_conf = sorted((it for it in win.model.items if it.result and it.result.caption),
                     key=lambda it: it.result.caption.confidence)
    if by_conf:
        show(by_conf[-1].path.name)
        snap(win, "08-real-photo", *docs)
        show(by_conf[0].path.name)
        snap(win, "09-real-unsure", *docs)

    # Phase 2: more photos (never committed).
    more = [Path(p) for p in args.photos]
    if more:
        phase["name"] = "tagging more"
        win.add_paths(more)
        wait_until(lambda: win.job is not None, "the second job", 60)
        if args.cancel_test:
            wait_until(lambda: win.progress_bar.value() >= 1, "a first result")
            snap(win, "more-tagging")
            say(f"  progress while tagging: {win.progress_label.text()!r}")
            win.cancel_button.click()
            say(f"  after Cancel: {win.progress_label.text()!r}")
            tc = time.monotonic()
            wait_until(lambda: win.job is None, "the cancel")
            queued = sum(1 for it in win.model.items if it.status == Status.QUEUED)
            say(f"  cancelled in {time.monotonic() - tc:.1f} s; {queued} queued; status: "
                f"{win.status_line.full!r}")
            snap(win, "more-cancelled")
            win.resume()
        t2 = time.monotonic()
        wait_until(lambda: (etas.append(win.progress_label.text()) or True) and not busy(win), "more tagging")
        say(f"more tagged in {time.monotonic() - t2:.1f} s; status: {win.status_line.full!r}")
        phase["name"] = "browsing more"
        for it in win.model.items:
            if it.path in more or it.path.resolve() in [m.resolve() for m in more]:
                cap = it.result.caption if it.result and it.result.caption else None
                if cap:
                    say(f"  {it.path.name}: {cap.caption!r} confidence {cap.confidence:.3f}")
        for i, p in enumerate(more[:4]):
            show(p.name)
            snap(win, f"more-{i + 1}")
        say(f"progress texts seen: {sorted(set(e for e in etas if e))}")

    heart.stop()
    worst = sorted(stalls, reverse=True)[:8]
    say(f"GUI-thread stalls over 150 ms: {len(stalls)}; longest: {worst}")
    (out / "report.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    win.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
