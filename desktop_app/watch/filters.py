"""What the watcher ignores (pure: names and stat results only, no I/O).

A watched camera or download folder also holds half-finished downloads, editor lock files,
hidden system files and the sidecars this app writes itself; none of them is a photo to tag.
"""

from __future__ import annotations

import os

from ..imaging import IMAGE_SUFFIXES

# Partial downloads and copies: browsers, rsync, torrent clients, our own atomic writes.
TEMP_SUFFIXES = (
    ".part", ".partial", ".crdownload", ".download", ".tmp", ".temp", ".filepart", ".!qb", ".opdownload",
)
# Files this app (or a photo manager) writes next to photos.
SIDECAR_SUFFIXES = (".xmp", ".xmp.tmp", ".aae", ".json", ".txt", ".csv")
# Folders that hold caches, trash or other programs' state, never new photos.
IGNORED_DIRS = frozenset(
    {"@eadir", "$recycle.bin", "system volume information", "__pycache__", "node_modules",
     ".trash", ".trashes", "#recycle", "lost+found"}
)


def is_hidden_name(name: str) -> bool:
    return name.startswith(".")


def is_temporary_name(name: str) -> bool:
    """Office/editor lock files (`~$x`, `x~`, `.~lock`), partial downloads, our temp files."""
    low = name.lower()
    return (
        low.startswith("~$")
        or low.startswith(".~")
        or low.endswith("~")
        or low.endswith(TEMP_SUFFIXES)
    )


def is_candidate_name(name: str) -> bool:
    """True when a file with this name may be a photo to tag (suffix says image, not junk)."""
    if not name or is_hidden_name(name) or is_temporary_name(name):
        return False
    low = name.lower()
    if low.endswith(SIDECAR_SUFFIXES):
        return False
    dot = low.rfind(".")
    return dot > 0 and low[dot:] in IMAGE_SUFFIXES


def is_ignored_dir_name(name: str) -> bool:
    return is_hidden_name(name) or name.lower() in IGNORED_DIRS


def is_candidate_path(path: str, roots: tuple[str, ...] = ()) -> bool:
    """A full path: the file name is a candidate and no folder between a root and it is ignored.

    `roots` are the watched folders (absolute, normalised); a root itself may be hidden (the user
    chose it), only the folders below it count.
    """
    path = os.path.normpath(path)
    if not is_candidate_name(os.path.basename(path)):
        return False
    rel = path
    for root in roots:
        if path.startswith(root.rstrip(os.sep) + os.sep):
            rel = path[len(root.rstrip(os.sep)) + 1 :]
            break
    else:
        if roots:
            return False
    parts = rel.split(os.sep)[:-1]
    return not any(is_ignored_dir_name(p) for p in parts)


__all__ = [
    "IGNORED_DIRS",
    "SIDECAR_SUFFIXES",
    "TEMP_SUFFIXES",
    "is_candidate_name",
    "is_candidate_path",
    "is_hidden_name",
    "is_ignored_dir_name",
    "is_temporary_name",
]
