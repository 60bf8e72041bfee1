"""Photo thumbnails, made in a worker and cached on disk (cache_dir()/thumbnails).

The cache key is the photo's absolute path, size and modification time and the thumbnail
size, so an edited photo gets a new thumbnail and old entries are simply never read again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..imaging import make_thumbnail
from ..paths import cache_dir

THUMB_SIDE = 256


class ThumbnailCache:
    def __init__(self, folder: str | os.PathLike | None = None, max_side: int = THUMB_SIDE):
        self.folder = Path(folder) if folder else cache_dir() / "thumbnails"
        self.max_side = max_side

    def key(self, photo: str | os.PathLike) -> str:
        p = Path(photo).resolve()
        st = p.stat()
        raw = f"{p}|{st.st_size}|{st.st_mtime_ns}|{self.max_side}"
        return hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()

    def path_for(self, photo: str | os.PathLike) -> Path:
        k = self.key(photo)
        return self.folder / k[:2] / f"{k}.jpg"

    def get_or_make(self, photo: str | os.PathLike) -> Path:
        """The cached thumbnail's file, made first if needed. Raises ImageLoadError, OSError."""
        target = self.path_for(photo)
        if target.exists():
            return target
        img = make_thumbnail(photo, self.max_side)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        img.save(tmp, "JPEG", quality=85)
        os.replace(tmp, target)
        return target

    def load_qimage(self, photo: str | os.PathLike):
        """Thumbnail as a QImage (QImage, unlike QPixmap, may be made in a worker thread)."""
        from PySide6.QtGui import QImage

        path = self.get_or_make(photo)
        img = QImage(str(path))
        if img.isNull():  # a damaged cache file: make it again
            path.unlink(missing_ok=True)
            img = QImage(str(self.get_or_make(photo)))
        return img
