"""The frozen image encoder as tagging runs it: uint8 photos -> (features, ImageNet probs).

Two runtimes, one interface (`encode`, `device`):

* `LiteRTImageEncoder` (the default): the shipped MobileNet converted to LiteRT, ~7 ms a photo
  on 2 cores, loaded in ~20 ms, no TensorFlow;
* `TensorFlowImageEncoder`: a Keras encoder run as one `tf.function` (training's feature cache,
  the bench's peer designs, and the GPU path: `HASHLENS_RUNTIME=tensorflow` with
  `hashlens[gpu]` installed). LiteRT's desktop wheels have no GPU delegate; and for tagging the
  encoder is not where the time goes (decoding a phone JPEG costs more), while importing
  TensorFlow costs seconds, so the GPU path is opt-in.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from ..errors import HashlensError

RUNTIME_ENV = "HASHLENS_RUNTIME"
RUNTIMES = ("litert", "tensorflow")


class ImageEncoder(Protocol):
    device: str

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (N, S, S, 3) -> features (N, H*W, D) float32, class probs (N, classes)."""
        ...


class LiteRTImageEncoder:
    """The shipped encoder (model registry entry "encoder") on LiteRT."""

    # Photos per invoke: small batches stay in the CPU's cache (measured in
    # bench/captioner_speed.py on 2 cores: 4 at a time is as fast per photo as 16, and 1 slower).
    chunk = 4

    def __init__(self):
        from ..runtime.litert import LiteModel
        from ..runtime.registry import verified_path

        self.model = LiteModel(verified_path("encoder"))
        self.device = self.model.device

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = [self.model.run(pixels=images[lo : lo + self.chunk])
                 for lo in range(0, len(images), self.chunk)]
        return (np.concatenate([p["features"] for p in parts]),
                np.concatenate([p["probs"] for p in parts]))


class TensorFlowImageEncoder:
    """A Keras encoder (raw 0..255 float pixels -> {"features", "logits"}) as one compiled
    function whose input signature leaves the batch size open; on a GPU when TensorFlow sees one."""

    cpu_chunk = 4  # as LiteRTImageEncoder.chunk; a GPU takes the batch whole

    def __init__(self, model, input_size: int = 224):
        import tensorflow as tf

        self.model = model
        self._on_gpu = bool(tf.config.list_logical_devices("GPU"))
        self.device = f"TensorFlow {tf.__version__} · {tensorflow_device()}"
        self._encode = tf.function(self._encode_impl, input_signature=[
            tf.TensorSpec((None, input_size, input_size, 3), tf.uint8)], autograph=False)

    def _encode_impl(self, images):
        import tensorflow as tf

        out = self.model(tf.cast(images, tf.float32), training=False)  # {"features", "logits"}
        feats, logits = out["features"], out["logits"]
        b = tf.shape(feats)[0]
        feats = tf.reshape(feats, (b, -1, feats.shape[-1]))
        return feats, tf.nn.softmax(logits, axis=-1)

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import tensorflow as tf

        step = len(images) if self._on_gpu else self.cpu_chunk
        parts = [self._encode(tf.convert_to_tensor(images[lo : lo + step], tf.uint8))
                 for lo in range(0, len(images), max(1, step))]
        return (np.concatenate([f.numpy() for f, _ in parts]), np.concatenate([p.numpy() for _, p in parts]))


def tensorflow_device() -> str:
    """'GPU (NVIDIA ...)' when TensorFlow sees one, else 'CPU'. Imports TensorFlow."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    try:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "")
    except Exception:  # noqa: BLE001 - details are best-effort
        name = ""
    return f"GPU ({name})" if name else "GPU"


def chosen_runtime(runtime: str | None = None) -> str:
    """The runtime asked for (argument, else $HASHLENS_RUNTIME, else LiteRT)."""
    name = (runtime or os.environ.get(RUNTIME_ENV) or "litert").strip().lower()
    if name not in RUNTIMES:
        raise HashlensError(f"unknown runtime {name!r} (from {RUNTIME_ENV}?): choose one of "
                            f"{', '.join(RUNTIMES)}")
    return name


def runtime_description(runtime: str | None = None) -> str:
    """Which runtime and device will run the model, without loading it (or TensorFlow)."""
    if chosen_runtime(runtime) == "tensorflow":
        return f"TensorFlow ({RUNTIME_ENV}=tensorflow) · GPU when TensorFlow sees one, else CPU"
    from ..runtime.litert import litert_device

    return litert_device()


def require_tensorflow(what: str):
    """Import TensorFlow for `what` ("training"), or say how to install it (it is not in the
    app's own install, nor in the desktop bundle)."""
    # TensorFlow's C++ start-up lines (CUDA probing on a machine without a GPU, oneDNN, XLA)
    # are noise to a user; its real failures still reach Python as exceptions. Set the
    # variable yourself to see them.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow
    except ImportError:
        raise HashlensError(
            f"{what} needs TensorFlow, which the app itself does not install: "
            "pip install 'hashlens[train]' (or 'hashlens[gpu]' with an NVIDIA GPU). "
            "The desktop bundle tags photos only.") from None
    return tensorflow


def load_image_encoder(runtime: str | None = None) -> ImageEncoder:
    """The shipped encoder on the chosen runtime."""
    if chosen_runtime(runtime) == "tensorflow":
        require_tensorflow(f"{RUNTIME_ENV}=tensorflow")
        from ..runtime.registry import verified_path
        from .encoder import build_encoder

        return TensorFlowImageEncoder(build_encoder(verified_path("encoder_keras")))
    return LiteRTImageEncoder()
