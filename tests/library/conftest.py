"""Shared helpers for the tag library tests: a fake clock, results and embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.library.store import TagLibrary
from desktop_app.results import CaptionResult, HashtagSuggestion, PhotoResult


class Clock:
    def __init__(self, start: float = 1_700_000_000.0):
        self.t = start

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def cands(*pairs: tuple[str, float], source: str = "caption") -> list[HashtagSuggestion]:
    return [HashtagSuggestion(tag=t, score=s, source=source) for t, s in pairs]


def embedding(direction: int, noise: float = 0.05, seed: int = 0, dim: int = 1024) -> np.ndarray:
    """A non-negative vector near one of a few well-separated 'visual' directions."""
    rng = np.random.default_rng(seed * 7919 + direction)
    base = np.zeros(dim, dtype=np.float32)
    base[direction * 64 : direction * 64 + 64] = 1.0
    return np.maximum(base + rng.standard_normal(dim).astype(np.float32) * noise, 0.0)


def result(
    content_hash: str,
    candidates: list[HashtagSuggestion],
    emb: np.ndarray | None = None,
    path: str | None = None,
) -> PhotoResult:
    cap = CaptionResult(
        caption="a photo",
        tokens=("a", "photo"),
        token_probs=(0.9, 0.9),
        attention=np.full((2, 49), 1 / 49, dtype=np.float32),
        grid=(7, 7),
        log_prob=-1.0,
        embedding=emb,
        model_version="test-model",
    )
    return PhotoResult(
        path=path or f"/photos/{content_hash}.jpg",
        caption=cap,
        hashtags=list(candidates),
        content_hash=content_hash,
        size=(640, 480),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lib(tmp_path, clock):
    with TagLibrary.open(tmp_path / "lib", clock=clock) as library:
        yield library
