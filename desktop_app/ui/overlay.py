"""Where the model looked: attention weights as a light/dark mask over the photo.

Like the figures of Show, Attend and Tell: the 7x7 weights of one word are upsampled smoothly
(bicubic) to the photo's size, stretched so the least attended cell is 0 and the most attended
is 1, and the photo is darkened where the weight is low and lightened where it is high.

The stretch matters with real models: their attention is often diffuse (the brightest cell only
1.5x the average), and scaled by the peak alone such a map darkens the photo by a few percent,
so clicking a word seemed to do nothing. The detail panel says in words when a map is that flat
(`focus`), so the stretched picture does not overstate it.

`attention_overlay` and `upsample_weights` are pure (NumPy and Pillow) and need no Qt; the
detail panel paints their output with `to_qimage`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

DARK_FLOOR = 0.25  # brightness kept where the model did not look at all
LIGHTEN = 0.25  # how far toward white the most attended area is pushed
GAMMA = 0.7  # < 1 widens the lit area a little, so moderately attended regions stay visible


def focus(weights: np.ndarray) -> float:
    """How concentrated a word's attention is: its largest weight over the mean weight.

    1.0 is perfectly flat (looked everywhere alike); a sharp map over 7x7 cells can reach 49.
    """
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=0.0).clip(min=0.0)
    mean = float(w.mean()) if w.size else 0.0
    return float(w.max()) / mean if mean > 0 else 1.0


def upsample_weights(weights: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) attention weights -> (height, width) float32 in [0, 1], smooth, min 0 and max 1.

    A flat map (all cells alike, at least one above zero) comes out all 1: looked everywhere.

    `size` is (width, height), as in Pillow. The grid covers the whole photo (the model sees
    the photo squashed to a square), so each cell stretches to its share of the photo.
    """
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim != 2 or w.size == 0:
        raise ValueError(f"attention weights must be a 2-D grid, got shape {w.shape}")
    w = np.nan_to_num(w, nan=0.0, posinf=0.0, neginf=0.0).clip(min=0.0)
    peak, low = float(w.max()), float(w.min())
    if peak <= 0:
        return np.zeros((size[1], size[0]), np.float32)
    if peak - low <= 1e-6 * peak:
        return np.ones((size[1], size[0]), np.float32)
    w = (w - low) / (peak - low)
    up = Image.fromarray(w, mode="F").resize(size, Image.Resampling.BICUBIC)
    return np.clip(np.asarray(up, dtype=np.float32), 0.0, 1.0)


def attention_overlay(image, weights: np.ndarray) -> Image.Image:
    """The photo with one word's attention shown as a light/dark mask (an RGB PIL image).

    image: a PIL image or an (H, W, 3) uint8 array. weights: (h, w), e.g. 7x7.
    """
    arr = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    arr = arr[..., :3].astype(np.float32)
    a = upsample_weights(weights, (arr.shape[1], arr.shape[0]))[..., None] ** GAMMA
    shaded = arr * (DARK_FLOOR + (1.0 - DARK_FLOOR) * a)
    shaded += (255.0 - shaded) * (LIGHTEN * a * a)
    return Image.fromarray(np.clip(shaded + 0.5, 0, 255).astype(np.uint8), "RGB")


def combine_rows(attention: np.ndarray, indices: Sequence[int], grid: tuple[int, int]) -> np.ndarray | None:
    """The mean attention of several tokens (a hashtag made of words), as a grid; None if none."""
    rows = [np.asarray(attention[i], dtype=np.float32) for i in indices if 0 <= i < len(attention)]
    if not rows:
        return None
    return np.mean(rows, axis=0).reshape(grid)


def to_qimage(image):
    """A PIL RGB image or (H, W, 3) uint8 array -> QImage (a deep copy, safe in any thread)."""
    from PySide6.QtGui import QImage

    arr = np.ascontiguousarray(np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)[..., :3], dtype=np.uint8)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
