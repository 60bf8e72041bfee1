"""Helpers: build CaptionResults the way the captioner would, without a model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from desktop_app.results import CaptionResult, ImagenetGuess


def make_caption(
    text: str,
    probs: dict[str, float] | Sequence[float] | None = None,
    imagenet: Sequence[tuple[str, float]] = (),
    attention: np.ndarray | None = None,
) -> CaptionResult:
    """A caption with token probabilities 1.0 unless given (per word or per token)."""
    tokens = tuple(text.split())
    if probs is None:
        token_probs = (1.0,) * len(tokens)
    elif isinstance(probs, dict):
        token_probs = tuple(probs.get(t, 1.0) for t in tokens)
    else:
        token_probs = tuple(probs)
    if attention is None:
        attention = np.full((len(tokens), 49), 1 / 49, dtype=np.float32)
    return CaptionResult(
        caption=text,
        tokens=tokens,
        token_probs=token_probs,
        attention=attention,
        grid=(7, 7),
        log_prob=-1.0,
        imagenet=tuple(ImagenetGuess(label, p) for label, p in imagenet),
    )


@pytest.fixture
def caption():
    return make_caption
