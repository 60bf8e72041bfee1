"""The LiteRT inference layer: any batch size, names checked, bad files refused clearly."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.errors import ModelFileError
from desktop_app.runtime.litert import LiteModel
from desktop_app.runtime.registry import verified_path


@pytest.fixture(scope="module")
def detector_model():
    return LiteModel(verified_path("tag_detector"))


def test_any_batch_size_gives_the_same_rows(detector_model):
    x = np.random.default_rng(1).gamma(1.0, 0.5, size=(5, 1024)).astype(np.float32)
    whole = detector_model.run(embedding=x)["probs"]
    assert whole.shape[0] == 5
    for i in range(5):
        np.testing.assert_allclose(detector_model.run(embedding=x[i : i + 1])["probs"][0], whole[i], atol=1e-6)


def test_wrong_inputs_are_refused_before_the_interpreter_sees_them(detector_model):
    with pytest.raises(ValueError, match="takes \\['embedding'\\]"):
        detector_model.run(pixels=np.zeros((1, 1024), np.float32))
    with pytest.raises(ValueError, match="has shape \\(1, 7\\), expected \\(-1, 1024\\)"):
        detector_model.run(embedding=np.zeros((1, 7), np.float32))


def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path):
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelFileError, match="not a model LiteRT can run"):
        LiteModel(bad)
    with pytest.raises(ModelFileError, match="no such file"):
        LiteModel(tmp_path / "missing.tflite")


def test_the_encoder_says_which_runtime_runs_it():
    from desktop_app.captioning.image_encoder import LiteRTImageEncoder

    enc = LiteRTImageEncoder()
    assert enc.device.startswith("LiteRT ") and "CPU" in enc.device
    photos = np.random.default_rng(0).integers(0, 256, (6, 224, 224, 3), dtype=np.uint8)
    feats, probs = enc.encode(photos)
    assert feats.shape == (6, 49, 1024) and probs.shape == (6, 1001)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    one, _ = enc.encode(photos[5:])
    np.testing.assert_allclose(one[0], feats[5], atol=1e-4)
