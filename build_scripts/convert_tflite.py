"""Convert the shipped models that tagging runs into LiteRT (.tflite) files, once.

    .venv/bin/python build_scripts/convert_tflite.py        (needs `pip install -e .[train]`)

Reads the weights that ship (model_assets/encoder/*.weights.h5, model_assets/tag_detector/
weights.npz) and writes, next to them:

* ``encoder/mobilenet_v1_imagenet.tflite``: uint8 photos (N, 224, 224, 3) -> ``features``
  (N, 49, 1024), the attention locations, and ``probs`` (N, 1001), the ImageNet softmax. The
  uint8 -> float cast, the TF-Slim scaling, the reshape and the softmax are inside the model.
* ``tag_detector/tag_detector.tflite``: pooled features ``embedding`` (N, 1024) -> ``probs``
  (N, tags), the standardisation and sigmoid inside.

Both keep float32 weights (no quantisation: the captions must stay those of the TensorFlow
model) and a free batch size. The script checks each against TensorFlow / NumPy on real photos
and writes their entries (sha256, source, licence) into model_assets/registry.json (the encoder's provenance from
the entry of its Keras weights, which build_scripts/convert_encoder.py writes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_app.captioning.encoder import (  # noqa: E402
    FEATURE_SHAPE,
    INPUT_SIZE,
    NUM_CLASSES,
    TFLITE_NAME,
    default_weights_path,
)
from desktop_app.paths import model_assets_dir, resources_dir  # noqa: E402
from desktop_app.runtime.registry import entry_for, read_registry, write_registry  # noqa: E402
from desktop_app.tagging.detector import TFLITE_NAME as DETECTOR_TFLITE  # noqa: E402
from desktop_app.tagging.detector import TagDetector, arrays_fingerprint  # noqa: E402

HASHLENS_TRAINED = ("trained by hashlens on Flickr8k's train split (Hodosh et al. 2013; images "
                    "Flickr, research use); code MIT")


def convert_encoder(out: Path) -> Path:
    import tensorflow as tf

    from desktop_app.captioning.encoder import build_encoder

    model = build_encoder()

    @tf.function(input_signature=[tf.TensorSpec((None, INPUT_SIZE, INPUT_SIZE, 3), tf.uint8, name="pixels")])
    def encode(pixels):
        o = model(tf.cast(pixels, tf.float32), training=False)
        feats = tf.reshape(o["features"], (-1, FEATURE_SHAPE[0] * FEATURE_SHAPE[1], FEATURE_SHAPE[2]))
        return {"features": feats, "probs": tf.nn.softmax(o["logits"], axis=-1)}

    # Keras 3 variables are not tf.Module trackables: keep the tf.Variables under them.
    _convert(encode, out, weights=[v.value for v in model.weights])
    return out


def convert_detector(folder: Path, out: Path) -> Path:
    import tensorflow as tf

    with np.load(folder / "weights.npz", allow_pickle=False) as z:
        mean, std, w, b = (z[k].astype(np.float32) for k in ("mean", "std", "w", "b"))
    dim = w.shape[0]

    @tf.function(input_signature=[tf.TensorSpec((None, dim), tf.float32, name="embedding")])
    def detect(embedding):
        z = (embedding - tf.constant(mean)) / tf.constant(std)
        return {"probs": tf.sigmoid(tf.matmul(z, tf.constant(w)) + tf.constant(b))}

    _convert(detect, out)
    # The app's detector is the .tflite: detector.json carries the weights' fingerprint, by
    # which the library keys its habit sums (the same value the NumPy weights give).
    meta_path = folder / "detector.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["fingerprint"] = arrays_fingerprint(mean, std, w, b)
    meta_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return out


def _convert(fn, out: Path, **keep) -> None:
    """Through a SavedModel, so that the .tflite keeps the signature's names and the weights."""
    import tempfile

    import tensorflow as tf

    module = tf.Module()
    module.fn = fn
    for k, v in keep.items():
        setattr(module, k, v)
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": fn.get_concrete_function()})
        out.write_bytes(tf.lite.TFLiteConverter.from_saved_model(tmp).convert())
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def check_encoder(path: Path) -> float:
    """Max abs difference LiteRT vs TensorFlow on the sample photos (features and probs)."""
    from desktop_app.captioning.encoder import build_encoder
    from desktop_app.imaging import load_for_model
    from desktop_app.runtime.litert import LiteModel

    photos = np.stack([load_for_model(p)[0] for p in sorted((resources_dir() / "samples").glob("*.jpg"))])
    tf_out = build_encoder()(photos.astype(np.float32), training=False)
    lite = LiteModel(path).run(pixels=photos)
    d_feat = float(np.abs(lite["features"] - np.asarray(tf_out["features"]).reshape(len(photos), -1, 1024)).max())
    probs = np.exp(np.asarray(tf_out["logits"], np.float64))
    probs /= probs.sum(axis=1, keepdims=True)
    d_prob = float(np.abs(lite["probs"] - probs).max())
    assert lite["probs"].shape == (len(photos), NUM_CLASSES)
    print(f"encoder: LiteRT vs TensorFlow on {len(photos)} photos: features {d_feat:.2e}, probs {d_prob:.2e}")
    return max(d_feat, d_prob)


def check_detector(folder: Path, path: Path) -> float:
    from desktop_app.runtime.litert import LiteModel

    reference = TagDetector.from_folder_arrays(folder)
    x = np.random.default_rng(0).gamma(1.0, 0.5, size=(64, reference.dim)).astype(np.float32)
    d = float(np.abs(LiteModel(path).run(embedding=x)["probs"] - reference.probabilities(x)).max())
    print(f"tag detector: LiteRT vs NumPy on 64 embeddings: {d:.2e}")
    return d


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    a = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    assets = model_assets_dir()
    det_dir = assets / "tag_detector"
    enc = convert_encoder(default_weights_path().parent / TFLITE_NAME)
    det = convert_detector(det_dir, det_dir / DETECTOR_TFLITE)
    worst = max(check_encoder(enc), check_detector(det_dir, det))
    if not worst <= a.tolerance:  # (NaN fails too)
        print(f"LiteRT disagrees with the source models ({worst:.2e} > {a.tolerance})", file=sys.stderr)
        return 1
    entries = read_registry()
    keras_weights = entries["encoder_keras"]  # written by build_scripts/convert_encoder.py
    for e in (
        entry_for(enc, "encoder", "runtime", "MobileNetV1 ImageNet encoder + classifier, LiteRT",
                  keras_weights.source + "; converted by build_scripts/convert_tflite.py",
                  keras_weights.licence),
        entry_for(det, "tag_detector", "runtime", "tag detector (211 logistic regressions), LiteRT",
                  HASHLENS_TRAINED + "; build_scripts/train_tag_detector.py, converted by "
                  "build_scripts/convert_tflite.py", "MIT (hashlens)"),
        entry_for(det_dir / "weights.npz", "tag_detector_weights", "source",
                  "tag detector weights (NumPy), the source of tag_detector.tflite",
                  HASHLENS_TRAINED + "; build_scripts/train_tag_detector.py", "MIT (hashlens)"),
        entry_for(assets / "captioner" / "decoder.npz", "captioner_decoder", "runtime",
                  "Show, Attend and Tell attention decoder (run in NumPy)",
                  HASHLENS_TRAINED + "; hashlens train", "MIT (hashlens)"),
    ):
        entries[e.name] = e
    print(f"wrote {write_registry(entries)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
