"""The main window: it shows the review and forwards what the user does.

What happens to the batch, the decisions and the pipeline is decided by the controller
(`desktop_app/session/review.py`, no Qt); the window is its `Listener`: it turns the controller's
news into widgets, and the user's clicks and keys into the controller's calls. Dialogs, the
clipboard, drag and drop, thumbnails and the display images stay here.
"""

from __future__ import annotations

import html
import logging
from collections import OrderedDict
from pathlib import Path

import platformdirs
from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
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

from ..export.csv_txt import to_csv
from ..export.instagram import instagram_posts
from ..export.xmp import write_sidecars
from ..imaging import IMAGE_SUFFIXES, iter_image_files
from ..pipeline import Pipeline
from ..results import MAX_HASHTAGS
from ..session.photo import Photo, plural
from ..session.review import ProgressView, Review
from ..session.store import SessionStore
from ..session.tasks import BACKGROUND, SyncRunner, TaskRunner
from .canvas import make_display
from .detail import DetailPanel, load_display_image
from .grid import CELL, PhotoGrid, PhotoGridModel, fit_thumbnail
from .library_view import LibraryView
from .settings import AppSettings, SettingsDialog, SettingsStore
from .thumbnails import ThumbnailCache
from .watching import WatchBridge
from .widgets import Banner, EmptyState, StatusLine
from .workers import TaggingJob, freeze_long_lived, load_model_quietly

log = logging.getLogger(__name__)

PAGE_EMPTY, PAGE_PHOTOS, PAGE_LIBRARY = 0, 1, 2
FLUSH_MS = 500  # the session is saved this often (when something changed)
DISPLAY_CACHE = 8  # display images kept for going back and forth
FREEZE_EVERY = 32  # tagged photos between gc.freeze() calls (see workers.freeze_long_lived)


def pictures_dir() -> str:
    """Where file dialogs start when no folder was opened before: the platform's Pictures."""
    return platformdirs.user_pictures_dir()


