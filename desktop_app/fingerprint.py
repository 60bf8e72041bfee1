"""Content fingerprints: a photo that is moved or renamed is recognised by its bytes."""

from __future__ import annotations

import hashlib
import os
import threading


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes, hex. Raises OSError if the file cannot be read."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def bytes_hash(data: bytes) -> str:
    """The same fingerprint for bytes already in memory (one read serves decode and hash)."""
    return hashlib.sha256(data).hexdigest()


_stable: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> its content_hash
_stable_lock = threading.Lock()


def stable_file_hash(path: str | os.PathLike) -> str:
    """content_hash of a file that is not expected to change while the app runs (model files:
    the registry's and a model bundle's checks of the same file): hashed once a process while
    its size and modification time stay the same. Raises OSError like content_hash."""
    st = os.stat(path)
    key = (os.fspath(path), st.st_size, st.st_mtime_ns)
    with _stable_lock:
        known = _stable.get(key)
    if known is None:
        known = content_hash(path)
        with _stable_lock:
            _stable[key] = known
    return known
