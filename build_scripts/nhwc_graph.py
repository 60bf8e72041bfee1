"""Run an NCHW graph exported from ONNX (onnx-tf) in NHWC, without its layout transposes.

onnx-tf keeps ONNX's NCHW layout and wraps every convolution in Transpose(NCHW -> NHWC) ...
Transpose(NHWC -> NCHW); the activations, paddings and concatenations in between run in NCHW.
The TFLite converter cannot remove those transposes (an activation or a pad sits between each
pair), so the NanoDet graph converts with 77 TRANSPOSE ops and no pad fused into its
convolution. `run_nhwc` rebuilds such a graph op by op with every 4-D tensor kept in NHWC:
a tensor whose meaning is NCHW is held transposed ("swapped"), the layout transposes become
no-ops, and pads, concatenations and splits have their axes mapped. Anything else (Reshape)
gets its tensor in its meaning's layout, so the result is the graph's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)
_ELEMENTWISE = {"LeakyRelu", "Relu", "Relu6", "Sigmoid", "Identity"}


@dataclass
class Value:
    tensor: object  # tf.Tensor
    swapped: bool = False  # held as transpose(meaning, TO_NHWC)
    const: np.ndarray | None = None


def _axis(axis: int) -> int:
    """A swapped tensor's stored axis for its meaning's (NCHW) axis."""
    return TO_NHWC.index(axis % 4)


def run_nhwc(gd, inputs: dict[str, object], outputs: list[str]) -> list:
    """Build `outputs` (tensor names) of GraphDef `gd` with TensorFlow ops, from NHWC `inputs`
    (placeholder name -> tensor holding the NCHW input transposed to NHWC)."""
    import tensorflow as tf

    nodes = {n.name: n for n in gd.node}
    done: dict[str, list[Value]] = {}

    def meaning(v: Value):
        return tf.transpose(v.tensor, TO_NCHW) if v.swapped else v.tensor

    def value(ref: str) -> Value:
        name, _, port = ref.partition(":")
        return done[name][int(port or 0)]

    for node in _needed_in_order(nodes, outputs):
        if node.op == "Placeholder":
            done[node.name] = [Value(inputs[node.name], swapped=True)]
        elif node.op == "Const":
            c = tf.make_ndarray(node.attr["value"].tensor)
            done[node.name] = [Value(tf.constant(c), const=c)]
        else:
            done[node.name] = _op(tf, node, [value(i) for i in _data_inputs(node)], meaning)
    return [meaning(value(o)) for o in outputs]


def _data_inputs(node) -> list[str]:
    return [i for i in node.input if not i.startswith("^")]


def _needed_in_order(nodes: dict, outputs: list[str]) -> list:
    """The nodes the outputs depend on, each after its inputs (iterative: graphs are deep)."""
    order, seen = [], set()
    stack = [(o.partition(":")[0], False) for o in outputs]
    while stack:
        name, expanded = stack.pop()
        if expanded:
            order.append(nodes[name])
            continue
        if name in seen:
            continue
        seen.add(name)
        stack.append((name, True))
        stack += [(i.partition(":")[0], False) for i in _data_inputs(nodes[name])
                  if i.partition(":")[0] not in seen]
    return order


def _op(tf, node, args: list[Value], meaning) -> list[Value]:
    op, attr = node.op, node.attr
    x = args[0]
    if op == "Transpose":
        perm = tuple(int(p) for p in args[1].const)
        if x.swapped and perm == TO_NHWC:
            return [Value(x.tensor)]
        if not x.swapped and perm == TO_NCHW and x.tensor.shape.rank == 4:
            return [Value(x.tensor, swapped=True)]
        return [Value(tf.transpose(meaning(x), perm))]
    if op in _ELEMENTWISE:
        fn = {"LeakyRelu": lambda t: tf.nn.leaky_relu(t, alpha=attr["alpha"].f), "Relu": tf.nn.relu,
              "Relu6": tf.nn.relu6, "Sigmoid": tf.sigmoid, "Identity": tf.identity}[op]
        return [Value(fn(x.tensor), x.swapped)]
    if op in ("Pad", "PadV2"):
        pads = args[1].const[list(TO_NHWC)] if x.swapped else args[1].const
        fill = float(args[2].const) if op == "PadV2" else 0.0
        return [Value(tf.pad(x.tensor, pads, constant_values=fill), x.swapped)]
    if op == "ConcatV2":
        parts, axis = args[:-1], int(args[-1].const)
        if all(p.swapped for p in parts):
            return [Value(tf.concat([p.tensor for p in parts], _axis(axis)), swapped=True)]
        return [Value(tf.concat([meaning(p) for p in parts], axis))]
    if op == "SplitV":
        sizes, axis = [int(s) for s in args[1].const], int(args[2].const)
        if x.swapped:
            return [Value(t, swapped=True) for t in tf.split(x.tensor, sizes, _axis(axis))]
        return [Value(t) for t in tf.split(x.tensor, sizes, axis)]
    if op in ("Add", "AddV2") and all(a.const is None for a in args) and args[0].swapped == args[1].swapped:
        return [Value(args[0].tensor + args[1].tensor, args[0].swapped)]
    return [Value(t) for t in _plain_op(tf, node, [meaning(a) for a in args], args)]


def _plain_op(tf, node, ts: list, args: list[Value]) -> list:
    """Ops that take their tensors in their meaning's layout (NHWC ops get NHWC data there)."""
    op, attr = node.op, node.attr

    def ints(key: str) -> list[int]:
        return [int(i) for i in attr[key].list.i]

    if op in ("Add", "AddV2"):
        return [ts[0] + ts[1]]
    if op == "Conv2D":
        return [tf.nn.conv2d(ts[0], ts[1], ints("strides"), attr["padding"].s.decode(),
                             data_format="NHWC", dilations=ints("dilations"))]
    if op == "BiasAdd":
        return [tf.nn.bias_add(ts[0], ts[1])]
    if op == "MaxPool":
        return [tf.nn.max_pool2d(ts[0], ints("ksize"), ints("strides"), attr["padding"].s.decode())]
    if op == "ResizeBilinear":
        return [tf.raw_ops.ResizeBilinear(images=ts[0], size=ts[1], align_corners=attr["align_corners"].b,
                                          half_pixel_centers=attr["half_pixel_centers"].b)]
    if op == "Reshape":
        return [tf.reshape(ts[0], args[1].const if args[1].const is not None else ts[1])]
    raise ValueError(f"run_nhwc: op {op} ({node.name}) is not handled")
