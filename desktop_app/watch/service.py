"""WatchService: scanner + watcher + persistent queue + Pipeline, in one background thread.

Order at start: the watch is set up first, then the catch-up scan runs, so a photo written
during the scan is seen by one or the other (the queue dedupes). Then the loop: drain the
watcher's changes into the queue, take the due photos (a batch at a time), wait until each has
settled, skip content the library already captioned (hash), tag the rest, and report each
outcome through `on_result`. `stop()` is honoured between photos and between batches (a batch
being captioned is finished and recorded, never dropped half-way).

Failure policy: a photo that cannot be read or decoded (a truncated copy, a permission error)
is retried `max_attempts` times with a growing delay, then parked in `watch_failed` and
reported once; it is tried again only when the file changes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import HashlensError
from ..fingerprint import content_hash
from ..results import PhotoResult
from .queue import QueueItem, WatchQueue
from .scanner import FileStat, scan, stat_file
from .settle import Settler
from .watcher import Change, FolderWatcher, RootState

log = logging.getLogger(__name__)


@dataclass
class WatchOptions:
    quiet_s: float = 1.0  # size and mtime unchanged this long: the file is complete
    trust_old_s: float = 10.0  # not written to for this long: complete (see settle.py)
    max_attempts: int = 3  # reads of a broken photo before it is reported and parked
    retry_delay_s: float = 2.0  # first retry after this, then doubled
    batch_size: int = 8  # photos per round (cancellation is checked between rounds)
    check_s: float = 1.0  # how often the watched folders are checked (deleted? back?)
    rescan_s: float = 60.0  # how often a folder without a live watch is scanned
    auto_approve: float | None = None  # approve suggestions scoring at least this (0..1)
    write_xmp: bool = False  # write an XMP sidecar with the approved tags next to the photo
    sidecar_name: str = "append"  # a new sidecar: photo.jpg.xmp ("append") or photo.xmp ("replace")


@dataclass
class WatchResult:
    """One photo's outcome. status: tagged, known (same content captioned before: a move,
    rename or copy; its tags are kept), or failed (reported once, after the retries)."""

    path: str
    status: str
    result: PhotoResult | None = None
    error: str | None = None
    previous_path: str | None = None  # known: where the library had it
    approved: tuple[str, ...] = ()  # auto-approved tags
    sidecar: str | None = None  # the XMP sidecar written


class WatchService:
    def __init__(
        self,
        pipeline,
        folders: Iterable[str | os.PathLike],
        on_result: Callable[[WatchResult], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
        options: WatchOptions | None = None,
        observer_factory=None,
        clock: Callable[[], float] = time.time,
    ):
        self.pipeline = pipeline
        self.folders = tuple(os.path.abspath(os.fspath(f)) for f in folders)
        self.on_result = on_result
        self.on_notice = on_notice
        self.options = options or WatchOptions()
        self.clock = clock
        lib = pipeline.library
        if lib is None:
            raise HashlensError(
                "watching folders needs the tag library (it keeps the queue): "
                + (pipeline.library_warning or "it is turned off")
            )
        self.library = lib
        self.queue = WatchQueue(lib, clock=clock)
        self.settler = Settler(self.options.quiet_s, self.options.trust_old_s, wall=clock)
        self._inbox: deque[Change] = deque()
        self.watcher = FolderWatcher(self.folders, self._inbox_put, observer_factory)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()
        self.error: str | None = None  # set when the service stopped on its own
        self.scanning = False
        self.tagged = 0

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="hashlens-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the photo (or batch being captioned) in hand; waits for the thread."""
        self._stop.set()
        self._wake.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def counts(self) -> dict[str, int]:
        return self.queue.counts()

    # -- plumbing --------------------------------------------------------------------------
    def _inbox_put(self, change: Change) -> None:  # the observer's thread
        self._inbox.append(change)
        self._wake.set()

    def _notice(self, text: str) -> None:
        log.info("%s", text)
        if self.on_notice is not None:
            try:
                self.on_notice(text)
            except Exception:  # noqa: BLE001 - a broken callback must not stop watching
                log.exception("watch notice callback")

    def _emit(self, wr: WatchResult) -> None:
        if self.on_result is not None:
            try:
                self.on_result(wr)
            except Exception:  # noqa: BLE001
                log.exception("watch result callback")

    def _scan(self, roots: Iterable[str]) -> int:
        def err(folder: str, exc: OSError) -> None:
            if folder not in self._warned:  # logged once, not on every rescan
                self._warned.add(folder)
                self._notice(f"cannot read the folder {folder}: {exc.strerror or exc}")

        self.scanning = True
        try:
            return self.queue.add_many(scan(roots, on_error=err, should_stop=self._stop.is_set))
        finally:
            self.scanning = False

    def _run(self) -> None:
        try:
            self._report(self.watcher.start())
            present = [r for r in self.folders if os.path.isdir(r)]
            n = self._scan(present)
            if n:
                self._notice(f"{n} photo(s) to tag in the watched folders")
            next_check = time.monotonic() + self.options.check_s
            next_rescan = time.monotonic() + self.options.rescan_s
            while not self._stop.is_set():
                self._drain()
                now = time.monotonic()
                if now >= next_check:
                    self._report(self.watcher.check())
                    next_check = now + self.options.check_s
                if now >= next_rescan:
                    if self.watcher.unwatchable:
                        self._scan(list(self.watcher.unwatchable))
                    next_rescan = now + self.options.rescan_s
                items = self.queue.due(self.options.batch_size)
                if items:
                    self._process(items)
                    continue
                due = self.queue.next_due_in()
                wait = self.options.check_s if due is None else min(due, self.options.check_s)
                self._wake.wait(max(0.01, wait))
                self._wake.clear()
        except Exception as exc:  # noqa: BLE001 - reported; the caller sees `error`
            self.error = str(exc) or type(exc).__name__
            log.exception("watching stopped")
            self._notice(f"watching stopped: {self.error}")
        finally:
            self.watcher.stop()

    def _report(self, states: list[RootState]) -> None:
        for s in states:
            if s.state == "missing":
                self._notice(f"watched folder {s.root} is gone; it is picked up again if it comes back")
            elif s.state == "back":
                self._notice(f"watched folder {s.root} is back; looking for new photos")
                self._scan([s.root])
            elif s.state == "unwatchable":
                self._notice(f"cannot watch {s.root} live ({s.message}); it is scanned every "
                             f"{self.options.rescan_s:.0f} s instead")

    def _drain(self, limit: int = 20_000) -> None:
        """Turn the watcher's changes into queue rows (many file events become one row)."""
        files: dict[str, None] = {}
        n = 0
        while self._inbox and n < limit:
            c = self._inbox.popleft()
            n += 1
            if c.kind == "file":
                files[c.path] = None
            elif c.kind == "deleted":
                files.pop(c.path, None)
                self.queue.remove(c.path)
                self.settler.forget(c.path)
            elif c.kind == "moved":
                files.pop(c.path, None)
                self.queue.remove(c.path)
                self.settler.forget(c.path)
                if c.dest:
                    files[c.dest] = None
            elif c.kind == "dir":
                self._scan([c.path])
            elif c.kind == "dir_deleted":
                self.queue.remove_under(c.path)
            elif c.kind == "dir_moved":
                self.queue.remove_under(c.path)
                if c.dest:
                    self._scan([c.dest])
        if files:
            stats = (stat_file(p) for p in files)
            self.queue.add_many(s for s in stats if s is not None)

    # -- tagging ---------------------------------------------------------------------------
    def _attempt_failed(self, item: QueueItem, error: str) -> None:
        attempts = item.attempts + 1
        if attempts >= self.options.max_attempts:
            self.queue.defer(item.path, 0.0, error=error, count_attempt=True)
            self.queue.fail(item.path, error)
            # The result below tells the user (CLI line, GUI status); the log file keeps the detail.
            log.info("giving up on %s after %d tries: %s", item.path, attempts, error)
            self._emit(WatchResult(item.path, "failed", error=error))
        else:  # maybe still being copied: try again a little later
            delay = self.options.retry_delay_s * (2 ** (attempts - 1))
            self.queue.defer(item.path, delay, error=error, count_attempt=True)

    def _process(self, items: list[QueueItem]) -> None:
        todo: list[tuple[QueueItem, FileStat]] = []
        digests: set[str] = set()
        for item in items:
            if self._stop.is_set():
                return
            fs = stat_file(item.path)
            if fs is None:  # deleted or moved before its turn
                self.queue.remove(item.path)
                self.settler.forget(item.path)
                continue
            wait = self.settler.wait_s(fs.path, fs.size, fs.mtime)
            if wait > 0:  # still being written (or just seen for the first time)
                self.queue.defer(fs.path, wait, size=fs.size, mtime=fs.mtime)
                continue
            if self.library.is_recorded(fs.path, fs.size, fs.mtime):  # tagged meanwhile
                self.queue.done(fs.path)
                continue
            try:
                digest = content_hash(fs.path)
            except OSError as exc:
                self._attempt_failed(item, f"cannot read {fs.path}: {exc.strerror or exc}")
                continue
            previous = self.library.known_content(digest)
            if previous is not None:
                self.library.note_path(digest, fs.path, fs.size, fs.mtime)
                self.queue.done(fs.path)
                self.settler.forget(fs.path)
                self._emit(WatchResult(fs.path, "known", previous_path=previous))
                continue
            if digest in digests:  # a copy of one in this batch: after its twin is recorded
                self.queue.defer(fs.path, 0.0)
                continue
            digests.add(digest)
            todo.append((item, fs))
        if todo:
            self._tag(todo)

    def _tag(self, todo: list[tuple[QueueItem, FileStat]]) -> None:
        by_path = {fs.path: (item, fs) for item, fs in todo}
        results = self.pipeline.tag_paths(list(by_path), should_cancel=self._stop.is_set)
        try:
            for res in results:
                item, fs = by_path[os.path.abspath(res.path)]
                if res.ok:
                    self.queue.done(item.path)
                    self.settler.forget(item.path)
                    self.tagged += 1
                    self._emit(self._finish(res))
                else:
                    self._attempt_failed(item, res.error or "unknown error")
        finally:
            results.close()

    def _finish(self, res: PhotoResult) -> WatchResult:
        """Auto-approve and write the sidecar, if asked; errors there are reported, not fatal."""
        out = WatchResult(res.path, "tagged", result=res)
        thr = self.options.auto_approve
        if thr is None:
            return out
        approved = tuple(h.tag for h in res.hashtags if h.score >= thr)
        if not approved:
            return out
        try:
            self.pipeline.decide(res.content_hash, path=res.path, approve=approved)
            out.approved = approved
        except HashlensError as exc:
            out.error = f"could not auto-approve: {exc}"
            return out
        if self.options.write_xmp:
            from ..export.xmp import write_sidecar

            try:
                out.sidecar = str(write_sidecar(res.path, approved, style=self.options.sidecar_name))
            except (OSError, ValueError) as exc:
                out.error = f"could not write the XMP sidecar: {exc}"
        return out
