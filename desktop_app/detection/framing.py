"""How a photo is put on the detectors' square input: padded to at most 4:3, then squashed.

NanoDet was trained on photos scaled with their aspect kept (black padding), with some stretch
(0.8-1.2) as augmentation. Squashing a 4:3 photo is as good as padding it, and keeps more
pixels for small objects; squashing wider photos costs accuracy. On the COCO sample
(bench/detector_accuracy.py, image-level "class present", tuned thresholds), precision /
recall squashed vs padded to 4:3 vs fully padded: photos as they are (mostly 4:3) 0.99/0.33,
0.98/0.31, 0.97/0.29; cropped to 3:2 0.92/0.28, 0.93/0.30, 0.95/0.30; cropped to 16:9
0.86/0.25, 0.91/0.31, 0.94/0.29; and a 3:2 close-up of a coffee cup scores "cup" 0.36, 0.47,
0.60. So a photo wider (or taller) than 4:3 is padded, at its right (bottom), to 4:3 first.

`frame_photo` returns the square and the fraction of its width and height the photo fills
(`fill`); the detectors' `detect_batch(images, fills)` maps boxes back to the photo with it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..imaging import squash

MAX_ASPECT = 4 / 3


def padded_size(width: int, height: int, max_aspect: float = MAX_ASPECT) -> tuple[int, int]:
    """The canvas the photo is padded to: the short side grown until long / short <= max_aspect."""
    if width >= height:
        return width, max(height, round(width / max_aspect))
    return max(width, round(height / max_aspect)), height


def frame_photo(img: Image.Image, size: int,
                max_aspect: float = MAX_ASPECT) -> tuple[np.ndarray, tuple[float, float]]:
    """An RGB photo -> ((size, size, 3) uint8, (fill_x, fill_y)): padded with black at the
    right or bottom to at most `max_aspect`, then squashed to size x size (imaging.squash)."""
    w, h = img.size
    cw, ch = padded_size(w, h, max_aspect)
    fill = (w / cw, h / ch)
    if (cw, ch) != (w, h):
        canvas = Image.new("RGB", (cw, ch))
        canvas.paste(img, (0, 0))
        img = canvas
    return squash(img, size), fill


def to_photo(boxes: np.ndarray, fill: tuple[float, float] | None) -> np.ndarray:
    """(M, 4) boxes as fractions of the square -> fractions of the photo, clipped to it (a box
    wholly in the padding comes back with no width or height). fill None: a squashed photo."""
    if fill is None:
        return np.clip(boxes, 0.0, 1.0)
    fx, fy = fill
    return np.clip(boxes / np.array([fx, fy, fx, fy]), 0.0, 1.0)


def check_batch(images: np.ndarray, size: int, fills, what: str) -> tuple[np.ndarray, list]:
    """The batch as a (N, size, size, 3) uint8 array and one fill (or None) per photo."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (size, size, 3) or images.dtype != np.uint8:
        raise ValueError(f"the {what} takes (N, {size}, {size}, 3) uint8 photos, got "
                         f"{images.shape} {images.dtype}")
    fills = [None] * len(images) if fills is None else list(fills)
    if len(fills) != len(images):
        raise ValueError(f"{len(images)} photos but {len(fills)} fills")
    return images, fills
