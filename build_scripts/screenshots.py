"""Render the desktop app's main states to PNGs (for the docs and for eyeballing the UI).

    xvfb-run -a -s "-screen 0 1600x1000x24" python build_scripts/screenshots.py [OUT_DIR] [--size WxH]

At 1440x900 and 1024x640 (docs/screenshots/<W>x<H>/): the empty window with recent folders,
tagging in progress, a word's attention as a heat map, thirty approved tags with the post
preview, a hashtag's detector box outlined (dark theme, hand-made detections), the library
view, and the "model missing" error. At each size it prints whether every approved chip and
the whole post preview are visible without scrolling. Uses a demo captioner with hand-placed
attention over the shipped sample photos (neither TensorFlow nor a trained model), and a
throw-away library, settings and session: the user's folders are never touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (caption, {word index: (x, y, spread)}) for each sample; x, y are fractions of the photo.
DEMO = {
    "astronaut.jpg": ("a woman in an orange space suit standing next to a rocket",
                      {1: (0.45, 0.22, 0.8), 4: (0.42, 0.72, 1.4), 5: (0.4, 0.7, 1.6), 6: (0.4, 0.75, 1.3),
                       7: (0.45, 0.5, 2.0), 10: (0.75, 0.3, 1.2)}),
    "coffee.jpg": ("a cup of coffee on a red saucer with a spoon",
                   {1: (0.48, 0.35, 1.0), 3: (0.48, 0.3, 0.8), 6: (0.38, 0.7, 1.3), 7: (0.45, 0.75, 1.5),
                    10: (0.68, 0.58, 0.8)}),
    "chelsea.jpg": ("a close up of a cat with green eyes",
                    {1: (0.5, 0.5, 2.5), 2: (0.5, 0.5, 2.5), 5: (0.55, 0.45, 1.6), 7: (0.55, 0.4, 1.2),
                     8: (0.55, 0.4, 1.3)}),
}


def bump(x: float, y: float, spread: float, grid=(7, 7)) -> np.ndarray:
    h, w = grid
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = y * h - 0.5, x * w - 0.5
    g = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * spread**2))
    return (g / g.sum()).ravel()


class DemoCaptioner:
    """Recognises the sample photos by colour and returns a canned caption and attention."""

    version = "demo"
    input_size = 224
    device = "GPU (demo)"

    def __init__(self, samples: dict[str, Path]):
        from desktop_app.imaging import load_for_model

        self.keys = {name: load_for_model(p, 224)[0].reshape(-1, 3).mean(0) for name, p in samples.items()}

    def caption_batch(self, images, beam=3):
        from desktop_app.results import CaptionResult

        out = []
        for img in images:
            sig = np.asarray(img).reshape(-1, 3).mean(0)
            name = min(self.keys, key=lambda k: float(np.linalg.norm(self.keys[k] - sig)))
            text, spots = DEMO[name]
            tokens = tuple(text.split())
            rows = [bump(*spots[i]) if i in spots else 0.7 * bump(0.5, 0.5, 3.0) + 0.3 / 49 for i in range(len(tokens))]
            rng = np.random.default_rng(len(name))
            out.append(CaptionResult(text, tokens, tuple(0.95 - 0.03 * i for i in range(len(tokens))),
                                     np.asarray(rows, np.float32), (7, 7), -4.2,
                                     # 64-d, not the encoder's 1024: the tag detector must not read noise
                                     embedding=rng.normal(size=64).astype(np.float32) + sig.mean() / 50,
                                     model_version="demo"))
        return out


def make_batch(folder: Path) -> list[Path]:
    """The three samples plus a few crops and flips (for a fuller grid), and a broken file."""
    src = ROOT / "resources" / "samples"
    folder.mkdir(parents=True)
    paths = []
    for name in DEMO:
        shutil.copy(src / name, folder / name)
        paths.append(folder / name)
    extra = [("chelsea.jpg", "cat_crop.jpg", lambda im: im.crop((60, 20, 400, 280))),
             ("coffee.jpg", "espresso.jpg", ImageOps.mirror),
             ("astronaut.jpg", "portrait.jpg", lambda im: im.crop((40, 0, 400, 360))),
             ("chelsea.jpg", "cat_bw.jpg", lambda im: ImageOps.grayscale(im).convert("RGB")),
             ("coffee.jpg", "coffee_top.jpg", lambda im: im.crop((100, 0, 500, 300)))]
    for base, name, fn in extra:
        fn(Image.open(src / base).convert("RGB")).save(folder / name, quality=90)
        paths.append(folder / name)
    (folder / "IMG_0042.jpg").write_bytes(b"\xff\xd8\xff\xe0 half a download")
    paths.append(folder / "IMG_0042.jpg")
    return paths


SIZES = ((1440, 900), (1024, 640))
THIRTY = ["catsofinstagram", "catlover", "catlife", "kitty", "meow", "instacat", "catstagram",
          "petsofinstagram", "cute", "whiskers", "greeneyes", "furry", "kitten", "pet", "tabby",
          "catoftheday", "cats", "catlovers", "nap", "cozy", "homelife", "indoors", "portrait",
          "closeup", "animal", "petlover", "adorable", "fluffy", "sweet", "love"]


class HoldJobs:
    """Runs everything at once except tagging jobs, which the script feeds by hand."""

    def __init__(self):
        from desktop_app.ui.workers import SyncRunner

        self.sync = SyncRunner()
        self.hold = True
        self.held: list = []

    def run_task(self, func, on_done=None, on_error=None, priority=0):
        from desktop_app.ui.workers import TaggingJob

        if self.hold and isinstance(getattr(func, "__self__", None), TaggingJob):
            self.held.append(func.__self__)
            return
        self.sync.run_task(func, on_done, on_error, priority)

    def wait(self, msecs=-1):
        return True


def layout_report(win) -> list[str]:
    """What a user at this size sees of the post panel: every approved chip and the whole post
    preview inside the window, no scrolling needed?"""
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    d = win.detail
    chips, scroll, preview = d.chips, d.composer.scroll, d.composer.preview
    top_left = preview.mapTo(win, QPoint(0, 0))
    preview_ok = preview.height() >= preview.heightForWidth(preview.width()) and \
        top_left.y() + preview.height() <= win.height()
    bar = scroll.verticalScrollBar()
    kept = [i for i, c in enumerate(chips.chips) if c.state in ("approved", "added")]
    visible = scroll.viewport().rect()
    shown = [i for i in kept if visible.contains(chips.chip_rect(i).translated(0, -bar.value()))]
    return [f"{win.width()}x{win.height()}: {len(kept)} approved chips, {len(shown)} visible without "
            f"scrolling; chip rows {chips.rows()}, scroll range {bar.maximum()} px; post preview "
            f"{'whole' if preview_ok else 'CUT'} ({preview.height()} px, needs "
            f"{preview.heightForWidth(preview.width())})"]


def shoot(size: tuple[int, int], out: Path, full_colour: bool) -> list[str]:
    """The shots at one window size, in a fresh library and session; returns the checks."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from desktop_app.errors import ModelBundleError
    from desktop_app.library.store import TagLibrary
    from desktop_app.pipeline import Pipeline, TagOptions
    from desktop_app.results import Detection
    from desktop_app.session.store import SessionStore
    from desktop_app.ui.app import apply_theme
    from desktop_app.ui.settings import SettingsStore
    from desktop_app.ui.thumbnails import ThumbnailCache
    from desktop_app.ui.window import MainWindow
    from desktop_app.ui.workers import eta_text

    app = QApplication.instance()
    work = Path(tempfile.mkdtemp(prefix="hashlens-shots-"))
    out.mkdir(parents=True, exist_ok=True)
    checks: list[str] = []

    def snap(win, name: str, smooth: bool = False) -> None:
        """smooth: keep 24-bit colour (a heat map in 256 colours shows bands it does not have)."""
        app.processEvents()
        path = out / f"{name}.png"
        win.grab().save(str(path))
        if not (full_colour or smooth):
            im = Image.open(path).convert("RGB")
            im.quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
        print(path)

    batch = make_batch(work / "photos")
    samples = {n: ROOT / "resources" / "samples" / n for n in DEMO}
    lib = TagLibrary.open(work / "home")
    pipe = Pipeline(captioner=DemoCaptioner(samples), library=lib, options=TagOptions(top_k=14, batch_size=3))
    store = SettingsStore(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    session = SessionStore.in_folder(work / "home")
    session.add_recent(str(work / "photos"))
    session.add_recent(str(Path.home() / "Pictures" / "Holidays 2024"))
    runner = HoldJobs()
    thumbs = ThumbnailCache(work / "thumbs")

    def new_window(p=pipe, s=session):
        apply_theme("light")
        w = MainWindow(p, runner, store, thumbs, s)
        w.resize(*size)
        w.show()
        w.size_panes(size[0])
        return w

    # 1. empty, with the recent folders
    win = new_window()
    win.start()
    snap(win, "01-empty")

    # 2. tagging in progress: feed the held job's first results by hand
    win.add_paths([batch[0].parent])
    job = runner.held.pop()
    results = list(pipe.tag_paths(job.files))
    job.tagging.emit([str(p) for p in job.files[:1]])
    for i, res in enumerate(results[:4]):
        job.result.emit(res)
        job.progress.emit(i + 1, len(job.files), eta_text(i + 1, len(job.files), 0.4 * (i + 1)))
    job.tagging.emit([str(p) for p in job.files[4:7]])
    win.grid.select_row(win.model.row_of(batch[2]))  # the cat
    snap(win, "02-tagging")
    for i, res in enumerate(results[4:], start=4):
        job.result.emit(res)
        job.progress.emit(i + 1, len(job.files), "")
    job.finished.emit(False)

    # 3. a photo with a word's attention; some tags approved on each photo first
    for row, it in enumerate(win.review.photos):
        if it.result is None or not it.result.ok:
            continue
        win.grid.select_row(row)
        tags = [h.tag for h in it.result.hashtags]
        for t in [h.tag for h in it.result.hashtags if h.source == "caption"][:3]:
            win.decide(t, "approve")
        if len(tags) > 4:
            win.decide(tags[-1], "reject")
    win.grid.select_row(win.model.row_of(batch[2]))
    win.review.approve_caption(True)
    d = win.detail
    d.select_word(d.tokens().index("eyes"))
    snap(win, "03-attention", smooth=True)

    # 4. thirty approved tags: all of them and the whole post visible
    for t in THIRTY:
        win.add_tag(t)
    d.select_word(None)  # (the plain photo: a 256-colour PNG shows it as it is)
    checks += layout_report(win)
    snap(win, "04-thirty-tags")

    # 5. dark, a hashtag whose detector box is outlined (hand-made detections)
    os.environ["HASHLENS_THEME"] = "dark"
    apply_theme("dark")
    win.grid.select_row(win.model.row_of(batch[1]))
    it = win.current_item()
    it.result.detections = (Detection("object", "cup", 0.93, (0.24, 0.12, 0.74, 0.62)),
                            Detection("object", "spoon", 0.71, (0.55, 0.48, 0.86, 0.7)))
    cup = next((h for h in it.result.hashtags if "cup" in h.tag), it.result.hashtags[0])
    cup.box_indices = (0,)
    win.detail.show_item(it)
    win.detail.show_tag(cup.tag)
    snap(win, "05-boxes-dark", smooth=True)
    os.environ["HASHLENS_THEME"] = "light"
    apply_theme("light")

    # 6. the library view
    lib.block("#close")
    lib.add_synonym("#kitty", "#cat")
    lib.add_always("#shotoniphone")
    win.show_page("library")
    snap(win, "06-library")
    win.close()

    # 7. model missing
    class NoModel(Pipeline):
        @property
        def captioner(self):
            raise ModelBundleError(f"no model bundle at {ROOT / 'model_assets' / 'captioner'} "
                                   "(train one with `hashlens train`, or download the release model)")

    runner.hold = False
    win2 = new_window(NoModel(library=TagLibrary.open(work / "home2")), None)
    win2.start()
    win2.add_paths(batch[:3])
    snap(win2, "07-model-missing")
    win2.close()
    lib.close()
    shutil.rmtree(work, ignore_errors=True)
    return checks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--size", action="append", metavar="WxH",
                    help="window sizes (default: 1440x900 and 1024x640); each gets its own folder")
    ap.add_argument("--full-colour", action="store_true",
                    help="keep 24-bit PNGs (default: 256 colours, about a third of the size)")
    args = ap.parse_args(argv)
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.size] if args.size else list(SIZES)
    home = Path(tempfile.mkdtemp(prefix="hashlens-shots-home-"))
    os.environ["HASHLENS_HOME"] = str(home)  # nothing of the user's is read or written
    for var in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        os.environ[var] = str(home / var.lower())
    os.environ.setdefault("HASHLENS_THEME", "light")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    print(f"platform: {app.platformName()}", file=sys.stderr)
    checks = []
    for w, h in sizes:
        checks += shoot((w, h), Path(args.out) / f"{w}x{h}", args.full_colour)
    for line in checks:
        print(line)
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
