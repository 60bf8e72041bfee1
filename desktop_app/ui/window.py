"""The main window: photo grid + detail, library view, drag & drop, progress, errors."""

from __future__ import annotations

import html
import logging
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..errors import HashlensError
from ..export.csv_txt import ExportRow, to_csv, to_txt
from ..export.instagram import KEEP_STATES, instagram_text
from ..export.xmp import write_sidecars
from ..imaging import IMAGE_SUFFIXES, iter_image_files
from ..pipeline import Pipeline
from ..results import MAX_HASHTAGS
from .detail import DetailPanel, edited_caption, load_display_image
from .grid import PhotoGrid, PhotoGridModel, PhotoItem, Status, fit_thumbnail
from .library_view import LibraryView
from .settings import AppSettings, SettingsDialog, SettingsStore
from .thumbnails import ThumbnailCache
from .watching import WatchBridge
from .workers import ModelInfo, SyncRunner, TaggingJob, TaskRunner, load_model

log = logging.getLogger(__name__)

PAGE_EMPTY, PAGE_PHOTOS, PAGE_LIBRARY = 0, 1, 2
BANNER_COLOURS = {"error": ("#ffebe9", "#82071e"), "warning": ("#fff8c5", "#6c4a00"),
                  "info": ("#ddf4ff", "#0a3069")}


