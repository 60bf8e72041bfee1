"""Keeping the review across restarts: what changed is saved every half second (`flush`), the
last batch comes back on start (`restore`), folders opened are remembered (`note_opened`).

A mixin of `Review` (review.py), kept apart so each file holds one idea; it uses the review's
photos, rows, listener and store.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .photo import Photo, Status, plural
from .store import SavedPhoto, SavedSession, SessionError, SessionStore


class SessionKeeping:
    """The session-on-disk half of `Review`."""

    photos: list[Photo]
    _rows: dict[Path, int]
    store: SessionStore | None
    current: Photo | None

    def _changed(self, photo: Photo, result: bool = False, quiet: bool = False) -> None:
        self._dirty.add(photo.path)
        if result:
            self._dirty_results.add(photo.path)
        if not quiet:
            self.listener.photo_changed(photo)

    def _store(self, action: Callable[[SessionStore], Any]) -> Any:
        if self.store is None:
            return None
        try:
            return action(self.store)
        except SessionError as exc:
            self._not_saved(exc)
            return None

    def _not_saved(self, exc: BaseException) -> None:
        """Said once a session: the review goes on without being kept."""
        if not self._store_failed:
            self._store_failed = True
            self.listener.say(f"<b>The batch is not saved for next time:</b> {html.escape(str(exc))}",
                              "warning")

    def _saved(self, p: Photo) -> SavedPhoto:
        return SavedPhoto(str(p.path), self._rows[p.path], p.status.value, p.error, p.digest, p.caption,
                          p.edited, p.caption_approved, dict(p.decisions), list(p.order), p.result)

    def flush(self, wait: bool = False) -> None:
        """Save what changed since the last flush: one transaction, encoded and written in a
        worker (one save at a time, in order; what changes meanwhile waits for the next flush);
        `wait`: here and now (closing)."""
        if not (self._dirty or self._removed or self._current_dirty) or self.store is None:
            return
        if self._saving and not wait:
            return
        photos = [self._saved(p) for path in self._dirty if (p := self.photo(self.row_of(path)))]
        results = [str(p) for p in self._dirty_results]
        removed = [str(p) for p in self._removed]
        current = str(self.current.path) if self._current_dirty and self.current is not None else None
        self._dirty, self._dirty_results, self._removed = set(), set(), set()
        self._current_dirty = False
        store = self.store
        if wait:
            self._store(lambda s: s.save(photos, results, removed, current))
            return
        self._saving = True

        def saved(_none=None) -> None:
            self._saving = False

        def failed(exc: BaseException) -> None:
            self._saving = False
            self._not_saved(exc)

        self.runner.run_task(lambda: store.save(photos, results, removed, current), saved, failed)

    def restore(self) -> None:
        """Bring back the last session's batch (read in a worker)."""
        if self.store is not None:
            store = self.store

            def load() -> tuple[SavedSession, set[str]]:
                saved = store.load()
                return saved, {p.path for p in saved.photos if not os.path.exists(p.path)}

            self.runner.run_task(load, self._restored, lambda exc: self.listener.say(
                f"<b>The last session could not be restored:</b> {html.escape(str(exc))}", "warning"))

    def _restored(self, loaded: tuple[SavedSession, set[str]]) -> None:
        saved, missing = loaded
        photos = [self._photo_from(s, s.path in missing) for s in saved.photos
                  if Path(s.path).absolute() not in self._rows]
        shown_before = self.current
        self._append(photos)
        self._dirty.difference_update(p.path for p in photos)  # nothing new to write
        self._dirty_results.difference_update(p.path for p in photos)
        if photos:
            self.listener.say(f"Restored {plural(len(photos), 'photo')} from your last session.")
        if saved.current and shown_before is None and (row := self.row_of(saved.current)) >= 0:
            self.select(row)
            self.listener.batch_reset()  # the window shows the review's current photo
        self.refresh_decisions(photos)
        self.start_tagging()

    @staticmethod
    def _photo_from(s: SavedPhoto, missing: bool) -> Photo:
        status = Status(s.status) if s.status in Status.__members__.values() else Status.QUEUED
        if status == Status.TAGGING or (status in (Status.READY, Status.APPROVED) and s.result is None):
            status = Status.QUEUED
        photo = Photo(Path(s.path).absolute(), status, s.result, s.error, s.caption, s.edited,
                      s.caption_approved, dict(s.decisions), list(s.order))
        if missing:
            photo.status, photo.error = Status.ERROR, f"{photo.name} is no longer there (moved or deleted)"
        return photo

    def note_opened(self, paths: Iterable) -> None:
        """Remember the folders photos were opened from (File › Open recent)."""
        folders: list[str] = []
        for p in paths:
            path = Path(p).absolute()
            folder = str(path if path.is_dir() else path.parent)
            if folder not in folders:
                folders.append(folder)
        for folder in reversed(folders[:10]):
            self._store(lambda s, f=folder: s.add_recent(f))

    def recent_folders(self) -> list[str]:
        found = self._store(lambda s: s.recent()) or []
        return [f for f in found if os.path.isdir(f)]

    def close(self) -> None:
        self.flush(wait=True)
        if self.store is not None:
            self.store.close()
            self.store = None

