"""QONNX graphs built with onnx.helper for the tests: a BinaryNet-format network
written as Quant / BipolarQuant / Conv / MaxPool / Add / Sub / Mul / MatMul nodes."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QONNX = "qonnx.custom_op.general"


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def const(self, value, name=None):
        self.count += 1
        name = name or f"c{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, np.float32), name))
        return name

    def node(self, op, inputs, domain="", **attrs):
        self.count += 1
        out = f"t{self.count}"
        self.nodes.append(
            helper.make_node(op, inputs, [out], name=f"{op}_{self.count}", domain=domain, **attrs)
        )
        return out

    def save(self, path, x, y, batch=1):
        graph = helper.make_graph(
            self.nodes,
            "bnn",
            [helper.make_tensor_value_info(x, TensorProto.FLOAT, [batch, 3, 32, 32])],
            [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)],
            self.inits,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)]
        )
        onnx.save(model, str(path))


def from_binarynet(
    arrays, pooled, path, quant_input=True, threshold="bipolar", batch=1, variances=None
):
    """The BinaryNet network (six arrays per layer) as a QONNX graph: kernels flipped
    back to ONNX's cross-correlation; each batch norm as Add(b), Sub(mean),
    Mul(inv_std), Mul(gamma), Add(beta); the sign a BipolarQuant (or a
    MultiThreshold at 0 with outputs ±1). With ``variances`` (var, epsilon) per hidden
    layer, its batch norm is Add(b) and an ONNX BatchNormalization instead (inv_std
    unused)."""
    g = Graph()
    x = "image"
    t = x
    if quant_input:
        t = g.node(
            "Quant",
            [t, g.const(2.0**-7), g.const(0.0), g.const(8.0)],
            QONNX,
            signed=1,
            narrow=0,
            rounding_mode="ROUND",
        )
    layers = len(arrays) // 6
    for layer in range(layers):
        w, b, beta, gamma, mean, inv_std = arrays[6 * layer : 6 * layer + 6]
        if w.ndim == 4:
            wq = g.node("BipolarQuant", [g.const(w[:, :, ::-1, ::-1].copy()), g.const(1.0)], QONNX)
            t = g.node("Conv", [t, wq], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
            if layer in pooled:
                t = g.node("MaxPool", [t], kernel_shape=[2, 2], strides=[2, 2])
            shape = (1, -1, 1, 1)
        else:
            if arrays[6 * layer - 6].ndim == 4:
                t = g.node("Flatten", [t], axis=1)
            wq = g.node("BipolarQuant", [g.const(w), g.const(1.0)], QONNX)
            t = g.node("MatMul", [t, wq])
            shape = (1, -1)
        if variances is not None and layer < layers - 1:
            var, eps = variances[layer]
            t = g.node("Add", [t, g.const(b.reshape(shape))])
            t = g.node(
                "BatchNormalization",
                [t, *(g.const(c) for c in (gamma, beta, mean, var))],
                epsilon=eps,
            )
        else:
            for op, c in (
                ("Add", b),
                ("Sub", mean),
                ("Mul", inv_std),
                ("Mul", gamma),
                ("Add", beta),
            ):
                t = g.node(op, [t, g.const(c.reshape(shape))])
        if layer < layers - 1:
            if threshold == "bipolar":
                t = g.node("BipolarQuant", [t, g.const(1.0)], QONNX)
            else:
                t = g.node(
                    "MultiThreshold",
                    [t, g.const(np.zeros((1, 1)))],
                    QONNX,
                    out_dtype="BIPOLAR",
                    out_scale=2.0,
                    out_bias=-1.0,
                )
    g.save(path, x, t, batch)
    return g
