"""Local object and face detectors (LiteRT), loaded once per process.

    from desktop_app.detection import load_object_detector, load_face_detector
    det = load_object_detector()
    square, fill = frame_photo(photo, det.input_size)     # padded to <= 4:3, then squashed
    det.detect_batch(square[None], [fill])                 # -> [[Detection, ...]] per photo

Faces come from a detector that also finds cats' and dogs' faces: `faces_on_people(found)`
keeps only the faces on a detected person (run it on each photo's objects + faces).

Both models ship in model_assets/detectors/ and are verified against the model registry before
they load (a missing or damaged file raises ModelFileError naming it).
"""

from __future__ import annotations

import threading
from functools import lru_cache

from ..runtime.litert import LiteModel
from ..runtime.registry import verified_path
from .faces import FaceDetector, faces_on_people
from .framing import frame_photo
from .labels import COCO_LABELS
from .objects import ObjectDetector

__all__ = ["COCO_LABELS", "FaceDetector", "ObjectDetector", "faces_on_people", "frame_photo",
           "load_face_detector", "load_object_detector"]

_lock = threading.Lock()  # two threads asking at once load the model once


@lru_cache(maxsize=1)
def _objects() -> ObjectDetector:
    return ObjectDetector(LiteModel(verified_path("objects")))


@lru_cache(maxsize=1)
def _faces() -> FaceDetector:
    return FaceDetector(LiteModel(verified_path("faces")))


def load_object_detector() -> ObjectDetector:
    """The shipped COCO-80 detector (loaded on first call, ~0.1 s; then the same object)."""
    with _lock:
        return _objects()


def load_face_detector() -> FaceDetector:
    """The shipped face detector (loaded on first call; then the same object)."""
    with _lock:
        return _faces()
