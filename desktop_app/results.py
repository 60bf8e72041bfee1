"""Data classes for results that cross layers (captioner -> tagging -> library -> UI/CLI).

They hold plain Python and NumPy values only, so the CLI, the GUI and the tests can use them
without importing TensorFlow or Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LOW_CONFIDENCE, UNSURE_WORD = 0.05, 0.2  # below these, a caption / a word is a guess
MAX_HASHTAGS = 30  # Instagram refuses a post with more than 30 hashtags


@dataclass(frozen=True)
class ImagenetGuess:
    """One of the ImageNet head's top classes for a photo."""

    label: str  # human-readable class name, e.g. "golden retriever"
    prob: float


@dataclass(frozen=True)
class AlternativeCaption:
    tokens: tuple[str, ...]
    token_probs: tuple[float, ...]
    weight: float  # its probability relative to the best caption's (best = 1.0)


@dataclass(frozen=True)
class CaptionResult:
    """What the captioner says about one photo."""

    caption: str  # the words joined by spaces, no special tokens
    tokens: tuple[str, ...]
    token_probs: tuple[float, ...]  # the decoder's probability of each token, same length
    attention: np.ndarray  # (len(tokens), H*W) attention weights, each row sums to 1
    grid: tuple[int, int]  # (H, W) of the attention grid, e.g. (7, 7)
    log_prob: float  # the beam's total log probability
    embedding: np.ndarray | None = None  # pooled encoder features (1024,), for neighbours
    imagenet: tuple[ImagenetGuess, ...] = ()
    model_version: str = ""
    # The beam's runners-up: other captions the model found almost as likely. Words they agree
    # on are more certain; words only they have are extra hashtag candidates.
    alternatives: tuple[AlternativeCaption, ...] = ()
    # "model": the captioner's words; "grounded": a subject the detectors contradicted was
    # replaced by what they saw; "detections": a plain sentence made from the detections.
    source: str = "model"
    original: str = ""  # the captioner's own caption when source is not "model"
    boxed_words: tuple[int, ...] = ()  # tokens whose "attention" is a detected box, not the model's

    @property
    def confidence(self) -> float:
        """The geometric mean of the token probabilities, 0..1: how sure the model is overall.

        Photos unlike anything in the training data (the captioner learned from Flickr8k:
        people, dogs, outdoor scenes) come out low, and the app says so rather than pretend.
        """
        if not self.token_probs:
            return 0.0
        return float(np.exp(np.mean(np.log(np.clip(self.token_probs, 1e-12, 1.0)))))

    def unsure_indices(self) -> list[int]:
        """Positions of the words the model gave a probability under UNSURE_WORD."""
        return [i for i, p in enumerate(self.token_probs[: len(self.tokens)]) if p < UNSURE_WORD]

    def attention_map(self, index: int) -> np.ndarray:
        """The attention weights of token `index` as an (H, W) array."""
        return np.asarray(self.attention[index]).reshape(self.grid)


@dataclass(frozen=True)
class Detection:
    """A thing a detector found in the photo: a COCO object ("giraffe", "tennis racket") or a
    face ("face"). Faces are boxes only: no identity is computed, stored or shown."""

    kind: str  # "object" or "face"
    label: str
    score: float  # 0..1, the detector's confidence
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the photo's width/height

    @property
    def area(self) -> float:
        """The share of the photo the box covers (0..1)."""
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)

    def to_json(self) -> dict:
        return {"kind": self.kind, "label": self.label, "score": round(float(self.score), 4),
                "box": [round(float(v), 4) for v in self.box]}


@dataclass
class HashtagSuggestion:
    """A hashtag candidate with its score and where it came from.

    `source` is one of "caption", "imagenet", "detector", "library", "popular", "trending", "rule".
    `token_indices` point into CaptionResult.tokens so the UI can show that word's attention.
    `parts` holds the components of the score (e.g. {"model": 0.7, "approval": 0.9}) and
    `reason` a short sentence for a tooltip ("you approved this on 12 similar photos").
    """

    tag: str  # with the leading '#', e.g. "#teddybear"
    score: float  # 0..1, higher is better
    source: str
    token_indices: tuple[int, ...] = ()
    words: tuple[str, ...] = ()  # the source words, e.g. ("teddy", "bear")
    parts: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    # Indices into PhotoResult.detections of the boxes this tag names (#giraffe -> the giraffes),
    # so the window can outline them the way it shows a caption word's attention.
    box_indices: tuple[int, ...] = ()

    def to_json(self) -> dict:
        return {
            "tag": self.tag,
            "score": round(float(self.score), 4),
            "source": self.source,
            "tokens": list(self.token_indices),
            "words": list(self.words),
            "parts": {k: round(float(v), 4) for k, v in self.parts.items()},
            "reason": self.reason,
            "boxes": list(self.box_indices),
        }


@dataclass
class PhotoResult:
    """One photo through the whole pipeline: what the CLI prints and the GUI shows."""

    path: str
    caption: CaptionResult | None = None
    hashtags: list[HashtagSuggestion] = field(default_factory=list)
    error: str | None = None
    content_hash: str = ""
    size: tuple[int, int] = (0, 0)  # original (width, height)
    detections: tuple[Detection, ...] = ()  # objects and faces found in the photo

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self, attention: bool = False) -> dict:
        """The result as `hashlens tag --json` prints it; `attention`: with each caption word's
        attention grid (rows of the caption's grid, each word's map summing to 1)."""
        cap = self.caption
        out = {
            "path": self.path,
            "caption": cap.caption if cap else None,
            "tokens": list(cap.tokens) if cap else [],
            "token_probs": [round(float(p), 4) for p in cap.token_probs] if cap else [],
            "confidence": round(cap.confidence, 4) if cap else None,
            "hashtags": [h.to_json() for h in self.hashtags],
            "detections": [d.to_json() for d in self.detections],
            "caption_source": cap.source if cap else None,
            "error": self.error,
        }
        if attention and cap is not None:
            out["attention"] = {"grid": list(cap.grid), "words": [
                np.round(cap.attention_map(i), 4).tolist() for i in range(len(cap.tokens))]}
        return out
