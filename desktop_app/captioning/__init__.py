"""The Show, Attend and Tell captioner.

This package's __init__ is cheap: `load_captioner` imports the model code (LiteRT and NumPy;
TensorFlow only for HASHLENS_RUNTIME=tensorflow) when a model is actually needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from ..results import CaptionResult


class Captioner(Protocol):
    """What the pipeline needs from a captioner (the real one, or a fake in tests)."""

    version: str
    input_size: int  # photos are squashed to input_size x input_size RGB

    def caption_batch(self, images: np.ndarray, beam: int = 3) -> list[CaptionResult]:
        """images: (N, input_size, input_size, 3) uint8 -> one CaptionResult per photo."""
        ...


def load_captioner(bundle: str | Path | None = None) -> Captioner:
    """Load a model bundle (the shipped default when None) with the shipped encoder (~0.3 s)."""
    from .inference import BundleCaptioner

    return BundleCaptioner.load(bundle)
