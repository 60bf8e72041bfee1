"""The COCO-80 object detector: NanoDet (model_assets/detectors/objects.tflite) on LiteRT.

The model takes photos framed on an S x S square (uint8 RGB; S = 320, the model's input size;
framing.py: padded to at most 4:3, then squashed) and returns,
for every cell of its three grids (strides 8, 16, 32), the 80 class scores and a GFL box
distribution (Li et al. 2020, "Generalized Focal Loss"): for each side of the box, a softmax
over 11 bins whose expected value is the distance from the cell's centre, in strides. This
module decodes the cells that pass a class's threshold, keeps the best box of each overlapping
group per class (NMS), and returns `Detection`s with boxes as fractions of the photo (the
square's fractions divided by the part of it the photo fills).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..results import Detection
from ..runtime.litert import LiteModel
from .framing import check_batch, to_photo
from .labels import COCO_LABELS
from .nms import batched_nms

STRIDES = (8, 16, 32)
BINS = 11  # GFL's reg_max + 1
NMS_IOU = 0.6  # NanoDet's own
MAX_PER_PHOTO = 50
Fill = tuple[float, float] | None  # the part of the square the photo fills (framing.py)

# A class is reported when its score reaches its threshold. Chosen with bench/detector_accuracy.py
# for a high image-level precision of "this photo has a <class>" (a wrong #giraffe is worse than a
# missed one) on the COCO sample, checked for false alarms on Flickr8k dev photos.
# Tuned on 130 photos, so a class's own figure rests on a handful of them; the sample
# flatters the detector (it trained on COCO train, where the photos come from). Raised above
# the default: classes seen said wrongly (large animals, mostly for dogs on Flickr8k photos;
# toilet, tv, bottle, vase on COCO; a toy car as cake, a BMX as snowboard on Flickr8k); person
# lowered (no false person at 0.4 on either set).
DEFAULT_THRESHOLD = 0.45
CLASS_THRESHOLDS: Mapping[str, float] = {
    "person": 0.40,
    "car": 0.50, "bottle": 0.50, "tv": 0.50, "surfboard": 0.50, "baseball glove": 0.50,
    "toilet": 0.55, "potted plant": 0.55, "vase": 0.55, "hot dog": 0.55, "frisbee": 0.55,
    "umbrella": 0.55, "bed": 0.55, "fire hydrant": 0.55, "snowboard": 0.55,
    "skis": 0.50, "suitcase": 0.50, "apple": 0.60, "backpack": 0.60, "cake": 0.65,
    # animals (after the one-animal-per-cell rule below)
    "dog": 0.50, "cat": 0.50, "bird": 0.55, "sheep": 0.55, "elephant": 0.55, "giraffe": 0.60,
    "bear": 0.60, "horse": 0.65, "cow": 0.75,
}
# The detector scores each class independently, and a dog often scores as a cat, horse or cow
# in the same cell too: in each cell only the best-scored of these classes may be reported.
ANIMALS = ("bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe")


def grid_centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The centres (cells, 2) in input pixels and the stride (cells,) of every cell, in the
    model's output order (stride 8 grid row by row, then 16, then 32). NanoDet's GFL head
    measures from the cell's centre, (i + 0.5) * stride (boxes match COCO's better than from
    its corner: bench/detector_accuracy.py, box precision 0.78 vs 0.71 at IoU 0.5)."""
    centres, strides = [], []
    for s in STRIDES:
        n = size // s
        ys, xs = np.mgrid[0:n, 0:n]
        centres.append((np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * s)
        strides.append(np.full(n * n, s))
    return np.concatenate(centres).astype(np.float32), np.concatenate(strides).astype(np.float32)


def decode_boxes(regression: np.ndarray, centres: np.ndarray, strides: np.ndarray) -> np.ndarray:
    """GFL decoding: (M, 44) distributions -> (M, 4) boxes x0, y0, x1, y1 in input pixels."""
    logits = regression.reshape(-1, 4, BINS).astype(np.float64)
    p = np.exp(logits - logits.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    dist = (p @ np.arange(BINS, dtype=np.float64)) * strides[:, None]  # left, top, right, bottom
    return np.concatenate([centres - dist[:, :2], centres + dist[:, 2:]], axis=1)


class ObjectDetector:
    """Finds COCO's 80 everyday classes in photos squashed to `input_size` x `input_size`."""

    finds = "objects"  # what the pipeline runs it for (pipeline.detect_photos)

    def __init__(self, model: LiteModel, thresholds: Mapping[str, float] | None = None,
                 default_threshold: float = DEFAULT_THRESHOLD):
        self.model = model
        shape, _ = model.inputs["pixels"]
        self.input_size = int(shape[1])
        self.labels = COCO_LABELS
        wanted = dict(CLASS_THRESHOLDS if thresholds is None else thresholds)
        unknown = set(wanted) - set(COCO_LABELS)
        if unknown:
            raise ValueError(f"thresholds for classes the detector does not know: {sorted(unknown)}")
        self.thresholds = np.array([wanted.get(c, default_threshold) for c in COCO_LABELS], np.float32)
        self._centres, self._strides = grid_centres(self.input_size)
        self._animals = np.array([COCO_LABELS.index(c) for c in ANIMALS])

    def scores(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The raw model outputs: scores (N, cells, 80) and regression (N, cells, 44)."""
        out = self.model.run(pixels=images)
        return out["scores"], out["regression"]

    def detect_batch(self, images: np.ndarray, fills: Sequence[Fill] | None = None,
                     min_score: float | None = None) -> list[list[Detection]]:
        """images: (N, S, S, 3) uint8 RGB, best made by `framing.frame_photo` (padded to at most
        4:3, then squashed), with its `fills`; without fills, each image is taken as the whole
        photo squashed. Returns each photo's detections, best first, boxes as fractions of the
        photo. min_score: one threshold for all classes instead of the tuned per-class ones
        (the accuracy bench sweeps it)."""
        images, fills = check_batch(images, self.input_size, fills, "object detector")
        if not len(images):
            return []
        scores, regression = self.scores(images)
        thresholds = self.thresholds if min_score is None else np.full(80, min_score, np.float32)
        return [self._decode(s, r, thresholds, f)
                for s, r, f in zip(scores, regression, fills, strict=True)]

    def _decode(self, scores: np.ndarray, regression: np.ndarray, thresholds: np.ndarray,
                fill: Fill) -> list[Detection]:
        passed = scores >= thresholds
        animal = scores[:, self._animals]
        passed[:, self._animals] &= animal >= animal.max(axis=1, keepdims=True)
        cells, classes = np.nonzero(passed)
        if not len(cells):
            return []
        conf = scores[cells, classes]
        boxes = decode_boxes(regression[cells], self._centres[cells], self._strides[cells])
        boxes = to_photo(boxes / self.input_size, fill)
        inside = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, conf, classes = boxes[inside], conf[inside], classes[inside]
        keep = batched_nms(boxes, conf, classes, NMS_IOU, MAX_PER_PHOTO)
        return [Detection("object", self.labels[classes[i]], float(conf[i]),
                          tuple(float(v) for v in boxes[i])) for i in keep]
