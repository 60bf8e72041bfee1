"""Load a TF.js graph model (`model.json` + `.bin`) into TensorFlow, without tfjs-graph-converter.

A TF.js graph model is a TensorFlow GraphDef written as JSON (`modelTopology`) whose constants
live in the .bin file, listed in `weightsManifest` in file order (some stored as float16 or
uint8-quantised). Three things stop TensorFlow from importing it as it is:

* TF.js has no int64: attributes typed int64 (SparseToDense's index type, ...) are set to int32,
  and the int64 constants, stored as int32 in the .bin, stay int32;
* the TF.js converter fuses ops into `_FusedConv2D` / `FusedDepthwiseConv2dNative` (with
  BiasAdd and an activation): they are split back into plain TensorFlow ops, which the TFLite
  converter understands;
* graphs exported with batch 1 bake it into Reshape shapes: `free_batch` rewrites them.

Used by build_scripts/convert_detectors.py (build time only; needs TensorFlow).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

_DTYPES = {"float32": np.float32, "float16": np.float16, "int32": np.int32, "uint8": np.uint8,
           "bool": np.bool_}


def read_weights(model_json: Path) -> dict[str, np.ndarray]:
    """The constants of the graph by node name, as float32 / int32 arrays."""
    doc = json.loads(model_json.read_text(encoding="utf-8"))
    out: dict[str, np.ndarray] = {}
    for group in doc["weightsManifest"]:
        raw = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            q = w.get("quantization")
            stored = _DTYPES[q["dtype"] if q else w["dtype"]]
            count = int(np.prod(w["shape"], dtype=np.int64))
            a = np.frombuffer(raw, dtype=stored, count=count, offset=offset).reshape(w["shape"])
            offset += a.nbytes
            if q and q["dtype"] == "uint8":  # affine-quantised: value = q * scale + min
                a = a.astype(np.float32) * q["scale"] + q["min"]
            out[w["name"]] = a.astype(np.float32 if w["dtype"] == "float32" else np.int32)
        if offset != len(raw):
            raise ValueError(f"{model_json.name}: read {offset} of {len(raw)} weight bytes")
    return out


def _s(value: str) -> str:
    return base64.b64decode(value).decode()


def _fix_int64(node: dict) -> None:
    for attr in node.get("attr", {}).values():
        if attr.get("type") == "DT_INT64":
            attr["type"] = "DT_INT32"
        if "tensor" in attr and attr["tensor"].get("dtype") == "DT_INT64":
            attr["tensor"]["dtype"] = "DT_INT32"


_ACTIVATIONS = {"Relu", "Relu6", "Elu", "Sigmoid", "Tanh"}


def _split_fused(node: dict) -> list[dict]:
    """`_FusedConv2D` / `FusedDepthwiseConv2dNative` with [BiasAdd(, activation)] -> plain ops."""
    fused = [_s(s) for s in node["attr"].get("fused_ops", {}).get("list", {}).get("s", [])]
    if not fused or fused[0] != "BiasAdd" or any(f not in _ACTIVATIONS for f in fused[1:]):
        raise ValueError(f"{node['name']}: fused ops {fused} are not handled")
    name, (x, filt, bias) = node["name"], node["input"][:3]
    keep = ("T", "strides", "padding", "data_format", "dilations", "explicit_paddings")
    attr = {k: v for k, v in node["attr"].items() if k in keep}
    if node["op"] == "FusedDepthwiseConv2dNative":
        conv_op = "DepthwiseConv2dNative"
    else:
        conv_op, attr["use_cudnn_on_gpu"] = "Conv2D", {"b": True}
    if conv_op == "DepthwiseConv2dNative" and not attr.get("explicit_paddings", {}).get("list"):
        attr.pop("explicit_paddings", None)
    t = {"T": node["attr"]["T"]}
    ops = [{"op": conv_op, "input": [x, filt], "attr": attr},
           {"op": "BiasAdd", "input": [None, bias],
            "attr": {**t, "data_format": node["attr"].get("data_format", {"s": "TkhXQw=="})}}]
    ops += [{"op": act, "input": [None], "attr": t} for act in fused[1:]]
    return _chain(ops, name)


def _chain(ops: list[dict], name: str) -> list[dict]:
    """Name the ops and link each to the one before it (its first input). The last takes the
    fused node's name, so that the fused node's consumers read it unchanged."""
    names = [f"{name}/_part{i}" for i in range(len(ops) - 1)] + [name]
    for i, op in enumerate(ops):
        op["name"] = names[i]
        if i:
            op["input"] = [names[i - 1]] + op["input"][1:]
    return ops


def graph_def(model_json: Path, input_shape: list[int] | None = None):
    """The model's GraphDef, importable by TensorFlow, with its weights inside.

    input_shape: replaces the (single) Placeholder's shape, e.g. [-1, 3, 320, 320]."""
    from google.protobuf import json_format
    from tensorflow.core.framework import graph_pb2

    doc = json.loads(model_json.read_text(encoding="utf-8"))
    topo = doc["modelTopology"]
    weights = read_weights(model_json)
    nodes = []
    for node in topo["node"]:
        _fix_int64(node)
        if node["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
            nodes.extend(_split_fused(node))
            continue
        if node["op"] == "Placeholder" and input_shape is not None:
            node["attr"]["shape"] = {"shape": {"dim": [{"size": str(d)} for d in input_shape]}}
        nodes.append(node)
    gd = json_format.ParseDict({"node": nodes, "versions": topo.get("versions", {})},
                               graph_pb2.GraphDef())
    set_constants(gd, weights)
    return gd


def set_constants(gd, values: dict[str, np.ndarray]) -> None:
    """Put arrays into the Const nodes of the same name (dtype taken from the array)."""
    import tensorflow as tf

    for node in gd.node:
        if node.op == "Const" and node.name in values:
            value = values[node.name]
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
            node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum


def const_value(gd, name: str) -> np.ndarray:
    import tensorflow as tf

    node = next(n for n in gd.node if n.name == name)
    return tf.make_ndarray(node.attr["value"].tensor)


def callable_graph(gd, inputs: list[str], outputs: list[str]):
    """A TensorFlow function (inputs -> outputs, by tensor name) running the imported graph."""
    import tensorflow as tf

    def _import():
        tf.compat.v1.import_graph_def(gd, name="")

    wrapped = tf.compat.v1.wrap_function(_import, [])
    g = wrapped.graph
    return wrapped.prune([g.get_tensor_by_name(n) for n in inputs],
                         [g.get_tensor_by_name(n) for n in outputs])


def static_shapes(gd, names: list[str]) -> dict[str, list[int]]:
    """The shapes TensorFlow infers for tensors of the graph as it is."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    return {n: g.get_tensor_by_name(n).shape.as_list() for n in names}


def free_batch(gd) -> None:
    """Rewrite every Reshape's target shape as [-1, d1, d2, ...] from the shapes inferred with
    the batch fixed at 1 (the graph must have a batch-1 input when this is called): the
    exported graphs compute [1, ...] shapes, some through SparseToDense of constants."""
    import tensorflow as tf

    reshapes = [n for n in gd.node if n.op == "Reshape"]
    shapes = static_shapes(gd, [n.name + ":0" for n in reshapes])
    for n in reshapes:
        dims = shapes[n.name + ":0"]
        if dims[0] != 1 or any(d is None for d in dims):
            raise ValueError(f"{n.name}: cannot free the batch of shape {dims}")
        shape_name = n.name + "/free_batch_shape"
        const = gd.node.add()
        const.name, const.op = shape_name, "Const"
        const.attr["dtype"].type = tf.int32.as_datatype_enum
        const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(np.array([-1] + dims[1:], np.int32)))
        n.input[1] = shape_name
        n.attr["Tshape"].type = tf.int32.as_datatype_enum
