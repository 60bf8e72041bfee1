"""Where the model looked: one word's attention as a heat map over the photo.

The 7x7 weights of one word are upsampled smoothly (bicubic) to the photo's size and stretched
per word, so its least attended cell is 0 and its most attended 1 (real models' attention is
often diffuse, the brightest cell only 1.5x the average: scaled by the peak alone such a map
changed the photo by a few percent, and clicking a word seemed to do nothing). The photo is
dimmed and desaturated, and the heat laid over it in a perceptual colour scale (dark purple ->
red -> orange -> pale yellow, `HEAT`) whose opacity grows with the weight: what the model
looked at glows, the rest recedes. The canvas marks the peak (`peak_point`) and draws the scale
(`colour_scale`) beside it; the detail panel says in words when a map is spread thin (`focus`),
so the stretched picture does not overstate it. A map with no information (all cells alike)
leaves the photo as it is.

Everything here but `to_qimage` is pure (NumPy and Pillow) and needs no Qt.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

DARK_FLOOR = 0.35  # brightness kept where the model did not look at all
DESATURATE = 0.6  # how much colour the photo loses under the heat
MAX_ALPHA = 0.78  # the heat's opacity at the peak
GAMMA = 0.8  # < 1 widens the lit area a little, so moderately attended regions stay visible
# "inferno"-like anchors (value, RGB): dark and cool for little attention, bright and warm for much
HEAT = ((0.0, (20, 11, 52)), (0.25, (101, 21, 110)), (0.5, (188, 55, 84)), (0.75, (249, 142, 9)),
        (1.0, (252, 255, 164)))


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


def _heat_table(steps: int = 256) -> np.ndarray:
    xs = np.array([x for x, _ in HEAT], np.float32)
    rgb = np.array([c for _, c in HEAT], np.float32)
    v = np.linspace(0.0, 1.0, steps, dtype=np.float32)
    return np.stack([np.interp(v, xs, rgb[:, k]) for k in range(3)], axis=-1).astype(np.float32)


_HEAT_TABLE = _heat_table()


def colour_scale(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> their HEAT colours, float32 (..., 3) in 0..255 (a 256-step table:
    a lookup per pixel, not an interpolation)."""
    v = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)
    return _HEAT_TABLE[(v * (len(_HEAT_TABLE) - 1) + 0.5).astype(np.intp)]


def is_flat(weights: np.ndarray) -> bool:
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=0.0).clip(min=0.0)
    peak = float(w.max()) if w.size else 0.0
    return peak > 0 and peak - float(w.min()) <= 1e-6 * peak


def attention_overlay(image, weights: np.ndarray) -> Image.Image:
    """The photo with one word's attention as a heat map (an RGB PIL image).

    image: a PIL image or an (H, W, 3) uint8 array. weights: (h, w), e.g. 7x7.
    """
    arr = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    arr = arr[..., :3].astype(np.float32)
    if is_flat(weights):  # looked everywhere alike: nothing to show, nothing hidden
        return Image.fromarray(arr.astype(np.uint8), "RGB")
    a = upsample_weights(weights, (arr.shape[1], arr.shape[0]))[..., None] ** GAMMA
    grey = arr.mean(axis=-1, keepdims=True)
    base = (arr * (1 - DESATURATE) + grey * DESATURATE) * (DARK_FLOOR + (1.0 - DARK_FLOOR) * a)
    alpha = MAX_ALPHA * a
    out = base * (1 - alpha) + colour_scale(a[..., 0]) * alpha
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


def peak_point(weights: np.ndarray, resolution: int = 64) -> tuple[float, float] | None:
    """Where the attention is highest, as (x, y) fractions of the photo (the smooth map's
    brightest point, between cell centres); None for a flat or empty map."""
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim != 2 or w.size == 0 or is_flat(w) or float(np.nan_to_num(w).max()) <= 0:
        return None
    up = upsample_weights(w, (resolution, resolution))
    y, x = np.unravel_index(int(np.argmax(up)), up.shape)
    return (x + 0.5) / resolution, (y + 0.5) / resolution


def box_in(rect: tuple[float, float, float, float], box: tuple[float, float, float, float]
           ) -> tuple[float, float, float, float]:
    """A detector box (x0, y0, x1, y1 as fractions of the photo) in the coordinates of `rect`
    (x, y, width, height: where the photo is drawn), clipped to the photo."""
    x, y, w, h = rect
    x0, y0, x1, y1 = (min(1.0, max(0.0, float(v))) for v in box)
    return x + x0 * w, y + y0 * h, max(0.0, x1 - x0) * w, max(0.0, y1 - y0) * h


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
