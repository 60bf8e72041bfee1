"""The frozen ImageNet image encoder: MobileNetV1 1.0 224 (TF-Slim ImageNet weights).

``build_encoder()`` returns a Keras model taking RAW pixels, float32 (N, 224, 224, 3) in 0..255,
and producing

* ``features``: (N, 7, 7, 1024), the last pointwise conv's ReLU6 activations (``conv_pw_13_relu``),
  the 49 attention locations the Show-Attend-Tell decoder attends over;
* ``logits``: (N, 1001) ImageNet logits, index 0 = "background" (see ``imagenet_labels()``).

Tagging does not build it: it runs the same model converted to LiteRT (``TFLITE_NAME``, see
``image_encoder.py``). Training, the conversion and the optional GPU path do.

The weights come from ``build_scripts/convert_encoder.py`` (provenance in
``model_assets/encoder/SOURCE.md``). This module imports TensorFlow/Keras; the package's other
modules import it lazily.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import model_assets_dir, resources_dir

if TYPE_CHECKING:
    import keras

INPUT_SIZE = 224
FEATURE_SHAPE = (7, 7, 1024)
NUM_CLASSES = 1001  # background + the 1000 ImageNet classes
WEIGHTS_NAME = "mobilenet_v1_imagenet.weights.h5"
TFLITE_NAME = "mobilenet_v1_imagenet.tflite"  # the same model for LiteRT (build_scripts/convert_tflite.py)
FEATURES_LAYER = "conv_pw_13_relu"


def default_weights_path() -> Path:
    return model_assets_dir() / "encoder" / WEIGHTS_NAME


def encoder_tag() -> str:
    """A short fingerprint of the shipped encoder weights: feature caches are keyed by it.

    Read from the model registry (the .h5's sha256), so it needs neither the file nor a hash."""
    from ..runtime.registry import shipped_entry

    return shipped_entry("encoder_keras").sha256[:16]


def build_encoder(weights_path: str | os.PathLike | None = None) -> keras.Model:
    """Build the MobileNet encoder and load its ImageNet weights (the shipped ones when None).

    The model outputs a dict ``{"features": ..., "logits": ...}``. Its input is raw 0..255 RGB:
    the TF-Slim scaling ``(x - 128) / 128`` is a Rescaling layer inside the model, so every caller
    (training, inference, export) feeds the same thing.
    """
    import keras

    path = Path(weights_path) if weights_path is not None else default_weights_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"encoder weights not found at {path} (run build_scripts/convert_encoder.py)"
        )
    mobilenet = keras.applications.MobileNet(
        input_shape=(INPUT_SIZE, INPUT_SIZE, 3),
        weights=None,
        classes=NUM_CLASSES,
        classifier_activation=None,
    )
    mobilenet.load_weights(path)
    backbone = keras.Model(
        mobilenet.input,
        [mobilenet.get_layer(FEATURES_LAYER).output, mobilenet.output],
        name="mobilenet_v1",
    )

    pixels = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), dtype="float32", name="pixels")
    scaled = keras.layers.Rescaling(scale=1.0 / 128.0, offset=-1.0, name="tf_slim_scaling")(pixels)
    features, logits = backbone(scaled)
    encoder = keras.Model(pixels, {"features": features, "logits": logits}, name="imagenet_encoder")
    encoder.trainable = False
    return encoder


@functools.cache
def imagenet_labels() -> tuple[str, ...]:
    """The 1001 class names of the logits, index 0 = "background" (resources/imagenet_classes.txt)."""
    path = resources_dir() / "imagenet_classes.txt"
    labels = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    if len(labels) != NUM_CLASSES:
        raise ValueError(f"{path}: expected {NUM_CLASSES} class names, found {len(labels)}")
    return labels
