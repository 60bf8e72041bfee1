"""The review controller: the batch, each photo's state, decisions, and what the pipeline is asked.

The window shows and forwards; this decides. It knows no widget: what it has to say goes to a
`Listener` (the window, or a recorder in tests), and work goes through a task runner
(`run_task(func, on_done, on_error, priority)`: a thread pool in the window, at once in tests).

- Decisions are recorded off the GUI thread, one at a time and in order (the library's one path,
  `Pipeline.decide`); the chip shows the new state at once and takes the library's answer when
  it comes.
- Learning is online: a photo ranked before the user's latest decisions or rule changes is
  ranked again when it is shown, unless the user has decided on it or reordered its chips.
- The session (batch, results, edits, order, which photo was shown) is saved as it changes
  (`flush`, called every half second and at close) and restored on the next start.
"""

from __future__ import annotations

import html
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ..export.csv_txt import ExportRow
from ..results import PhotoResult
from .model import ModelInfo, load_model
from .persist import SessionKeeping
from .photo import STATE_OF, Photo, Post, Status, chip_tags, edited_caption, plural, post_of
from .store import SessionStore
from .tasks import BACKGROUND, SyncRunner, TaskRunner

log = logging.getLogger(__name__)

RERANK_PRIORITY = 10  # ahead of a big batch's thumbnails, like the photo shown


@dataclass(frozen=True)
class ProgressView:
    """What the status bar's progress shows."""

    visible: bool
    busy: bool = False  # no count yet (the captioner is loading)
    done: int = 0
    total: int = 0
    text: str = ""
    cancellable: bool = False


HIDDEN = ProgressView(False)


class Listener(Protocol):
    """What the controller tells the window (all on the GUI thread)."""

    def photos_added(self, first: int, count: int) -> None: ...
    def batch_reset(self) -> None: ...
    def photo_changed(self, photo: Photo) -> None: ...
    def say(self, text: str, kind: str = "status") -> None: ...  # status | info | warning | error | model
    def model_changed(self, state: str, label: str, tip: str) -> None: ...
    def library_changed(self, library: Any) -> None: ...
    def progress(self, view: ProgressView) -> None: ...
    def tag(self, files: list[Path]) -> None: ...  # start a tagging job on these photos


class QuietListener:
    """Hears everything and does nothing (scripts; tests override what they watch)."""

    def photos_added(self, first: int, count: int) -> None: ...
    def batch_reset(self) -> None: ...
    def photo_changed(self, photo: Photo) -> None: ...
    def say(self, text: str, kind: str = "status") -> None: ...
    def model_changed(self, state: str, label: str, tip: str) -> None: ...
    def library_changed(self, library: Any) -> None: ...
    def progress(self, view: ProgressView) -> None: ...
    def tag(self, files: list[Path]) -> None: ...


def first_alone(count: int, batch_size: int) -> list[tuple[int, int]]:
    """The (start, end) of each batch a job asks the pipeline for: the first photo alone, so the
    progress bar and the ETA move as soon as the model is ready, then full batches."""
    if count <= 0:
        return []
    bs = max(1, batch_size)
    return [(0, 1)] + [(i, min(count, i + bs)) for i in range(1, count, bs)]


