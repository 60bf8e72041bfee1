"""PhotoResult <-> JSON text, so a restored session shows a photo without captioning it again.

Arrays (attention rows, the encoder's pooled features) travel as base64 of their raw bytes with
dtype and shape; everything else as plain JSON. `decode_result(encode_result(r))` gives back an
equal result (attention in float16: what the overlay draws needs no more).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from ..results import (
    AlternativeCaption,
    CaptionResult,
    Detection,
    HashtagSuggestion,
    ImagenetGuess,
    PhotoResult,
)

FORMAT = 1


def _array(a: np.ndarray | None, dtype: str) -> dict | None:
    if a is None:
        return None
    arr = np.ascontiguousarray(np.asarray(a, dtype=dtype))
    return {"dtype": dtype, "shape": list(arr.shape), "data": base64.b64encode(arr.tobytes()).decode("ascii")}


def _unarray(d: dict | None) -> np.ndarray | None:
    if d is None:
        return None
    raw = base64.b64decode(d["data"])
    return np.frombuffer(raw, dtype=d["dtype"]).reshape(d["shape"]).astype(np.float32)


def _caption(c: CaptionResult) -> dict[str, Any]:
    return {
        "caption": c.caption, "tokens": list(c.tokens), "token_probs": [float(p) for p in c.token_probs],
        "attention": _array(c.attention, "float16"), "grid": list(c.grid), "log_prob": float(c.log_prob),
        "embedding": _array(c.embedding, "float32"),
        "imagenet": [[g.label, float(g.prob)] for g in c.imagenet],
        "model_version": c.model_version,
        "alternatives": [[list(a.tokens), [float(p) for p in a.token_probs], float(a.weight)]
                         for a in c.alternatives],
        "source": c.source, "original": c.original, "boxed_words": list(c.boxed_words),
    }


def _uncaption(d: dict[str, Any]) -> CaptionResult:
    att = _unarray(d["attention"])
    return CaptionResult(
        caption=d["caption"], tokens=tuple(d["tokens"]), token_probs=tuple(d["token_probs"]),
        attention=att if att is not None else np.zeros((0, 0), np.float32),
        grid=(int(d["grid"][0]), int(d["grid"][1])), log_prob=float(d["log_prob"]),
        embedding=_unarray(d.get("embedding")),
        imagenet=tuple(ImagenetGuess(label, prob) for label, prob in d.get("imagenet", ())),
        model_version=d.get("model_version", ""),
        alternatives=tuple(AlternativeCaption(tuple(t), tuple(p), w) for t, p, w in d.get("alternatives", ())),
        source=d.get("source", "model"), original=d.get("original", ""),
        boxed_words=tuple(int(i) for i in d.get("boxed_words", ())),
    )


def _hashtag(h: HashtagSuggestion) -> dict[str, Any]:
    return {"tag": h.tag, "score": float(h.score), "source": h.source, "tokens": list(h.token_indices),
            "words": list(h.words), "parts": {k: float(v) for k, v in h.parts.items()},
            "reason": h.reason, "boxes": list(h.box_indices)}


def _unhashtag(d: dict[str, Any]) -> HashtagSuggestion:
    return HashtagSuggestion(d["tag"], float(d["score"]), d["source"], tuple(d.get("tokens", ())),
                             tuple(d.get("words", ())), dict(d.get("parts", {})), d.get("reason", ""),
                             tuple(d.get("boxes", ())))


def encode_result(r: PhotoResult) -> str:
    return json.dumps({
        "format": FORMAT, "path": r.path, "error": r.error, "content_hash": r.content_hash,
        "size": list(r.size), "caption": _caption(r.caption) if r.caption is not None else None,
        "hashtags": [_hashtag(h) for h in r.hashtags],
        "detections": [[d.kind, d.label, float(d.score), list(d.box)] for d in r.detections],
    }, ensure_ascii=False, separators=(",", ":"))


def decode_result(text: str) -> PhotoResult:
    """Raises ValueError (or KeyError/TypeError, as ValueError) on text this did not write."""
    try:
        d = json.loads(text)
        if d.get("format") != FORMAT:
            raise ValueError(f"unknown session result format {d.get('format')!r}")
        return PhotoResult(
            path=d["path"], caption=_uncaption(d["caption"]) if d["caption"] is not None else None,
            hashtags=[_unhashtag(h) for h in d["hashtags"]], error=d["error"],
            content_hash=d["content_hash"], size=(int(d["size"][0]), int(d["size"][1])),
            detections=tuple(Detection(k, label, float(s), tuple(b)) for k, label, s, b in d["detections"]),
        )
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"damaged session result: {exc!r}") from None