class MainWindow(QMainWindow):
    def __init__(
        self,
        pipeline: Pipeline,
        runner: TaskRunner | None = None,
        settings_store: SettingsStore | None = None,
        thumbnails: ThumbnailCache | None = None,
        session: SessionStore | None = None,
    ):
        super().__init__()
        self.pipeline = pipeline
        self.runner = runner or SyncRunner()
        self.store = settings_store
        self.settings = settings_store.load() if settings_store else AppSettings()
        self.thumbs = thumbnails or ThumbnailCache()
        self.review = Review(pipeline, self.runner, session, listener=self)
        self.review.apply_options(self.settings.style, self.settings.top_k, self.settings.beam)
        self.review.model_loader = load_model_quietly
        self.job: TaggingJob | None = None
        self._display: OrderedDict[Path, object] = OrderedDict()  # small LRU of display images

        self.setWindowTitle("hashlens")
        self.setAcceptDrops(True)
        self.resize(1280, 820)
        self._build_pages()
        self._build_status_bar()
        self._build_actions()
        self._update_page()
        self.watching = WatchBridge(self)  # live watched folders: started by start()
        self._flush = QTimer(self, interval=FLUSH_MS)
        self._flush.timeout.connect(self.review.flush)
        self._flush.start()

    # -- construction --------------------------------------------------------------------
    def _build_pages(self) -> None:
        self.model = PhotoGridModel(self.review, self)
        self.model.thumbWanted.connect(self._request_thumbnail)
        self.grid = PhotoGrid(self.model)
        self.grid.currentRowChanged.connect(self._show_row)
        self.grid.nextRequested.connect(self.next_photo)
        self.detail = DetailPanel(known_tags=self.review.known_tags)
        self.detail.decide.connect(self.decide)
        self.detail.addTag.connect(self.add_tag)
        self.detail.orderChanged.connect(self._order_changed)
        self.detail.captionEdited.connect(self.edit_caption)
        self.detail.copyRequested.connect(self.copy_for_instagram)
        self.detail.exportRequested.connect(self.export_dialog)
        self.detail.captionApproved.connect(self.review.approve_caption)
        self.detail.nextPhoto.connect(self.next_photo)
        self.detail.with_caption = self.settings.with_caption
        self.detail.canvas.runner = self.runner  # heat maps are made off the GUI thread
        self.split = QSplitter()
        self.split.addWidget(self.grid)
        self.split.addWidget(self.detail)
        self.split.setChildrenCollapsible(False)
        self.split.setStretchFactor(0, 0)
        self.split.setStretchFactor(1, 1)
        self._sized = False
        self.library_view = LibraryView(normalize=self.review.normalize)
        self.library_view.changed.connect(self.review.rules_changed)
        self.library_view.runner = self.runner  # what it shows is read off the GUI thread
        self.empty = EmptyState(self.open_files, self.open_folder, lambda f: self.add_paths([f]))
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(self.split)
        self.pages.addWidget(self.library_view)
        self.banner = Banner()
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.banner)
        cl.addWidget(self.pages, 1)
        self.setCentralWidget(central)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_line = StatusLine()
        sb.addWidget(self.status_line, 1)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFixedWidth(160)
        self.progress_bar.setTextVisible(False)
        self.progress_label = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        for w in (self.progress_label, self.progress_bar, self.cancel_button):
            sb.addPermanentWidget(w)
            w.hide()
        self.device_label = QLabel("Captioner: not loaded")
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
        self.recent_menu = m.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(m, "Tag &watched folders", self.tag_watched_folders)
        m.addSeparator()
        self._action(m, "&Export approved hashtags…", self.export_dialog, "Ctrl+E")
        m.addSeparator()
        self._action(m, "&Settings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        m = mb.addMenu("&Photo")
        self.copy_action = self._action(m, "&Copy post for Instagram", self.copy_for_instagram,
                                        QKeySequence.StandardKey.Copy)
        self._action(m, "&Approve focused hashtag", lambda: self.decide_focused("approve"), "A")
        self._action(m, "&Reject focused hashtag", lambda: self.decide_focused("reject"), "R")
        self._action(m, "&Next photo (Enter)", self.next_photo, "Ctrl+Down")
        self._action(m, "&Previous photo", lambda: self.next_photo(-1), "Ctrl+Up")
        remove = self._action(m, "Remove from &batch", self.remove_selected, QKeySequence.StandardKey.Delete)
        self.removeAction(remove)  # Delete takes photos out only where photos have the focus
        remove.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.grid.addAction(remove)
        m.addSeparator()
        self._action(m, "Re&sume tagging", self.resume, "Ctrl+T")
        self._action(m, "Retry &failed photos", self.review.retry_failed)
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
        corner = QWidget()  # the two pages, beside the menus: no toolbar row of its own
        row = QHBoxLayout(corner)
        row.setContentsMargins(0, 0, 6, 0)
        row.setSpacing(2)
        for a in (self.view_photos, self.view_library):
            b = QToolButton()
            b.setDefaultAction(a)
            b.setAutoRaise(True)
            row.addWidget(b)
        self._corner = corner  # (PySide gives the menu bar no ownership of it)
        mb.setCornerWidget(corner)

        m = mb.addMenu("&Help")
        self._action(m, "Open the library folder", self._open_library_folder)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:  # the panes' first sizes follow the window's (then the user's)
            self._sized = True
            self.size_panes(self.width())

    def size_panes(self, width: int) -> None:
        """Photos: one column of thumbnails under 1300 px, two above; the post panel gets at
        least 460 px (four chips a row), the photo the rest."""
        grid = CELL.width() * (2 if width >= 1300 else 1) + 30
        self.split.setSizes([grid, max(400, width - grid)])
        detail = max(400, width - grid - 8)
        composer = max(460, int(detail * 0.46))
        self.detail.split.setSizes([max(200, detail - composer), composer])

    # -- start-up ------------------------------------------------------------------------
    def start(self) -> None:
        """Restore the last session, open the library and load the model in workers (the
        window is already shown)."""
        self.review.restore()
        self.review.open_library()
        self.review.load_model()
        self.watching.enable(self.settings)
        self.empty.set_recent(self.review.recent_folders())

    @property
    def model_state(self) -> str:
        return self.review.model_state

    # -- what the review says (its Listener) -----------------------------------------------
    def photos_added(self, first: int, count: int) -> None:
        self.model.appended(first, count)  # (thumbnails: asked for as their cells are drawn)
        self._update_page()
        if self.grid.current_row() < 0:
            self.grid.select_row(first)

    def batch_reset(self) -> None:
        row = self.review.row_of(self.review.current.path) if self.review.current else -1
        self.model.reset()
        self._update_page()
        if row >= 0:
            self.grid.select_row(row)
        elif not self.review.photos:
            self.detail.show_item(None)

    def photo_changed(self, photo: Photo) -> None:
        self.model.changed(self.review.row_of(photo.path))
        if photo is self.detail.item:
            self.detail.show_item(photo)

    def say(self, text: str, kind: str = "status") -> None:
        if kind == "status":
            self.notify(text)
        else:
            self.show_error(text, kind)

    def model_changed(self, state: str, label: str, tip: str) -> None:
        self.device_label.setText(label)
        self.device_label.setToolTip(tip)
        if state == "ready" and self.banner.kind == "model":
            self.banner.hide()

    def library_changed(self, library) -> None:
        # The library page fills itself when shown (show_page): no queries for a hidden page.
        if self.pages.currentIndex() == PAGE_LIBRARY:
            self.library_view.set_library(library)

    def progress(self, view: ProgressView) -> None:
        for w in (self.progress_label, self.progress_bar):
            w.setVisible(view.visible)
        self.cancel_button.setVisible(view.visible and view.cancellable)
        if view.busy:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, max(1, view.total))
            self.progress_bar.setValue(view.done)
        self.progress_label.setText(view.text)

    def tag(self, files: list[Path]) -> None:
        job = TaggingJob(self.pipeline, files, self)
        job.tagging.connect(self.review.tagging)
        job.result.connect(self.review.result)
        job.progress.connect(self.review.job_progress)
        job.progress.connect(self._tagged_some)
        job.failed.connect(self.review.job_failed)
        job.finished.connect(self._job_finished)
        self.job = job
        self.runner.run_task(job.run, priority=BACKGROUND)

    def _tagged_some(self, done: int, _total: int, _text: str) -> None:
        if done % FREEZE_EVERY == 0:  # results live as long as the batch: out of full collections
            freeze_long_lived()

    def _job_finished(self, cancelled: bool) -> None:
        self.job = None
        self.review.job_finished(cancelled)
        freeze_long_lived()

    # -- messages ------------------------------------------------------------------------
    def show_error(self, text: str, kind: str = "error") -> None:
        self.banner.show_message(text, kind)

    def notify(self, text: str, ms: int = 6000) -> None:
        self.status_line.show_message(text, ms)

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

    def _dialog_folder(self) -> str:
        recent = self.review.recent_folders()
        return recent[0] if recent else pictures_dir()

    def open_files(self) -> None:
        pattern = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        files, _ = QFileDialog.getOpenFileNames(self, "Open photos", self._dialog_folder(),
                                                f"Photos ({pattern});;All files (*)")
        if files:
            self.add_paths(files)

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos", self._dialog_folder())
        if folder:
            self.add_paths([folder])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        folders = self.review.recent_folders()
        for folder in folders:
            a = self.recent_menu.addAction(folder)
            a.triggered.connect(lambda _c=False, f=folder: self.add_paths([f]))
        if not folders:
            self.recent_menu.addAction("No folders yet").setEnabled(False)

    def open_from_elsewhere(self, paths: list[str]) -> None:
        """A second launch (a file manager's "Open with") handed over its photos: add them and
        come to the front."""
        if paths:
            self.add_paths(paths)
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()

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
        self.review.note_opened(paths)
        self.empty.set_recent(self.review.recent_folders())
        self.runner.run_task(lambda: list(iter_image_files(paths)), self._found,
                             lambda exc: self.show_error(f"Cannot read the dropped files: {html.escape(str(exc))}"))

    def _found(self, files: list[Path]) -> None:
        if self.review.added(files):
            self.show_page("photos")

    def _request_thumbnail(self, path: Path) -> None:
        self.runner.run_task(lambda: fit_thumbnail(self.thumbs.load_qimage(path)),
                             lambda img: self.model.set_thumb(path, img),
                             lambda _exc: self.model.set_thumb(path, None))

    # -- tagging -------------------------------------------------------------------------
    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.review.cancelling()

    def resume(self) -> None:
        self.review.resume()

    # -- the batch -----------------------------------------------------------------------
    def _update_page(self) -> None:
        if self.pages.currentIndex() != PAGE_LIBRARY:
            self.pages.setCurrentIndex(PAGE_PHOTOS if self.review.photos else PAGE_EMPTY)

    def show_page(self, name: str) -> None:
        if name == "library":
            self.pages.setCurrentIndex(PAGE_LIBRARY)
            self.view_library.setChecked(True)
            # the one the review opened in a worker (None while it opens: library_changed
            # fills the page then); pipeline.library would open it here, on the GUI thread
            self.library_view.set_library(self.review.library)
        else:
            self.pages.setCurrentIndex(PAGE_PHOTOS if self.review.photos else PAGE_EMPTY)
            self.view_photos.setChecked(True)

    def current_item(self) -> Photo | None:
        return self.model.item(self.grid.current_row())

    def _show_row(self, row: int) -> None:
        it = self.review.select(row)
        cached = self._display.get(it.path) if it else None
        self.detail.show_item(it, cached)
        if it is None or cached is not None:
            return

        def done(img, path=it.path):
            self._display[path] = img
            while len(self._display) > DISPLAY_CACHE:
                self._display.popitem(last=False)
            self.detail.set_photo(path, img)

        self.runner.run_task(lambda p=it.path: make_display(load_display_image(p)), done,
                             lambda exc, path=it.path: self.detail.set_photo(path, None, str(exc)),
                             priority=10)

    def next_photo(self, step: int = 1) -> None:
        """Enter: the next photo of the batch (Shift+Enter or Ctrl+Up: the one before)."""
        row = self.review.neighbour(step)
        if row >= 0:
            self.grid.select_row(row)

    def remove_selected(self) -> None:
        """Take the selected photos out of the batch (the files stay where they are)."""
        rows = self.grid.selected_rows()
        if not rows:
            return
        nxt = min(rows)
        self.review.remove(rows)
        if self.review.photos:
            self.grid.select_row(min(nxt, len(self.review.photos) - 1))

    def clear_batch(self) -> None:
        self.cancel()
        self.review.clear()

    # -- decisions -----------------------------------------------------------------------
    def decide(self, tag: str, action: str) -> None:
        """approve / reject / remove one hashtag of the current photo."""
        if self.review.decide(tag, action) and action != "remove":
            self.detail.chips.focus_next_undecided(tag)

    def decide_focused(self, action: str) -> None:
        tag = self.detail.chips.focused_tag()
        if tag:
            self.decide(tag, action)

    def add_tag(self, text: str) -> None:
        self.review.add_tag(text)

    def _order_changed(self, tags: list) -> None:
        self.review.set_order(list(tags))

    def edit_caption(self, text: str) -> None:
        self.review.edit_caption(text)

    # -- copy & export -------------------------------------------------------------------
    def instagram_text(self, it: Photo | None = None) -> str:
        return self.review.post(it or self.current_item(), self.settings.with_caption).text

    def copy_for_instagram(self) -> None:
        it = self.current_item()
        if it is None:
            return
        if not it.kept():
            self.notify("No approved hashtags yet: approve some with ✓ or A first.")
            return
        QGuiApplication.clipboard().setText(self.instagram_text(it))
        n = min(MAX_HASHTAGS, len(it.kept()))
        self.notify(f"Copied the post with {plural(n, 'hashtag')} for Instagram.")

    def export_to(self, target: str, fmt: str, rows=None) -> tuple[list[Path], list[str]]:
        """Write the batch's approved hashtags (`rows`, default: the review's) -> (files
        written, problems). xmp writes one sidecar per photo and goes on past a photo whose
        sidecar cannot be written (read-only, not an XMP file, ...): each becomes a problem
        naming the photo. Touches no widget: export_dialog runs it in a worker."""
        rows = self.review.export_rows() if rows is None else rows
        s = self.settings
        if fmt == "xmp":
            written, problems = write_sidecars(rows, s.with_caption, s.sidecar_name)
            return written, [f"{Path(photo).name}: {why}" for photo, why in problems]
        text = to_csv(rows) if fmt == "csv" else instagram_posts(rows, s.with_caption)
        Path(target).write_text(text, encoding="utf-8", newline="" if fmt == "csv" else None)
        return [Path(target)], []

    def export_dialog(self) -> None:
        rows = self.review.export_rows()
        if not rows:
            self.notify("Nothing to export: no photo has approved hashtags yet.")
            return
        filters = {"Text (*.txt)": "txt", "CSV spreadsheet (*.csv)": "csv",
                   "XMP sidecars next to the photos (*.xmp)": "xmp"}
        start = str(Path(self._dialog_folder()) / "hashtags.txt")
        target, chosen = QFileDialog.getSaveFileName(self, "Export approved hashtags", start,
                                                     ";;".join(filters))
        if not target:
            return
        fmt = filters.get(chosen, "txt")
        # In a worker: a sidecar is read, merged and synced to disk per photo.
        self.runner.run_task(lambda: self.export_to(target, fmt, rows),
                             lambda done: self._exported(fmt, *done),
                             lambda exc: self.show_error(f"<b>Export failed:</b> {html.escape(str(exc))}"))

    def _exported(self, fmt: str, written: list[Path], problems: list[str]) -> None:
        if fmt != "xmp":
            self.notify(f"Exported to {written[0]}")
            return
        done = f"Wrote {plural(len(written), 'XMP sidecar')}."
        if not problems:
            self.notify(done)
            return
        listed = "<br>".join(html.escape(p) for p in problems[:10])
        more = f"<br>… and {len(problems) - 10} more" if len(problems) > 10 else ""
        self.show_error(f"<b>{done} {len(problems)} could not be written</b> (left as they "
                        f"were):<br>{listed}{more}")

    # -- settings ------------------------------------------------------------------------
    def apply_settings(self, s: AppSettings) -> None:
        old, self.settings = self.settings, s.validated()
        self.review.apply_options(self.settings.style, self.settings.top_k, self.settings.beam)
        if self.store is not None:
            self.store.save(self.settings)
        if self.settings.theme != old.theme:
            from .app import apply_theme

            apply_theme(self.settings.theme)
        if self.settings.library_dir != old.library_dir:
            self.watching.stop()  # it holds the library being closed; restarted below
            self.review.switch_library(self.settings.library_dir or None)
        self.watching.apply(self.settings)
        self.detail.with_caption = self.settings.with_caption
        if self.detail.item is not None:
            self.detail.show_item(self.detail.item)

    def open_settings(self) -> None:
        dlg = SettingsDialog(self.settings, self)
        if dlg.exec():
            self.apply_settings(dlg.value())

    def _open_library_folder(self) -> None:
        lib = self.review.library
        if lib is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(lib.path).parent)))

    # -- closing -------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        """Cancel tagging, let running tasks end (a model load cannot be interrupted), save
        the session."""
        if self.job is not None:
            self.job.cancel()
        self.hide()
        self.watching.stop()
        wait = getattr(self.runner, "wait", None)
        if wait is not None:
            wait(15000)
        QGuiApplication.processEvents()  # the tasks' last callbacks (decisions, results)
        self._flush.stop()
        self.review.close()
        self.pipeline.close()
        super().closeEvent(event)


__all__ = ["PAGE_EMPTY", "PAGE_LIBRARY", "PAGE_PHOTOS", "MainWindow", "Qt"]