class Banner(QFrame):
    """A dismissible message across the top of the window (errors never become dialogs)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(text="✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 6, 6, 6)
        lay.addWidget(self.label, 1)
        lay.addWidget(close)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        bg, fg = BANNER_COLOURS.get(kind, BANNER_COLOURS["info"])
        self.kind = kind
        self.setStyleSheet(f"Banner {{ background: {bg}; border-bottom: 1px solid {fg}; }}"
                           f" QLabel {{ color: {fg}; }} QToolButton {{ color: {fg}; }}")
        self.label.setText(text)
        self.show()


class EmptyState(QWidget):
    def __init__(self, on_open_files, on_open_folder, parent=None):
        super().__init__(parent)
        title = QLabel("Drop photos or folders here")
        f = title.font()
        f.setPointSizeF(f.pointSizeF() * 2.0)
        f.setBold(True)
        title.setFont(f)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(
            "hashlens writes a caption for each photo, suggests Instagram hashtags from it, "
            "and shows where the model looked for each word.<br>"
            "Approve ✓ or reject ✕ the hashtags and it learns which ones you like.<br><br>"
            "Or use <b>File › Open photos…</b> (Ctrl+O). Everything stays on this computer.")
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setMinimumWidth(520)
        text.setMaximumWidth(560)
        b1, b2 = QPushButton("Open photos…"), QPushButton("Open folder…")
        b1.clicked.connect(on_open_files)
        b2.clicked.connect(on_open_folder)
        b1.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(b1)
        buttons.addWidget(b2)
        buttons.addStretch()
        frame = QFrame()
        frame.setObjectName("dropZone")
        frame.setStyleSheet("#dropZone { border: 2px dashed palette(mid); border-radius: 16px; }")
        fl = QVBoxLayout(frame)
        fl.setContentsMargins(48, 48, 48, 48)
        arrow = QLabel("↓", alignment=Qt.AlignmentFlag.AlignCenter)
        arrow.setStyleSheet("font-size: 56px; color: palette(mid)")
        fl.addWidget(arrow)
        fl.addWidget(title)
        fl.addSpacing(8)
        fl.addWidget(text, 0, Qt.AlignmentFlag.AlignHCenter)
        fl.addSpacing(16)
        fl.addLayout(buttons)
        lay = QVBoxLayout(self)
        lay.addStretch()
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(frame)
        row.addStretch()
        lay.addLayout(row)
        lay.addStretch()


class MainWindow(QMainWindow):
    def __init__(
        self,
        pipeline: Pipeline,
        runner: TaskRunner | None = None,
        settings_store: SettingsStore | None = None,
        thumbnails: ThumbnailCache | None = None,
    ):
        super().__init__()
        self.pipeline = pipeline
        self.runner = runner or SyncRunner()
        self.store = settings_store
        self.settings = settings_store.load() if settings_store else AppSettings()
        self._apply_options(self.settings)
        self.thumbs = thumbnails or ThumbnailCache()
        self.job: TaggingJob | None = None
        self._held: set[Path] = set()  # queued photos of a cancelled job: wait for "Resume"
        self._display: OrderedDict[Path, object] = OrderedDict()  # small LRU of display images
        self._learned = 0  # decisions recorded in this window: photos ranked before are stale
        self.model_state = "idle"  # idle | loading | ready | failed
        self.model_error: str | None = None

        self.setWindowTitle("hashlens")
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.model = PhotoGridModel(self)
        self.grid = PhotoGrid(self.model)
        self.grid.currentRowChanged.connect(self._show_row)
        self.detail = DetailPanel(known_tags=self._known_tags)
        self.detail.decide.connect(self.decide)
        self.detail.addTag.connect(self.add_tag)
        self.detail.orderChanged.connect(self._order_changed)
        self.detail.captionEdited.connect(self.edit_caption)
        self.detail.copyRequested.connect(self.copy_for_instagram)
        self.detail.exportRequested.connect(self.export_dialog)
        split = QSplitter()
        split.addWidget(self.grid)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([420, 860])
        self.library_view = LibraryView(normalize=self._normalize)
        self.library_view.changed.connect(self._rules_changed)

        self.pages = QStackedWidget()
        self.pages.addWidget(EmptyState(self.open_files, self.open_folder))
        self.pages.addWidget(split)
        self.pages.addWidget(self.library_view)
        self.banner = Banner()
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.banner)
        cl.addWidget(self.pages, 1)
        self.setCentralWidget(central)

        self._build_status_bar()
        self._build_actions()
        self._update_page()
        self.watching = WatchBridge(self)  # live watched folders: started by start()

    # -- construction --------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        for w in (self.progress_label, self.progress, self.cancel_button):
            sb.addPermanentWidget(w)
            w.hide()
        self.device_label = QLabel("Model: not loaded")
        sb.addPermanentWidget(self.device_label)

    def _action(self, menu, text, slot, shortcut=None, tip=None) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        def triggered(_checked: bool = False) -> None:  # returns None whatever slot returns
            slot()

        a.triggered.connect(triggered)
        menu.addAction(a)
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        self._action(m, "&Open photos…", self.open_files, QKeySequence.StandardKey.Open)
        self._action(m, "Open &folder…", self.open_folder, "Ctrl+Shift+O")
        self._action(m, "Tag &watched folders", self.tag_watched_folders)
        m.addSeparator()
        self._action(m, "&Export approved hashtags…", self.export_dialog, "Ctrl+E")
        m.addSeparator()
        self._action(m, "&Settings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        m = mb.addMenu("&Photo")
        self.copy_action = self._action(m, "&Copy for Instagram", self.copy_for_instagram,
                                        QKeySequence.StandardKey.Copy)
        self._action(m, "&Approve focused hashtag", lambda: self.decide_focused("approve"), "A")
        self._action(m, "&Reject focused hashtag", lambda: self.decide_focused("reject"), "R")
        self._action(m, "Remove from &batch", self.remove_selected, QKeySequence.StandardKey.Delete)
        m.addSeparator()
        self._action(m, "Re&sume tagging", self.resume, "Ctrl+T")
        self._action(m, "Retry &failed photos", self.retry_failed)
        self._action(m, "Cancel tagging", self.cancel)
        self._action(m, "Clear batch", self.clear_batch)

        m = mb.addMenu("&View")
        group = QActionGroup(self)
        self.view_photos = self._action(m, "&Photos", lambda: self.show_page("photos"), "Ctrl+1")
        self.view_library = self._action(m, "&Library", lambda: self.show_page("library"), "Ctrl+2")
        for a in (self.view_photos, self.view_library):
            a.setCheckable(True)
            group.addAction(a)
        self.view_photos.setChecked(True)
        tb = self.addToolBar("View")
        tb.setMovable(False)
        tb.addAction(self.view_photos)
        tb.addAction(self.view_library)

        m = mb.addMenu("&Help")
        self._action(m, "Open the library folder", self._open_library_folder)

    # -- start-up ------------------------------------------------------------------------
    def start(self) -> None:
        """Open the library and load the model in workers (the window is already shown)."""
        self.runner.run_task(lambda: self.pipeline.library, self._library_opened, self._library_failed)
        self.load_model()
        self.watching.enable(self.settings)

    def load_model(self) -> None:
        self.model_state = "loading"
        self.device_label.setText("Model: loading…")
        self.runner.run_task(lambda: load_model(self.pipeline), self._model_loaded, self._model_failed)

    def _model_loaded(self, info: ModelInfo) -> None:
        self.model_state, self.model_error = "ready", None
        self.device_label.setText(f"Model ready · {info.device}")
        tip = f"The captioning model ({info.version or 'unnamed'}) runs on {info.device}."
        if info.device.startswith("LiteRT"):
            tip += (" LiteRT is TensorFlow's on-device runtime: it runs the model on this computer's "
                    "processor, no GPU needed, with the same captions as TensorFlow.")
        self.device_label.setToolTip(tip)
        if self.banner.kind == "model":
            self.banner.hide()
        self._start_next_job()

    def _model_failed(self, exc: BaseException) -> None:
        self.model_state, self.model_error = "failed", str(exc) or type(exc).__name__
        self.device_label.setText("Model: missing")
        self.device_label.setToolTip(self.model_error)
        for w in (self.progress_label, self.progress, self.cancel_button):
            w.hide()
        self.show_error(f"<b>The captioning model could not be loaded.</b> {self.model_error}<br>"
                        "Photos cannot be captioned until a model is installed in model_assets/captioner/.")
        self.banner.kind = "model"
        self._fail_queued(f"not captioned: {self.model_error}")

    def _library_opened(self, lib) -> None:
        # The library page fills itself when shown (show_page): no queries for a hidden page.
        if self.pages.currentIndex() == PAGE_LIBRARY:
            self.library_view.set_library(lib)
        if lib is None and self.pipeline.library_warning:
            self.show_error(f"<b>The tag library is unavailable</b>, so suggestions are not "
                            f"personalised and decisions are not saved: {self.pipeline.library_warning}",
                            "warning")
        if lib is None:
            return
        if lib.note:  # e.g. opened read-only: nothing will be recorded
            self.show_error(f"<b>Your decisions are not saved:</b> {html.escape(lib.note)}", "warning")
        # SQLite's check of the file, started in the background when the library opened.
        self.runner.run_task(lib.verify, self._library_verified,
                             lambda exc: log.warning("library check not run: %s", exc))

    def _library_verified(self, found) -> None:
        if not found.ok:
            self.show_error(f"<b>The tag library is damaged.</b> {html.escape(found.message())}")

    def _library_failed(self, exc: BaseException) -> None:
        self.show_error(f"<b>The tag library could not be opened:</b> {exc}", "warning")

    # -- messages ------------------------------------------------------------------------
    def show_error(self, text: str, kind: str = "error") -> None:
        self.banner.show_message(text, kind)

    def notify(self, text: str, ms: int = 4000) -> None:
        self.statusBar().showMessage(text, ms)

    # -- adding photos -------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    def open_files(self) -> None:
        pattern = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        files, _ = QFileDialog.getOpenFileNames(self, "Open photos", "", f"Photos ({pattern});;All files (*)")
        if files:
            self.add_paths(files)

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos")
        if folder:
            self.add_paths([folder])

    def tag_watched_folders(self) -> None:
        folders = [f for f in self.settings.watched_folders if Path(f).is_dir()]
        if not folders:
            self.notify("No watched folders: add some in Settings.")
            return
        self.add_paths(folders)

    def add_paths(self, paths) -> None:
        """Add photos and folders (walked in a worker) to the batch and tag them."""
        paths = [str(p) for p in paths]
        self.notify("Looking for photos…")
        self.runner.run_task(lambda: list(iter_image_files(paths)), self._enqueue,
                             lambda exc: self.show_error(f"Cannot read the dropped files: {exc}"))

    def _enqueue(self, files: list[Path]) -> None:
        if not files:
            self.notify("No photos found there (JPEG, PNG, HEIC, WebP, TIFF, GIF, BMP).", 6000)
            return
        rows = self.model.add_paths(files)
        if not rows:
            self.notify("Those photos are already in the batch.")
            return
        self.notify(f"Added {len(rows)} photo{'s' if len(rows) != 1 else ''}.")
        self._update_page()
        self.show_page("photos")
        if self.grid.current_row() < 0:
            self.grid.select_row(rows[0])
        self._start_next_job()
        for row in rows:
            self._request_thumbnail(self.model.items[row].path)

    def _request_thumbnail(self, path: Path) -> None:
        def done(img, path=path):
            row = self.model.row_of(path)
            if row >= 0:
                self.model.items[row].thumb = img
                self.model.changed(row)

        def failed(_exc, path=path):
            row = self.model.row_of(path)
            if row >= 0:
                self.model.items[row].thumb_failed = True
                self.model.changed(row)

        self.runner.run_task(lambda: fit_thumbnail(self.thumbs.load_qimage(path)), done, failed)

    # -- tagging -------------------------------------------------------------------------
    def _start_next_job(self) -> None:
        if self.job is not None:
            return
        files = [it.path for it in self.model.items if it.status == Status.QUEUED and it.path not in self._held]
        if self.model_state == "loading":  # the job starts when it is loaded: say why nothing moves
            if files:
                self.progress.setRange(0, 0)  # busy
                self.progress_label.setText(f"Loading the model… ({len(files)} photo{'s' if len(files) != 1 else ''}"
                                            " waiting)")
                self.progress_label.show()
                self.progress.show()
            return
        if not files:
            return
        if self.model_state == "failed":  # keep the model's message; Photo › Resume retries
            self._fail_queued(f"not captioned: {self.model_error}")
            return
        job = TaggingJob(self.pipeline, files, self)
        job.tagging.connect(self._on_tagging)
        job.result.connect(self._on_result)
        job.progress.connect(self._on_progress)
        job.failed.connect(self._on_job_failed)
        job.finished.connect(self._on_job_finished)
        self.job = job
        self.progress.setRange(0, len(files))
        self.progress.setValue(0)
        self.progress_label.setText(f"Tagging 0 / {len(files)}")
        for w in (self.progress_label, self.progress, self.cancel_button):
            w.show()
        self.runner.run_task(job.run)

    def _set_status(self, path, status: Status, error: str | None = None) -> PhotoItem | None:
        row = self.model.row_of(path)
        if row < 0:
            return None
        it = self.model.items[row]
        it.status = status
        if error is not None:
            it.error = error
        self.model.changed(row)
        if it is self.detail.item:
            self.detail.show_item(it)
        return it

    def _on_tagging(self, paths: list) -> None:
        for p in paths:
            row = self.model.row_of(p)
            if row >= 0 and self.model.items[row].status == Status.QUEUED:
                # Ranked from now on: a decision made while its batch is tagged may be missed
                # (and the photo ranked again when shown), one made before it cannot.
                self.model.items[row].ranked_at = self._learned
                self._set_status(p, Status.TAGGING)

    def _on_result(self, res) -> None:
        row = self.model.row_of(res.path)
        if row < 0:  # removed from the batch meanwhile
            return
        it = self.model.items[row]
        it.result = res
        if res.ok:
            it.error = None
            it.caption = res.caption.caption if res.caption else None
            it.edited = False
            it.decisions = self._decisions(res.content_hash)
            it.status = Status.APPROVED if it.kept() else Status.READY
        else:
            it.status, it.error = Status.ERROR, res.error
        self.model.changed(row)
        if row == self.grid.current_row():
            self.detail.show_item(it)
            if not res.ok:
                self.detail.set_photo(it.path, None, res.error)

    def _on_progress(self, done: int, total: int, text: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress_label.setText(f"Tagging {text}")

    def _on_job_failed(self, message: str) -> None:
        self.show_error(f"<b>Tagging stopped:</b> {message}")
        if self.job is not None:
            for p in self.job.files:
                row = self.model.row_of(p)
                if row >= 0 and self.model.items[row].status in (Status.QUEUED, Status.TAGGING):
                    self._set_status(p, Status.ERROR, f"not captioned: {message}")

    def _on_job_finished(self, cancelled: bool) -> None:
        job, self.job = self.job, None
        for w in (self.progress_label, self.progress, self.cancel_button):
            w.hide()
        if job is not None:
            for p in job.files:
                row = self.model.row_of(p)
                if row >= 0 and self.model.items[row].status == Status.TAGGING:
                    self._set_status(p, Status.QUEUED)
                if cancelled and row >= 0 and self.model.items[row].status == Status.QUEUED:
                    self._held.add(self.model.items[row].path)
        if cancelled:
            left = self.model.count(Status.QUEUED)
            self.notify(f"Cancelled; {left} photo(s) left queued (Photo › Resume tagging).", 8000)
        elif job is not None:
            failed = sum(1 for p in job.files if (it := self.model.item(self.model.row_of(p)))
                         and it.status == Status.ERROR)
            self.notify(f"Done; {failed} of {len(job.files)} photo(s) could not be tagged."
                        if failed else f"Done; {len(job.files)} photo(s) tagged.", 6000)
        self._start_next_job()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.progress_label.setText("Cancelling…")

    def resume(self) -> None:
        self._held.clear()
        if self.model_state == "failed":
            self.load_model()
        self._start_next_job()

    def retry_failed(self) -> None:
        for row, it in enumerate(self.model.items):
            if it.status == Status.ERROR:
                it.result = None
                it.status, it.error = Status.QUEUED, None
                self.model.changed(row)
        self.resume()

    def _fail_queued(self, message: str) -> None:
        for p in [it.path for it in self.model.items if it.status == Status.QUEUED]:
            self._set_status(p, Status.ERROR, message)

    # -- the batch -----------------------------------------------------------------------
    def _update_page(self) -> None:
        if self.pages.currentIndex() != PAGE_LIBRARY:
            self.pages.setCurrentIndex(PAGE_PHOTOS if self.model.items else PAGE_EMPTY)

    def show_page(self, name: str) -> None:
        if name == "library":
            self.pages.setCurrentIndex(PAGE_LIBRARY)
            self.view_library.setChecked(True)
            self.library_view.set_library(self.pipeline.library)
        else:
            self.pages.setCurrentIndex(PAGE_PHOTOS if self.model.items else PAGE_EMPTY)
            self.view_photos.setChecked(True)

    def current_item(self) -> PhotoItem | None:
        return self.model.item(self.grid.current_row())

    def _show_row(self, row: int) -> None:
        it = self.model.item(row)
        cached = self._display.get(it.path) if it else None
        self.detail.show_item(it, cached)
        if it is not None:
            self._rerank_if_learned(it)
        if it is None or cached is not None:
            return

        def done(img, path=it.path):
            self._display[path] = img
            while len(self._display) > 8:
                self._display.popitem(last=False)
            self.detail.set_photo(path, img)

        self.runner.run_task(lambda p=it.path: load_display_image(p), done,
                             lambda exc, path=it.path: self.detail.set_photo(path, None, str(exc)),
                             priority=10)

    def remove_selected(self) -> None:
        """Take the selected photos out of the batch (the files stay where they are)."""
        rows = self.grid.selected_rows()
        if not rows:
            return
        nxt = min(rows)
        self.model.remove_rows(rows)
        self._update_page()
        if self.model.items:
            self.grid.select_row(min(nxt, len(self.model.items) - 1))
        else:
            self.detail.show_item(None)
        self.notify(f"Removed {len(rows)} photo(s) from the batch (not from disk).")

    def clear_batch(self) -> None:
        self.cancel()
        self.model.remove_rows(range(len(self.model.items)))
        self.detail.show_item(None)
        self._update_page()

    # -- decisions -----------------------------------------------------------------------
    def _normalize(self, text: str) -> str | None:
        from ..tagging import normalize_tag

        return normalize_tag(text, style=self.pipeline.options.style)

    def _known_tags(self, prefix: str, limit: int) -> list[str]:
        lib = self.pipeline.library
        return lib.known_tags(prefix, limit) if lib is not None else []

    def _decisions(self, digest: str) -> dict[str, str]:
        lib = self.pipeline.library
        if lib is None or not digest:
            return {}
        try:
            return lib.decisions_for(digest)
        except HashlensError as exc:
            self.show_error(f"Cannot read the tag library: {exc}", "warning")
            return {}

    def _rerank_if_learned(self, it: PhotoItem) -> None:
        """Learning is online: a photo ranked before the user's latest decisions (e.g. the rest
        of a batch dropped at once) is ranked again, in the background, when it is shown. Not
        once the user has decided on it or reordered its chips: their order is theirs."""
        res = it.result
        if (res is None or not res.ok or res.caption is None or it.ranked_at >= self._learned
                or it.decisions or it.order or self.pipeline.library is None):
            return
        it.ranked_at = self._learned  # (asked once, however often the photo is clicked)

        def done(tags, it=it, res=res):
            if it.result is not res or it.decisions or it.order:
                return  # changed meanwhile (re-tagged, edited, decided on)
            if [h.tag for h in tags] == [h.tag for h in res.hashtags]:
                return
            it.result = replace(res, hashtags=list(tags))
            if it is self.detail.item:
                self.detail.show_item(it)

        self.runner.run_task(lambda: self.pipeline.suggest(res), done,
                             lambda exc: log.warning("re-ranking %s failed: %s", it.path, exc),
                             priority=10)  # ahead of a big batch's thumbnails, like the photo

    def _record(self, it: PhotoItem, **decisions) -> bool:
        if self.pipeline.library is None:
            self.show_error("<b>Decisions are not saved:</b> "
                            + (self.pipeline.library_warning or "the tag library is not open"), "warning")
            return False
        try:
            self.pipeline.decide(it.result.content_hash, path=str(it.path), **decisions)
        except HashlensError as exc:
            self.show_error(f"<b>Could not save the decision:</b> {exc}", "warning")
            return False
        self._learned += 1
        it.decisions = self._decisions(it.result.content_hash)
        it.status = Status.APPROVED if it.kept() else Status.READY
        self.model.changed(self.model.row_of(it.path))
        if it is self.detail.item:
            self.detail.set_states(it.decisions)
        return True

    def decide(self, tag: str, action: str) -> None:
        """approve / reject / remove one hashtag of the current photo."""
        it = self.current_item()
        if it is None or it.result is None or not it.result.ok:
            return
        key = {"approve": "approve", "reject": "reject", "remove": "remove"}[action]
        if key == "approve" and it.decisions.get(tag) in KEEP_STATES:
            return
        if self._record(it, **{key: [tag]}) and action != "remove":
            self.detail.chips.focus_next_undecided(tag)

    def decide_focused(self, action: str) -> None:
        tag = self.detail.chips.focused_tag()
        if tag:
            self.decide(tag, action)

    def add_tag(self, text: str) -> None:
        it = self.current_item()
        if it is None or it.result is None or not it.result.ok:
            return
        tag = self._normalize(text)
        if tag is None:
            self.notify(f"{text!r} is not a valid hashtag (letters, digits and _ only).", 6000)
            return
        if tag not in it.order:
            it.order = self.detail.chips.tags() + [tag]
        state = "approve" if any(h.tag == tag for h in it.result.hashtags) else "add"
        if self._record(it, **{state: [tag]}):
            self.detail.show_item(it)

    def _order_changed(self, tags: list) -> None:
        it = self.current_item()
        if it is not None:
            it.order = list(tags)

    def edit_caption(self, text: str) -> None:
        it = self.current_item()
        if it is None or it.result is None or it.result.caption is None:
            return
        res = replace(it.result, caption=edited_caption(it.result.caption, text))
        it.caption = res.caption.caption
        it.edited = True

        def done(tags, it=it, res=res, learned=self._learned):
            res.hashtags = list(tags)
            it.result = res
            it.ranked_at = learned
            if it is self.detail.item:
                self.detail.show_item(it)

        self.runner.run_task(lambda: self.pipeline.suggest(res, chosen=tuple(it.kept())), done,
                             lambda exc: self.show_error(f"Cannot suggest hashtags for the new caption: {exc}"))

    def _rules_changed(self) -> None:
        self.notify("Rules saved; they apply to the next photos tagged.")

    # -- copy & export -------------------------------------------------------------------
    def instagram_text(self, it: PhotoItem | None = None) -> str:
        it = it or self.current_item()
        if it is None:
            return ""
        return instagram_text(it.kept(), it.caption, self.settings.with_caption)

    def copy_for_instagram(self) -> None:
        it = self.current_item()
        if it is None:
            return
        if not it.kept():
            self.notify("No approved hashtags yet: approve some with ✓ or A first.", 6000)
            return
        text = self.instagram_text(it)
        QGuiApplication.clipboard().setText(text)
        n = min(MAX_HASHTAGS, len(it.kept()))
        self.notify(f"Copied {n} hashtag{'s' if n != 1 else ''} for Instagram.")

    def export_rows(self) -> list[ExportRow]:
        return [ExportRow(str(it.path), it.caption, it.kept()) for it in self.model.items if it.kept()]

    def export_to(self, target: str, fmt: str) -> tuple[list[Path], list[str]]:
        """Write the batch's approved hashtags -> (files written, problems). xmp writes one
        sidecar per photo and goes on past a photo whose sidecar cannot be written (read-only,
        not an XMP file, ...): each becomes a problem naming the photo."""
        rows = self.export_rows()
        if fmt == "xmp":
            written, problems = write_sidecars(rows, self.settings.with_caption,
                                               self.settings.sidecar_name)
            return written, [f"{Path(photo).name}: {why}" for photo, why in problems]
        text = to_csv(rows) if fmt == "csv" else to_txt(rows, self.settings.with_caption)
        Path(target).write_text(text, encoding="utf-8", newline="" if fmt == "csv" else None)
        return [Path(target)], []

    def export_dialog(self) -> None:
        if not self.export_rows():
            self.notify("Nothing to export: no photo has approved hashtags yet.", 6000)
            return
        filters = {"Text (*.txt)": "txt", "CSV spreadsheet (*.csv)": "csv",
                   "XMP sidecars next to the photos (*.xmp)": "xmp"}
        target, chosen = QFileDialog.getSaveFileName(self, "Export approved hashtags", "hashtags.txt",
                                                     ";;".join(filters))
        if not target:
            return
        fmt = filters.get(chosen, "txt")
        try:
            written, problems = self.export_to(target, fmt)
        except (OSError, ValueError) as exc:
            self.show_error(f"<b>Export failed:</b> {exc}")
            return
        if fmt == "xmp":
            done = f"Wrote {len(written)} XMP sidecar{'' if len(written) == 1 else 's'}."
            if problems:
                listed = "<br>".join(html.escape(p) for p in problems[:10])
                more = f"<br>… and {len(problems) - 10} more" if len(problems) > 10 else ""
                self.show_error(f"<b>{done} {len(problems)} could not be written</b> (left as they "
                                f"were):<br>{listed}{more}")
            else:
                self.notify(done)
            return
        self.notify(f"Exported to {written[0]}")

    # -- settings ------------------------------------------------------------------------
    def _apply_options(self, s: AppSettings) -> None:
        o = self.pipeline.options
        o.style, o.top_k, o.beam = s.style, s.top_k, s.beam

    def apply_settings(self, s: AppSettings) -> None:
        old, self.settings = self.settings, s.validated()
        self._apply_options(self.settings)
        if self.store is not None:
            self.store.save(self.settings)
        if self.settings.theme != old.theme:
            from .app import apply_theme

            apply_theme(self.settings.theme)
        if self.settings.library_dir != old.library_dir:
            self.watching.stop()  # it holds the library being closed; restarted below
            self.pipeline.close()
            self.pipeline.library_dir = self.settings.library_dir or None
            self.pipeline.library_warning = None
            self.runner.run_task(lambda: self.pipeline.library, self._library_opened, self._library_failed)
        self.watching.apply(self.settings)

    def open_settings(self) -> None:
        dlg = SettingsDialog(self.settings, self)
        if dlg.exec():
            self.apply_settings(dlg.value())

    def _open_library_folder(self) -> None:
        lib = self.pipeline.library
        if lib is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(lib.path).parent)))

    # -- closing -------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        """Cancel tagging and let running tasks end (a model load cannot be interrupted)."""
        if self.job is not None:
            self.job.cancel()
        self.hide()
        self.watching.stop()
        wait = getattr(self.runner, "wait", None)
        if wait is not None:
            wait(15000)
        self.pipeline.close()
        super().closeEvent(event)
