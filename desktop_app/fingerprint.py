"""Content fingerprints: a photo that is moved or renamed is recognised by its bytes."""

from __future__ import annotations

import hashlib
import os


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes, hex. Raises OSError if the file cannot be read."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def bytes_hash(data: bytes) -> str:
    """The same fingerprint for bytes already in memory (one read serves decode and hash)."""
    return hashlib.sha256(data).hexdigest()
