"""The catch-up scan: every candidate photo below the watched folders, streamed.

Photos added while the app was closed are found by walking the folders at start (and when a
folder comes back, or a folder is created or moved in while watching). The walk is an explicit
stack over `os.scandir`, yielding one `FileStat` at a time, so memory stays flat whatever the
number of photos; only one folder's listing is held at once (sorted, for a stable order).
Symlinked folders are not followed (no loops, no escaping the watched tree); a folder reached
twice (bind mounts) is walked once.
"""

from __future__ import annotations

import logging
import os
import stat as stat_mod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .filters import is_candidate_name, is_ignored_dir_name

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileStat:
    path: str
    size: int
    mtime: float


def stat_file(path: str) -> FileStat | None:
    """FileStat of a regular file (symlinks to files followed), None if gone or not a file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat_mod.S_ISREG(st.st_mode):
        return None
    return FileStat(path, st.st_size, st.st_mtime)


def scan(
    roots: Iterable[str],
    on_error: Callable[[str, OSError], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[FileStat]:
    """Yield candidate photos below `roots` (absolute paths), depth first, sorted per folder."""
    seen_dirs: set[tuple[int, int]] = set()
    for root in roots:
        stack = [os.path.abspath(root)]
        while stack:
            if should_stop is not None and should_stop():
                return
            folder = stack.pop()
            try:
                st = os.stat(folder)
                key = (st.st_dev, st.st_ino)
                if key in seen_dirs:
                    continue
                seen_dirs.add(key)
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                if on_error is not None:
                    on_error(folder, exc)
                else:
                    log.warning("cannot list %s: %s", folder, exc)
                continue
            subdirs = []
            for e in entries:
                try:
                    if e.is_dir(follow_symlinks=False):
                        if not is_ignored_dir_name(e.name):
                            subdirs.append(e.path)
                        continue
                    if not is_candidate_name(e.name) or not e.is_file():  # symlinked files: ok
                        continue
                    st = e.stat()  # follows a symlink; a dangling one raises
                except OSError:
                    continue
                yield FileStat(e.path, st.st_size, st.st_mtime)
            stack.extend(reversed(subdirs))
