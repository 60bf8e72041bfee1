"""LiteRT (what tagging runs) and TensorFlow (what trained the model) give the same captions.

On all 492 Flickr8k test photos, beam 3: every caption is identical (measured: 492 of 492; the
features differ by at most ~2e-4, 3e-5 of their range, far below what changes a beam's choice).
Skipped without TensorFlow (`pip install -e .[train]`) or without the dataset in ../shared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

FLICKR = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "flickr8k"


@pytest.mark.slow
@pytest.mark.skipif(not (FLICKR / "splits" / "test.txt").exists(), reason="Flickr8k not in ../shared")
def test_litert_and_tensorflow_caption_every_test_photo_the_same():
    from desktop_app.captioning.inference import BundleCaptioner
    from desktop_app.imaging import load_for_model

    names = (FLICKR / "splits" / "test.txt").read_text().split()
    lite = BundleCaptioner.load(None, runtime="litert")
    tf = BundleCaptioner.load(None, runtime="tensorflow")
    assert lite.device.startswith("LiteRT") and tf.device.startswith("TensorFlow")
    differ, worst_prob = [], 0.0
    for lo in range(0, len(names), 32):
        batch = np.stack([load_for_model(FLICKR / "images" / n)[0] for n in names[lo : lo + 32]])
        for name, a, b in zip(names[lo : lo + 32], lite.caption_batch(batch), tf.caption_batch(batch),
                              strict=True):
            if a.caption != b.caption:
                differ.append(f"{name}: {a.caption!r} vs {b.caption!r}")
                continue
            worst_prob = max(worst_prob, float(np.abs(np.subtract(a.token_probs, b.token_probs)).max()))
            assert a.imagenet[0].label == b.imagenet[0].label
    assert len(names) == 492
    assert differ == []
    assert worst_prob < 1e-3
