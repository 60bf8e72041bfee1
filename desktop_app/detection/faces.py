"""The face detector: MediaPipe BlazeFace, back-camera model (model_assets/detectors/faces.tflite).

Boxes only. The model also predicts six face landmarks (eyes, ears, nose, mouth): they are
ignored, and nothing about who a face belongs to, nor their age or gender, is ever computed.

The model scores 896 anchors (a 16 x 16 grid of 2 anchors at stride 16, an 8 x 8 grid of 6 at
stride 32, on a 256 x 256 input); each predicts its box's centre offset and size in input
pixels (MediaPipe's SSD anchors of fixed size 1, centred in their cell).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..results import Detection
from ..runtime.litert import LiteModel
from .framing import check_batch, to_photo
from .nms import nms
from .objects import Fill

ANCHOR_LAYERS = ((16, 2), (32, 6))  # (stride, anchors per cell)
DEFAULT_THRESHOLD = 0.75  # MediaPipe's min_score_thresh for this model
NMS_IOU = 0.3
MAX_PER_PHOTO = 30


def anchor_centres(size: int) -> np.ndarray:
    """(896, 2) anchor centres as fractions of the input, in the model's output order."""
    out = []
    for stride, per_cell in ANCHOR_LAYERS:
        n = size // stride
        ys, xs = np.mgrid[0:n, 0:n]
        centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) / n
        out.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(out).astype(np.float64)


class FaceDetector:
    """Finds faces in photos squashed to `input_size` x `input_size` (256)."""

    finds = "faces"  # what the pipeline runs it for (pipeline.detect_photos)

    def __init__(self, model: LiteModel, threshold: float = DEFAULT_THRESHOLD):
        self.model = model
        shape, _ = model.inputs["pixels"]
        self.input_size = int(shape[1])
        self.threshold = threshold
        self._anchors = anchor_centres(self.input_size)

    def detect_batch(self, images: np.ndarray, fills: Sequence[Fill] | None = None,
                     min_score: float | None = None) -> list[list[Detection]]:
        """images: (N, 256, 256, 3) uint8 RGB, framed like the object detector's
        (framing.frame_photo) with their fills, or squashed (fills None). Returns each photo's
        faces, best first, boxes as fractions of the photo. min_score overrides the threshold."""
        images, fills = check_batch(images, self.input_size, fills, "face detector")
        if not len(images):
            return []
        out = self.model.run(pixels=images)
        threshold = self.threshold if min_score is None else min_score
        return [self._decode(sc, reg, threshold, f)
                for sc, reg, f in zip(out["scores"], out["regressors"], fills, strict=True)]

    def _decode(self, scores: np.ndarray, regressors: np.ndarray, threshold: float,
                fill: Fill) -> list[Detection]:
        idx = np.nonzero(scores >= threshold)[0]
        if not len(idx):
            return []
        r = regressors[idx, :4].astype(np.float64) / self.input_size
        centre = self._anchors[idx] + r[:, :2]
        half = r[:, 2:4] / 2
        boxes = to_photo(np.concatenate([centre - half, centre + half], axis=1), fill)
        inside = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, conf = boxes[inside], scores[idx][inside]
        keep = nms(boxes, conf, NMS_IOU, MAX_PER_PHOTO)
        return [Detection("face", "face", float(conf[i]), tuple(float(v) for v in boxes[i]))
                for i in keep]


def faces_on_people(detections: Sequence[Detection]) -> list[Detection]:
    """One photo's detections (objects and faces) without the faces that lie on no person.

    BlazeFace finds animal faces too: a cat's face scores 0.83 and dogs' 0.7-0.8 (the shipped
    chelsea.jpg; 3 of 124 Flickr8k dev photos with no person in their captions). A face whose
    centre lies in no "person" box of the object detector is dropped: that removes all of
    them, and keeps 189 of the 207 faces found on the first 600 Flickr8k dev photos.
    """
    people = [d.box for d in detections if d.kind == "object" and d.label == "person"]

    def on_someone(face: Detection) -> bool:
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        return any(x0 <= cx <= x1 and y0 <= cy <= y1 for x0, y0, x1, y1 in people)

    return [d for d in detections if d.kind != "face" or on_someone(d)]
