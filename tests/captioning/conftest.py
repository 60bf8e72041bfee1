"""Small models for fast captioner tests: a toy encoder and a tiny decoder (no shipped weights)."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from desktop_app.captioning.config import DecoderConfig  # noqa: E402
from desktop_app.captioning.vocabulary import Vocabulary  # noqa: E402

WORDS = "a dog cat runs sits on the grass red ball man woman beach".split()


class ToyEncoder:
    """Pixels -> a 7x7x8 grid of colour averages (deterministic, distinct per photo)."""

    def __call__(self, x, training=False):
        small = tf.image.resize(x / 255.0, (7, 7), method="area")  # (N,7,7,3)
        feats = tf.concat([small, small**2, small[..., :2] * 0.5], axis=-1)  # 8 channels
        return {"features": feats, "logits": tf.zeros((tf.shape(x)[0], 1001))}


@pytest.fixture(scope="session")
def vocab():
    return Vocabulary(WORDS)


@pytest.fixture(scope="session")
def tiny_config(vocab):
    return DecoderConfig(vocab_size=len(vocab), embed_dim=16, lstm_units=32, attention_units=16,
                         feature_dim=8, dropout=0.0, max_len=8)


@pytest.fixture(scope="session")
def tiny_decoder(tiny_config):
    import keras

    from desktop_app.captioning.decoder import build_decoder

    keras.utils.set_random_seed(7)
    return build_decoder(tiny_config)


@pytest.fixture
def photos():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(4, 224, 224, 3), dtype=np.uint8)
