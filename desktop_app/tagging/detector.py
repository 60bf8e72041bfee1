"""The tag detector: hashtags read straight from the photo, next to the caption's.

A caption names two or three things and often guesses ("a man in a blue shirt" when nobody
wears one); what people tag a photo with is steadier. The detector is one logistic regression
per tag (211 tags that Flickr8k's captions give often) on the photo's pooled encoder features,
which every CaptionResult carries as its `embedding`: NumPy only, ~0.1 ms a photo. Trained by
build_scripts/train_tag_detector.py on the train split; its probability is calibrated on dev
("how often do people give this photo this tag"), so it can both add tags and doubt the
caption's.

A missing or damaged detector is not an error: the app logs it once and tags from the caption
and the classifier alone.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..paths import model_assets_dir
from .rules import words_key

log = logging.getLogger(__name__)
FORMAT = "hashlens-tag-detector"


class TagDetectorError(Exception):
    """The detector's files are missing, damaged or of another format."""


class TagDetector:
    def __init__(self, tags: list[tuple[str, ...]], mean: np.ndarray, std: np.ndarray, w: np.ndarray,
                 b: np.ndarray):
        if not (len(tags) == w.shape[1] == b.shape[0] and mean.shape == std.shape == (w.shape[0],)):
            raise TagDetectorError("the tag detector's arrays do not fit together")
        self.tags = tags
        self.keys = [words_key(t) for t in tags]
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)
        self.w, self.b = w.astype(np.float32), b.astype(np.float32)

    @property
    def dim(self) -> int:
        return self.w.shape[0]

    @classmethod
    def load(cls, folder: str | Path | None = None) -> TagDetector:
        folder = Path(folder) if folder else model_assets_dir() / "tag_detector"
        try:
            meta = json.loads((folder / "detector.json").read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT or meta.get("format_version") != 1:
                raise TagDetectorError(f"{folder} is not a version-1 tag detector")
            with np.load(folder / "weights.npz", allow_pickle=False) as z:
                arrays = {k: z[k] for k in ("mean", "std", "w", "b")}
            return cls([tuple(t) for t in meta["tags"]], **arrays)
        except TagDetectorError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TagDetectorError(f"cannot read the tag detector in {folder}: {exc}") from exc

    def probabilities(self, embedding: np.ndarray) -> np.ndarray | None:
        """P(tag) for every tag, of one embedding or of a stack of them (n, dim) at once; None
        when the embedding is not this detector's kind."""
        x = np.asarray(embedding, dtype=np.float32)
        if x.ndim != 2:
            x = x.reshape(-1)
        if x.shape[-1] != self.dim or not np.isfinite(x).all():
            return None
        z = (x - self.mean) / self.std
        return 1.0 / (1.0 + np.exp(-(z @ self.w + self.b)))


@lru_cache(maxsize=1)
def default_detector() -> TagDetector | None:
    """The shipped detector, or None (logged once) if it cannot be read."""
    try:
        return TagDetector.load()
    except TagDetectorError as exc:
        log.warning("hashtags without the tag detector: %s", exc)
        return None
