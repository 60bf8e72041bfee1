"""Greedy non-maximum suppression in NumPy (a photo has tens of candidate boxes, not thousands)."""

from __future__ import annotations

import numpy as np


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one (4,) box against (M, 4) boxes, all x0, y0, x1, y1."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, limit: int | None = None) -> np.ndarray:
    """Indices of the boxes kept, best first: each box drops the lower-scored ones that overlap
    it by more than `iou`."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and (limit is None or len(keep) < limit):
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[i], boxes[rest]) <= iou]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float,
                limit: int | None = None) -> np.ndarray:
    """NMS within each class only (a dog on a couch keeps both boxes), best first overall."""
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    # Shift each class's boxes far apart, so that boxes of different classes never overlap.
    span = float(boxes.max() - boxes.min()) + 1.0
    shifted = boxes + (classes.astype(np.float64) * span)[:, None]
    return nms(shifted, scores, iou, limit)