class Review(SessionKeeping):
    """The batch under review. `listener` hears about every change; `store` keeps the session."""

    def __init__(self, pipeline, runner: TaskRunner | None = None, store: SessionStore | None = None,
                 listener: Listener | None = None):
        self.pipeline = pipeline
        self.runner = runner or SyncRunner()
        self.store = store
        self.listener: Listener = listener or QuietListener()
        self.photos: list[Photo] = []
        self._rows: dict[Path, int] = {}
        self.current: Photo | None = None
        self.learned = 0  # decisions and rule changes so far: photos ranked before are stale
        self.model_state = "idle"  # idle | loading | ready | failed
        self.model_loader: Callable[[Any], ModelInfo] = load_model  # (the window's pauses the GC)
        self.model_error: str | None = None
        self.library = None  # set once opened (never opened on the GUI thread)
        self.job_files: list[Path] | None = None
        self.held: set[Path] = set()  # queued photos of a cancelled job: wait for "Resume"
        self._decisions: deque[tuple[Photo, dict[str, list[str]]]] = deque()
        self._decisions_to_read: list[Photo] = []
        self._recording = False
        self._dirty: set[Path] = set()
        self._dirty_results: set[Path] = set()
        self._removed: set[Path] = set()
        self._current_dirty = False
        self._store_failed = False
        self._saving = False  # a flush is being written

    # -- the batch ------------------------------------------------------------------------------
    def row_of(self, path) -> int:
        return self._rows.get(Path(path).absolute(), -1)

    def photo(self, row: int) -> Photo | None:
        return self.photos[row] if 0 <= row < len(self.photos) else None

    def count(self, status: Status) -> int:
        return sum(1 for p in self.photos if p.status == status)

    def add(self, files: Iterable) -> list[int]:
        """Append photos not already in the batch (queued for tagging); returns the new rows."""
        new = []
        for f in files:
            key = Path(f).absolute()
            if key not in self._rows:
                self._rows[key] = len(self.photos) + len(new)
                new.append(Photo(key))
        return self._append(new)

    def _append(self, photos: list[Photo]) -> list[int]:
        if not photos:
            return []
        first = len(self.photos)
        self.photos.extend(photos)
        self._rows.update({p.path: first + i for i, p in enumerate(photos)})
        for p in photos:
            self._changed(p, result=True, quiet=True)  # (the listener hears of them at once)
        self.listener.photos_added(first, len(photos))
        return list(range(first, first + len(photos)))

    def added(self, files: list[Path]) -> list[int]:
        """Photos found where the user dropped or opened something: added and tagged."""
        if not files:
            self.listener.say("No photos found there (JPEG, PNG, HEIC, WebP, TIFF, GIF, BMP).")
            return []
        rows = self.add(files)
        if not rows:
            self.listener.say("Those photos are already in the batch.")
            return []
        self.listener.say(f"Added {plural(len(rows), 'photo')}.")
        self.start_tagging()
        return rows

    def remove(self, rows: Iterable[int]) -> int:
        """Take photos out of the batch (the files stay where they are); returns how many."""
        gone = {self.photos[r].path for r in set(rows) if 0 <= r < len(self.photos)}
        if not gone:
            return 0
        self.photos = [p for p in self.photos if p.path not in gone]
        self._rows = {p.path: i for i, p in enumerate(self.photos)}
        self._removed |= gone
        self._dirty -= gone
        self._dirty_results -= gone
        if self.current is not None and self.current.path in gone:
            self.current = None
        self.listener.batch_reset()
        self.listener.say(f"Removed {plural(len(gone), 'photo')} from the batch (not from disk).")
        return len(gone)

    def clear(self) -> None:
        self.photos, self._rows, self.current = [], {}, None
        self.held.clear()
        self._dirty.clear()
        self._dirty_results.clear()
        self._removed.clear()
        self._store(lambda s: s.clear())
        self.listener.batch_reset()

    def select(self, row: int) -> Photo | None:
        """The photo shown now; ranked again first if it is stale."""
        photo = self.photo(row)
        if photo is not self.current:
            self.current = photo
            self._current_dirty = True
        if photo is not None:
            self.rerank_if_stale(photo)
        return photo

    def neighbour(self, step: int) -> int:
        """The row `step` photos from the one shown (clamped to the batch); -1 if empty."""
        if not self.photos:
            return -1
        row = self.row_of(self.current.path) if self.current is not None else -1
        return min(len(self.photos) - 1, max(0, row + step))

    # -- the tag library and the captioner --------------------------------------------------------
    def open_library(self) -> None:
        """Open the library in a worker; decisions and re-ranking wait for it."""
        self.library = None
        self.runner.run_task(lambda: self.pipeline.library, self._library_opened,
                             lambda exc: self.listener.say(
                                 f"<b>The tag library could not be opened:</b> {html.escape(str(exc))}",
                                 "warning"))

    def _library_opened(self, lib) -> None:
        self.library = lib
        self.listener.library_changed(lib)
        if lib is None:
            if self.pipeline.library_warning:
                self.listener.say("<b>The tag library is unavailable</b>, so suggestions are not "
                                  "personalised and decisions are not saved: "
                                  f"{html.escape(self.pipeline.library_warning)}", "warning")
            return
        if lib.note:  # e.g. opened read-only: nothing will be recorded
            self.listener.say(f"<b>Your decisions are not saved:</b> {html.escape(lib.note)}", "warning")
        # SQLite's check of the file, started in the background when the library opened.
        self.runner.run_task(lib.verify, self._library_verified,
                             lambda exc: log.warning("library check not run: %s", exc))
        self.refresh_decisions(self.photos)

    def _library_verified(self, found) -> None:
        if not found.ok:
            self.listener.say(f"<b>The tag library is damaged.</b> {html.escape(found.message())}", "error")

    def switch_library(self, folder: str | None) -> None:
        """Close the library and open the one in `folder` (None: the default place)."""
        self.pipeline.close()
        self.pipeline.library_dir = folder or None
        self.pipeline.library_warning = None
        self.open_library()

    def apply_options(self, style: str, top_k: int, beam: int) -> None:
        o = self.pipeline.options
        o.style, o.top_k, o.beam = style, top_k, beam

    def load_model(self) -> None:
        self.model_state, self.model_error = "loading", None
        self.listener.model_changed("loading", "Captioner: loading…", "The captioning model is loading.")
        self.start_tagging()  # says why nothing moves yet
        self.runner.run_task(lambda: self.model_loader(self.pipeline), self._model_loaded,
                             self._model_failed, priority=BACKGROUND)

    def _model_loaded(self, info: ModelInfo) -> None:
        self.model_state, self.model_error = "ready", None
        self.listener.model_changed("ready", info.label, info.tip)
        self.start_tagging()

    def _model_failed(self, exc: BaseException) -> None:
        self.model_state, self.model_error = "failed", str(exc) or type(exc).__name__
        self.listener.model_changed("failed", "Captioner: missing", self.model_error)
        self.listener.progress(HIDDEN)
        self.listener.say(f"<b>The captioning model could not be loaded.</b> {html.escape(self.model_error)}"
                          "<br>Photos cannot be captioned until a model is installed in "
                          "model_assets/captioner/.", "model")
        self.fail_queued(f"not captioned: {self.model_error}")

    # -- tagging ------------------------------------------------------------------------------------
    def files_to_tag(self) -> list[Path]:
        return [p.path for p in self.photos if p.status == Status.QUEUED and p.path not in self.held]

    def start_tagging(self) -> None:
        """Ask the window for a tagging job on the queued photos, unless one runs."""
        if self.job_files is not None:
            return
        files = self.files_to_tag()
        if self.model_state == "loading":  # the job starts when it is loaded: say why nothing moves
            if files:
                self.listener.progress(ProgressView(True, busy=True, text="Loading the captioner… "
                                                    f"({plural(len(files), 'photo')} waiting)"))
            return
        if not files:
            return
        if self.model_state == "failed":  # keep the model's message; Photo › Resume retries
            self.fail_queued(f"not captioned: {self.model_error}")
            return
        self.job_files = files
        self.listener.progress(ProgressView(True, done=0, total=len(files), cancellable=True,
                                            text=f"Tagging {plural(len(files), 'photo')}…"))
        self.listener.tag(files)

    def tagging(self, paths: Iterable) -> None:
        """These photos are being captioned now."""
        for p in paths:
            photo = self.photo(self.row_of(p))
            if photo is not None and photo.status == Status.QUEUED:
                # Ranked from now on: a decision made while its batch is tagged may be missed
                # (and the photo ranked again when shown), one made before it cannot.
                photo.ranked_at = self.learned
                photo.status = Status.TAGGING
                self._changed(photo)

    def result(self, res: PhotoResult) -> None:
        photo = self.photo(self.row_of(res.path))
        if photo is None:  # removed from the batch meanwhile
            return
        photo.result = res
        if res.ok:
            photo.error = None
            photo.caption = res.caption.caption if res.caption else None
            photo.edited = photo.caption_approved = False
            photo.decisions = {}
            photo.settle_status()
            self._decisions_to_read.append(photo)  # (read in a worker: see job_progress)
        else:
            photo.status, photo.error = Status.ERROR, res.error
        self._changed(photo, result=True)

    def job_progress(self, done: int, total: int, text: str) -> None:
        self.listener.progress(ProgressView(True, done=done, total=total, text=f"Tagging {text}",
                                            cancellable=True))
        self.read_new_decisions()

    def read_new_decisions(self) -> None:
        """Decisions already in the library for photos just tagged (a photo seen before, by
        content), read in a worker: the GUI thread never waits for the library's lock."""
        todo, self._decisions_to_read = self._decisions_to_read, []
        self.refresh_decisions(todo)

    def job_failed(self, message: str) -> None:
        self.listener.say(f"<b>Tagging stopped:</b> {html.escape(message)}", "error")
        for path in self.job_files or ():
            photo = self.photo(self.row_of(path))
            if photo is not None and photo.status in (Status.QUEUED, Status.TAGGING):
                photo.status, photo.error = Status.ERROR, f"not captioned: {message}"
                self._changed(photo)

    def job_finished(self, cancelled: bool) -> None:
        files, self.job_files = self.job_files or [], None
        self.read_new_decisions()
        self.listener.progress(HIDDEN)
        for path in files:
            photo = self.photo(self.row_of(path))
            if photo is None:
                continue
            if photo.status == Status.TAGGING:
                photo.status = Status.QUEUED
                self._changed(photo)
            if cancelled and photo.status == Status.QUEUED:
                self.held.add(photo.path)
        if cancelled:
            left = self.count(Status.QUEUED)
            self.listener.say(f"Cancelled; {plural(left, 'photo')} left queued (Photo › Resume tagging).")
        elif files:
            failed = [p for p in files if (ph := self.photo(self.row_of(p))) and ph.status == Status.ERROR]
            self.listener.say(f"Done; {len(failed)} of {plural(len(files), 'photo')} could not be tagged."
                              if failed else f"Done; {plural(len(files), 'photo')} tagged.")
        self.start_tagging()

    def cancelling(self) -> None:
        if self.job_files is not None:
            self.listener.progress(ProgressView(True, busy=True, text="Cancelling…"))

    def resume(self) -> None:
        self.held.clear()
        if self.model_state == "failed":
            self.load_model()
        self.start_tagging()

    def retry_failed(self) -> None:
        for p in self.photos:
            if p.status == Status.ERROR:
                p.result, p.status, p.error = None, Status.QUEUED, None
                self._changed(p, result=True)
        self.resume()

    def fail_queued(self, message: str) -> None:
        for p in self.photos:
            if p.status == Status.QUEUED:
                p.status, p.error = Status.ERROR, message
                self._changed(p)

    def watched(self, res: PhotoResult) -> None:
        """A photo the folder watcher tagged: into the batch as it is (never captioned again)."""
        row = self.row_of(res.path)
        if row < 0:
            self._append([Photo(Path(res.path).absolute(), status=Status.TAGGING)])
        self.result(res)
        self.read_new_decisions()  # (the watcher may have approved some)

    # -- decisions ------------------------------------------------------------------------------------
    def normalize(self, text: str) -> str | None:
        from ..tagging import normalize_tag

        return normalize_tag(text, style=self.pipeline.options.style)

    def known_tags(self, prefix: str, limit: int) -> list[str]:
        lib = self.library
        return lib.known_tags(prefix, limit) if lib is not None else []

    def _lib(self):
        """The library: the one opened, else the pipeline's (open by the time a photo is tagged:
        tagging opened it in a worker; cheap to open when a restored photo comes first)."""
        if self.library is None:
            self.library = self.pipeline.library
        return self.library

    def decide(self, tag: str, action: str, photo: Photo | None = None) -> bool:
        """approve / reject / remove one hashtag of a photo (the one shown by default)."""
        photo = photo or self.current
        if photo is None or not photo.taggable or action not in ("approve", "reject", "remove"):
            return False
        if action == "approve" and photo.decisions.get(tag) in ("approved", "added"):
            return False
        return self._record(photo, {action: [tag]})

    def add_tag(self, text: str, photo: Photo | None = None) -> str | None:
        """A tag the user typed: approved if suggested, else added; returns it normalised."""
        photo = photo or self.current
        if photo is None or not photo.taggable:
            return None
        tag = self.normalize(text)
        if tag is None:
            self.listener.say(f"{text!r} is not a valid hashtag (letters, digits and _ only).")
            return None
        shown = self.chip_order(photo)
        if tag not in shown:
            photo.order = shown + [tag]
        key = "approve" if any(h.tag == tag for h in photo.result.hashtags) else "add"
        return tag if self._record(photo, {key: [tag]}) else None

    def chip_order(self, photo: Photo) -> list[str]:
        """The chips as shown: the user's order first, then the ranking, then added tags."""
        suggested = [h.tag for h in photo.result.hashtags] if photo.result is not None else []
        return chip_tags(suggested, photo.decisions, photo.order)

    def _record(self, photo: Photo, decisions: dict[str, list[str]]) -> bool:
        if self._lib() is None:
            self.listener.say("<b>Decisions are not saved:</b> "
                              + html.escape(self.pipeline.library_warning or "the tag library is not open"),
                              "warning")
            return False
        for key, tags in decisions.items():
            for t in tags:
                photo.decisions[t] = STATE_OF[key]
        photo.pending += 1
        photo.settle_status()
        self._changed(photo)
        self._decisions.append((photo, decisions))
        self._pump()
        return True

    def _pump(self) -> None:
        """Send the next decision to the library (one at a time, in the order made)."""
        if self._recording or not self._decisions:
            return
        photo, decisions = self._decisions.popleft()
        self._recording = True
        digest, path = photo.digest, str(photo.path)
        self.runner.run_task(lambda: self.pipeline.decide(digest, path=path, **decisions),
                             lambda state: self._recorded(photo, state),
                             lambda exc: self._not_recorded(photo, exc))

    def _recorded(self, photo: Photo, state: dict[str, str]) -> None:
        self._recording = False
        photo.pending -= 1
        self.learned += 1
        if photo.pending == 0:
            photo.decisions = dict(state)
            photo.settle_status()
            self._changed(photo)
        if self.current is not None and self.current is not photo:
            self.rerank_if_stale(self.current)
        self._pump()

    def _not_recorded(self, photo: Photo, exc: BaseException) -> None:
        self._recording = False
        photo.pending -= 1
        self.listener.say(f"<b>Could not save the decision:</b> {html.escape(str(exc))}", "warning")
        self.refresh_decisions([photo])
        self._pump()

    def refresh_decisions(self, photos: Iterable[Photo]) -> None:
        """Read the photos' decisions from the library again (in a worker)."""
        lib = self.library
        todo = [p for p in photos if p.digest]
        if lib is None or not todo:
            return

        def read() -> list[tuple[Photo, dict[str, str]]]:
            return [(p, lib.decisions_for(p.digest)) for p in todo]

        def done(found) -> None:
            for p, state in found:
                if p.pending == 0 and state != p.decisions and self.row_of(p.path) >= 0:
                    p.decisions = state
                    p.settle_status()
                    self._changed(p)

        self.runner.run_task(read, done, lambda exc: log.warning("cannot read decisions: %s", exc))

    def set_order(self, tags: list[str], photo: Photo | None = None) -> None:
        photo = photo or self.current
        if photo is not None and list(tags) != photo.order:
            photo.order = list(tags)
            self._changed(photo, quiet=True)

    def rules_changed(self) -> None:
        """Blocked, synonym or always-add rules changed: photos not decided on rank again."""
        self.learned += 1
        if self.current is not None:
            self.rerank_if_stale(self.current)
        self.listener.say("Rules saved; photos you have not decided on are ranked again when shown.")

    def rerank_if_stale(self, photo: Photo) -> None:
        """Learning is online: a photo ranked before the user's latest decisions (e.g. the rest
        of a batch dropped at once) is ranked again, in the background, when it is shown. Not
        once the user has decided on it or reordered its chips: their order is theirs."""
        res = photo.result
        if (res is None or not photo.taggable or photo.ranked_at >= self.learned or photo.touched()
                or photo.pending or self._lib() is None):
            return
        photo.ranked_at = self.learned  # (asked once, however often the photo is shown)

        def done(tags) -> None:
            if photo.result is not res or photo.touched():
                return  # changed meanwhile (re-tagged, edited, decided on)
            if [h.tag for h in tags] != [h.tag for h in res.hashtags]:
                photo.result = replace(res, hashtags=list(tags))
                self._changed(photo, result=True)

        self.runner.run_task(lambda: self.pipeline.suggest(res), done,
                             lambda exc: log.warning("re-ranking %s failed: %s", photo.path, exc),
                             priority=RERANK_PRIORITY)

    # -- the caption ----------------------------------------------------------------------------------
    def edit_caption(self, text: str, photo: Photo | None = None) -> None:
        """The user wrote a caption: it goes in the post, and the hashtags follow it."""
        photo = photo or self.current
        text = " ".join(text.split())
        if photo is None or not photo.taggable or not text:
            return
        res = replace(photo.result, caption=edited_caption(photo.result.caption, text))
        photo.caption, photo.edited, photo.caption_approved = text, True, True  # as typed
        self._changed(photo)
        learned, chosen = self.learned, tuple(photo.kept())

        def done(tags) -> None:
            photo.result = replace(res, hashtags=list(tags))
            photo.ranked_at = learned
            self._changed(photo, result=True)

        self.runner.run_task(lambda: self.pipeline.suggest(res, chosen=chosen), done,
                             lambda exc: self.listener.say(
                                 f"Cannot suggest hashtags for the new caption: {html.escape(str(exc))}",
                                 "error"))

    def approve_caption(self, on: bool, photo: Photo | None = None) -> None:
        """Put the caption in the post (or take it out)."""
        photo = photo or self.current
        if photo is not None and photo.caption and photo.caption_approved != on:
            photo.caption_approved = on
            self._changed(photo)

    # -- the post and exports ---------------------------------------------------------------------------
    def post(self, photo: Photo | None = None, with_caption: bool = True) -> Post:
        return post_of(photo or self.current, with_caption)

    def export_rows(self) -> list[ExportRow]:
        """Photos with approved tags; a caption only where the user approved or wrote one."""
        return [ExportRow(str(p.path), p.post_caption(), p.kept()) for p in self.photos if p.kept()]
