"""Encoder features for a dataset, computed once and cached on disk (float16, resumable).

A cache file is keyed by the encoder weights and the list of images, so a changed encoder or
split never reuses stale features. Interrupted runs resume from the last finished chunk.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from ..imaging import load_for_model


class LazyImageEncoder:
    """The shipped encoder on the chosen runtime (LiteRT unless $HASHLENS_RUNTIME says
    otherwise), loaded on first use: with a complete feature cache (training, the tag
    detector's training) it never is."""

    def __init__(self):
        self._encoder = None

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._encoder is None:
            from .image_encoder import load_image_encoder

            self._encoder = load_image_encoder()
        return self._encoder.encode(images)


def cache_key(image_ids: list[str], encoder_tag: str) -> str:
    h = hashlib.sha256(encoder_tag.encode())
    for i in image_ids:
        h.update(i.encode() + b"\0")
    return h.hexdigest()[:16]


def cached_features(encoder, image_ids: list[str], image_paths: list[Path], cache_dir: Path,
                    encoder_tag: str, batch_size: int = 32) -> np.ndarray:
    """(N, L, D) float16 features for the images (memory-mapped from the cache)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = cache_key(image_ids, encoder_tag)
    data_file = cache_dir / f"features-{key}.npy"
    state_file = cache_dir / f"features-{key}.json"
    state = json.loads(state_file.read_text()) if state_file.exists() and data_file.exists() else {"done": 0}
    n = len(image_ids)
    if state["done"] >= n:
        return np.load(data_file, mmap_mode="r")
    if state["done"] == 0 or not data_file.exists():
        probe, _ = encoder.encode(np.stack([load_for_model(image_paths[0])[0]]))
        arr = open_memmap(data_file, mode="w+", dtype=np.float16, shape=(n, *probe.shape[1:]))
        state = {"done": 0}
    else:
        arr = np.load(data_file, mmap_mode="r+")
    start = time.perf_counter()
    first = state["done"]
    for lo in range(first, n, batch_size):
        hi = min(n, lo + batch_size)
        images = np.stack([load_for_model(p)[0] for p in image_paths[lo:hi]])
        feats, _ = encoder.encode(images)
        arr[lo:hi] = feats.astype(np.float16)
        arr.flush()
        state["done"] = hi
        state_file.write_text(json.dumps(state))
        rate = (hi - first) / (time.perf_counter() - start)
        sys.stderr.write(f"\rencoder features: {hi}/{n} photos, {rate:.0f}/s, "
                         f"ETA {(n - hi) / max(rate, 1e-9):.0f}s   ")
        sys.stderr.flush()
    sys.stderr.write("\n")
    del arr
    return np.load(data_file, mmap_mode="r")
