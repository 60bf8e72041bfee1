"""The tag detector: hashtags read straight from the photo, next to the caption's.

A caption names two or three things and often guesses ("a man in a blue shirt" when nobody
wears one); what people tag a photo with is steadier. The detector is one logistic regression
per tag (211 tags that Flickr8k's captions give often) on the photo's pooled encoder features,
which every CaptionResult carries as its `embedding`: ~0.1 ms a photo. Trained by
build_scripts/train_tag_detector.py on the train split (weights.npz); its probability is
calibrated on dev ("how often do people give this photo this tag"), so it can both add tags and
doubt the caption's. The app runs it, like every shipped model, through LiteRT
(tag_detector.tflite, made from weights.npz by build_scripts/convert_tflite.py); the NumPy form
of the same arithmetic (`from_arrays`) serves the training script and the tests.

A missing or damaged detector is not an error: the app logs it once and tags from the caption
and the classifier alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from .rules import words_key

log = logging.getLogger(__name__)


class TagDetectorError(Exception):
    """The detector's files are missing, damaged or of another format."""


FORMAT = "hashlens-tag-detector"
TFLITE_NAME = "tag_detector.tflite"
Predict = Callable[[np.ndarray], np.ndarray]  # (n, dim) float32 -> (n, tags) probabilities


def arrays_fingerprint(*arrays: np.ndarray) -> str:
    """What identifies a detector's weights (mean, std, w, b as float32): the library keys its
    habit sums by it, so that sums made with other weights are rebuilt, never misread."""
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


class TagDetector:
    def __init__(self, tags: list[tuple[str, ...]], dim: int, predict: Predict, fingerprint: str):
        self.tags = tags
        self.fingerprint = fingerprint
        self.keys = [words_key(t) for t in tags]
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.dim = dim
        self._predict = predict

    @classmethod
    def from_arrays(cls, tags: list[tuple[str, ...]], mean: np.ndarray, std: np.ndarray, w: np.ndarray,
                    b: np.ndarray) -> TagDetector:
        """The detector's arithmetic in NumPy (training, tests, the conversion's check)."""
        if not (len(tags) == w.shape[1] == b.shape[0] and mean.shape == std.shape == (w.shape[0],)):
            raise TagDetectorError("the tag detector's arrays do not fit together")
        mean, std, w, b = (a.astype(np.float32) for a in (mean, std, w, b))

        def predict(x: np.ndarray) -> np.ndarray:
            return 1.0 / (1.0 + np.exp(-(((x - mean) / std) @ w + b)))

        return cls(tags, w.shape[0], predict, arrays_fingerprint(mean, std, w, b))

    @classmethod
    def from_folder_arrays(cls, folder: str | Path) -> TagDetector:
        """detector.json + weights.npz (what the training script writes) in NumPy."""
        folder = Path(folder)
        try:
            with np.load(folder / "weights.npz", allow_pickle=False) as z:
                arrays = {k: z[k] for k in ("mean", "std", "w", "b")}
        except (OSError, ValueError, KeyError) as exc:
            raise TagDetectorError(f"cannot read the tag detector in {folder}: {exc}") from exc
        return cls.from_arrays(_read_tags(_read_meta(folder), folder), **arrays)

    @classmethod
    def load(cls, folder: str | Path | None = None) -> TagDetector:
        """The shipped detector (verified against the model registry), or the one in folder;
        run by LiteRT."""
        from ..runtime.litert import LiteModel
        from ..runtime.registry import verified_path

        try:
            if folder is None:
                path = verified_path("tag_detector")
                folder = path.parent
            else:
                folder = Path(folder)
                path = folder / TFLITE_NAME
            meta = _read_meta(folder)
            tags, fingerprint = _read_tags(meta, folder), meta.get("fingerprint")
            model = LiteModel(path, num_threads=1)  # one small product: threads cost more than they save
        except ModelFileError as exc:
            raise TagDetectorError(str(exc)) from exc
        except OSError as exc:
            raise TagDetectorError(f"cannot read the tag detector in {folder}: {exc}") from exc
        (dim,) = model.inputs["embedding"][0][1:]
        if model.run(embedding=np.zeros((1, dim), np.float32))["probs"].shape != (1, len(tags)):
            raise TagDetectorError(f"{path} does not fit the {len(tags)} tags of {folder / 'detector.json'}")
        if not isinstance(fingerprint, str):
            raise TagDetectorError(f"{folder / 'detector.json'} has no weights fingerprint "
                                   "(run build_scripts/convert_tflite.py)")
        return cls(tags, dim, lambda x: model.run(embedding=x)["probs"], fingerprint)

    def probabilities(self, embedding: np.ndarray) -> np.ndarray | None:
        """P(tag) for every tag, of one embedding or of a stack of them (n, dim) at once; None
        when the embedding is not this detector's kind."""
        x = np.asarray(embedding, dtype=np.float32)
        single = x.ndim != 2
        if single:
            x = x.reshape(1, -1)
        if x.shape[-1] != self.dim or not np.isfinite(x).all():
            return None
        p = self._predict(x)
        return p[0] if single else p


def _read_meta(folder: Path) -> dict:
    try:
        meta = json.loads((folder / "detector.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TagDetectorError(f"cannot read the tag detector in {folder}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("format_version") != 1:
        raise TagDetectorError(f"{folder} is not a version-1 tag detector")
    return meta


def _read_tags(meta: dict, folder: Path) -> list[tuple[str, ...]]:
    try:
        return [tuple(t) for t in meta["tags"]]
    except (KeyError, TypeError) as exc:
        raise TagDetectorError(f"cannot read the tag detector in {folder}: {exc}") from exc


@lru_cache(maxsize=1)
def default_detector() -> TagDetector | None:
    """The shipped detector, or None (logged once) if it cannot be read."""
    try:
        return TagDetector.load()
    except TagDetectorError as exc:
        log.warning("hashtags without the tag detector: %s", exc)
        return None
