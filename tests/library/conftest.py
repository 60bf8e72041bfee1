"""Shared helpers for the tag library tests: a fake clock, results and embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.library.habits import PhotoFeatures
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


class BlockFeatures(PhotoFeatures):
    """Test features for `embedding()` vectors: the mean of each 64-wide block (which
    'visual directions' a photo has), plus the constant 1."""

    key = "test-blocks"
    dim = 17
    names = tuple({1: "#child", 3: "#beach", 5: "#kitchen", 7: "#dog"}.get(i, f"#thing{i}")
                  for i in range(16))

    def __call__(self, emb, suggested=None):  # (what the model said is not read)
        x = np.asarray(emb, dtype=np.float64).reshape(-1)
        if x.size != 1024:
            return None
        return np.append(x.reshape(16, 64).mean(axis=1), 1.0)


class SuggestedBlockFeatures(BlockFeatures):
    """BlockFeatures and what the model suggested: its scores for #child and #sand (as the
    shipped DetectorFeatures reads the model's suggestions for the detector's tags)."""

    key = "test-blocks+suggested"
    dim = 19
    names = BlockFeatures.names + ("#child", "#sand")
    uses_suggestions = True

    def __call__(self, emb, suggested=None):
        base = BlockFeatures.__call__(self, emb)
        if base is None:
            return None
        said = [float((suggested or {}).get(t, 0.0)) for t in ("#child", "#sand")]
        return np.concatenate([base[:-1], said, [1.0]])


def scene(*directions: int, seed: int = 0) -> np.ndarray:
    """A photo showing several things at once (e.g. a child in a kitchen)."""
    return np.maximum.reduce([embedding(d, seed=seed) for d in directions])


@pytest.fixture
def habit_lib(tmp_path, clock):
    with TagLibrary.open(tmp_path / "lib", clock=clock, habit_features=BlockFeatures()) as library:
        yield library
