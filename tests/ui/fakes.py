"""A fake captioner (no TensorFlow, no trained model), photo fixtures and a deferring task runner
for UI/export tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from desktop_app.results import CaptionResult
from desktop_app.session.tasks import SyncRunner

CAPTION = ("a", "teddy", "bear", "sitting", "on", "a", "wooden", "bench")


def peaked_attention(n_tokens: int, grid=(7, 7), seed: int = 0) -> np.ndarray:
    """One smooth bump per token, at a different cell each; rows sum to 1."""
    h, w = grid
    yy, xx = np.mgrid[0:h, 0:w]
    rows = []
    for i in range(n_tokens):
        cy, cx = (i * 2 + seed) % h, (i * 3 + seed) % w
        bump = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 1.5)
        rows.append((bump / bump.sum()).ravel())
    return np.asarray(rows, dtype=np.float32)


class FakeCaptioner:
    version = "fake-1"
    input_size = 224
    device = "CPU (fake)"

    def __init__(self, tokens=CAPTION, probs=None, device="CPU (fake)"):
        self.tokens = tuple(tokens)
        self.probs = probs  # each token's probability (None: confident, 0.9 falling by 0.05)
        self.device = device
        self.calls = 0

    def caption_batch(self, images: np.ndarray, beam: int = 3) -> list[CaptionResult]:
        self.calls += 1
        out = []
        for img in images:
            seed = int(np.asarray(img).mean()) % 7
            rng = np.random.default_rng(seed)
            out.append(CaptionResult(
                caption=" ".join(self.tokens),
                tokens=self.tokens,
                token_probs=tuple(self.probs) if self.probs is not None
                else tuple(0.9 - 0.05 * i for i in range(len(self.tokens))),
                attention=peaked_attention(len(self.tokens), seed=seed),
                grid=(7, 7),
                log_prob=-3.0,
                # Not the encoder's 1024 dimensions: the tag detector must not read noise as a photo.
                embedding=rng.normal(size=64).astype(np.float32),
                model_version=self.version,
            ))
        return out


def make_photos(folder: Path, n: int = 2, broken: bool = False) -> list[Path]:
    """n small JPEGs of different colours (different content hashes), and a corrupt one."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"photo{i}.jpg"
        arr = np.zeros((120, 160, 3), np.uint8)
        arr[..., 0] = (40 + 50 * i) % 256
        arr[30:90, 40:120, 1] = 200
        arr[..., 2] = np.linspace(0, 255, 160, dtype=np.uint8)[None, :]
        Image.fromarray(arr).save(p, quality=90)
        paths.append(p)
    if broken:
        p = folder / "broken.jpg"
        p.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
        paths.append(p)
    return paths


class Deferred(SyncRunner):
    """Keeps tasks until told to run them: what a thread pool does to the GUI thread's view."""

    def __init__(self):
        self.tasks = []

    def run_task(self, func, on_done=None, on_error=None, priority=0):
        self.tasks.append((func, on_done, on_error))

    def run_all(self):
        while self.tasks:
            SyncRunner.run_task(self, *self.tasks.pop(0))

    def run_waiting(self):
        """The tasks waiting now, not those they ask for."""
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            SyncRunner.run_task(self, *task)
