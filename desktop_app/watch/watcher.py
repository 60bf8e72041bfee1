"""Live watching with watchdog: its native observers (inotify, FSEvents, ReadDirectoryChangesW)
watch whole trees recursively, which QFileSystemWatcher cannot.

The handler only turns events into `Change`s for a sink (the service's inbox); it never reads a
file or touches the database, so the observer thread is never blocked. Roots are checked by
`check()` (the service calls it every second or two): a watched folder that was deleted is
reported once and its watch dropped while the others go on; when it comes back it is watched
again and reported, so that the service scans it for what it missed. A root whose watch cannot
be set up (e.g. the inotify watch limit) is reported and left to periodic scans.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from .filters import is_candidate_path, is_ignored_dir_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """kind: file (created or written), deleted, moved (path -> dest), dir (appeared: scan it),
    dir_deleted, dir_moved (path -> dest)."""

    kind: str
    path: str
    dest: str | None = None


@dataclass(frozen=True)
class RootState:
    """A change in a watched folder's state, for the user: missing, back, or unwatchable."""

    root: str
    state: str
    message: str = ""


def _s(p) -> str:
    return os.fsdecode(p) if isinstance(p, bytes) else str(p)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher):
        self.w = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self.w._event(event)
        except Exception:  # noqa: BLE001 - never kill the observer thread
            log.exception("watch event %r", event)


class FolderWatcher:
    def __init__(self, roots: Iterable[str], sink: Callable[[Change], None], observer_factory=None):
        self.roots = tuple(os.path.abspath(r) for r in roots)
        self.sink = sink
        if observer_factory is None:
            from watchdog.observers import Observer

            observer_factory = Observer
        self._factory = observer_factory
        self._observer = None
        self._handler = _Handler(self)
        self._watches: dict[str, object] = {}
        self._identity: dict[str, tuple[int, int]] = {}
        self.missing: set[str] = set()
        self.unwatchable: dict[str, str] = {}  # root -> why (scanned periodically instead)

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> list[RootState]:
        self._observer = self._factory()
        self._observer.daemon = True
        self._observer.start()
        return self.check()

    def stop(self) -> None:
        obs, self._observer = self._observer, None
        if obs is not None:
            obs.stop()
            obs.join(timeout=5)
        self._watches.clear()

    def _schedule(self, root: str) -> str | None:
        try:
            st = os.stat(root)
            watch = self._observer.schedule(self._handler, root, recursive=True)
        except OSError as exc:
            return exc.strerror or str(exc)
        self._watches[root] = watch
        self._identity[root] = (st.st_dev, st.st_ino)
        return None

    def _unschedule(self, root: str) -> None:
        watch = self._watches.pop(root, None)
        if watch is not None and self._observer is not None:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError):  # its emitter already stopped with the folder
                pass

    def check(self) -> list[RootState]:
        """Follow the roots: missing ones dropped, returning ones watched again. Cheap (stats)."""
        out: list[RootState] = []
        if self._observer is None:
            return out
        for root in self.roots:
            try:
                st = os.stat(root)
                ok = os.path.isdir(root)
            except OSError:
                ok = False
            if not ok:
                if root not in self.missing:
                    self.missing.add(root)
                    self._unschedule(root)
                    self.unwatchable.pop(root, None)
                    out.append(RootState(root, "missing", "the folder is gone; watching for it"))
                continue
            same = self._identity.get(root) == (st.st_dev, st.st_ino)
            if root in self.missing or (root in self._watches and not same):
                # back (maybe deleted and re-created between two checks: a new inode)
                self.missing.discard(root)
                self._unschedule(root)
                why = self._schedule(root)
                if why:
                    self.unwatchable[root] = why
                    out.append(RootState(root, "unwatchable", why))
                else:
                    out.append(RootState(root, "back", "the folder is back"))
            elif root not in self._watches and root not in self.unwatchable:
                why = self._schedule(root)
                if why:
                    self.unwatchable[root] = why
                    out.append(RootState(root, "unwatchable", why))
        return out

    # -- events ----------------------------------------------------------------------------
    def _root_of(self, path: str) -> str | None:
        for r in self.roots:
            if path == r or path.startswith(r + os.sep):
                return r
        return None

    def _dir_ok(self, path: str) -> bool:
        root = self._root_of(path)
        if root is None:
            return False
        rel = path[len(root) + 1 :]
        return not any(is_ignored_dir_name(p) for p in rel.split(os.sep) if p)

    def _event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        src = _s(event.src_path)
        dest = _s(getattr(event, "dest_path", "") or "")
        if kind in ("opened", "closed_no_write"):
            return
        if event.is_directory:
            if kind == "created" and self._dir_ok(src):
                self.sink(Change("dir", src))
            elif kind == "deleted":
                self.sink(Change("dir_deleted", src))
            elif kind == "moved":
                self.sink(Change("dir_moved", src, dest if self._dir_ok(dest) else None))
            return
        if kind == "deleted":
            self.sink(Change("deleted", src))
        elif kind == "moved":
            ok = bool(dest) and is_candidate_path(dest, self.roots)
            # a download renamed from x.jpg.part to x.jpg arrives here: the dest is what counts
            self.sink(Change("moved", src, dest if ok else None))
        elif kind in ("created", "modified", "closed", "attrib") and is_candidate_path(src, self.roots):
            self.sink(Change("file", src))
