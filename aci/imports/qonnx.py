"""QONNX models: a binarized network in ONNX with QONNX's quantisers, mapped onto the
three BNN cores (docs/import.md has the accepted graphs).

The graph is read as one chain from its input to its output. A layer starts at a
``Conv`` (3x3, padding 1, stride 1, one group) or a ``MatMul``/``Gemm``, whose
weights are an initializer or ``BipolarQuant(initializer, scale)``: signs times a
positive scale per output. Constant ``Add``/``Sub``/``Mul``/``Div`` (a scalar or one
value per channel) then form ``y = s·k + h`` on the layer's integer sum ``s`` (and one
``BatchNormalization`` per hidden layer ``y = (s·k + h)·g / sqrt(v) + b``, decided
exactly by :func:`network.threshold_root`); a
``BipolarQuant`` (+1 iff ``y >= 0``) or a one-step ``MultiThreshold`` with
``out_scale = 2·a``, ``out_bias = −a`` (+1 iff ``y >= θ``) ends the layer; the last
layer ends at the graph's output, its ``y`` the scores. A 2x2 ``MaxPool`` is the
core's pool, after the threshold or, when every ``k`` of the layer is ``>= 0``,
before it. ``Flatten``/``Reshape`` may sit before the first dense layer. An optional
``Quant`` on the input (8 bits, signed, zero point 0, scale ``2^−E``) says the
pixels' grid; otherwise ``input_bits`` does.

A node that does not fit gives an error naming it, its op and the layer; every such
error of the model is reported at once.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .network import (
    FP_CHANNELS,
    FP_SIZE,
    CoreLayer,
    ModelError,
    Network,
    fold_layer,
    fraction,
    last_layer,
)

AFFINE = ("Add", "Sub", "Mul", "Div")


class _Layer:
    def __init__(self, kind: str, node, index: int, w: np.ndarray, scale: list[Fraction]):
        self.kind, self.node, self.index = kind, node, index
        self.w = w  # ±1 int8, (n_out, n_in, 3, 3) or (n_out, n_in)
        self.k = scale
        self.h = [Fraction(0)] * len(scale)
        # After a BatchNormalization: y = (s·k + h)·g / sqrt(v) + b, per output.
        self.g: list[Fraction] | None = None
        self.v: list[Fraction] | None = None
        self.b: list[Fraction] | None = None
        # (c, v) per output once thresholded after a batch norm
        self.roots: list[tuple[Fraction, Fraction]] | None = None
        self.pool_first = False
        self.pooled = False
        self.done = False

    @property
    def n_out(self) -> int:
        return self.w.shape[0]


def read(path: str, input_bits: int = 7) -> Network:
    import onnx
    from onnx import numpy_helper

    try:
        model = onnx.load(path)
    except Exception as e:  # onnx raises DecodeError, OSError and others for a bad file
        raise ModelError(f"{path}: not a readable ONNX model: {e}") from None
    g = model.graph
    try:
        consts = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
        for n in g.node:
            if n.op_type == "Constant":
                for a in n.attribute:
                    if a.name == "value":
                        consts[n.output[0]] = numpy_helper.to_array(a.t).astype(np.float64)
    except (ValueError, TypeError, IndexError) as e:
        raise ModelError(f"{path}: a constant of the graph cannot be read: {e}") from None

    def attrs(n):
        return {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}

    # Weight-side nodes whose inputs are all constant: BipolarQuant and Identity.
    for n in g.node:
        if n.op_type in ("BipolarQuant", "Identity") and all(i in consts for i in n.input):
            x = consts[n.input[0]]
            consts[n.output[0]] = (
                np.where(x >= 0, 1.0, -1.0) * consts[n.input[1]]
                if n.op_type == "BipolarQuant"
                else x
            )
    inputs = [i for i in g.input if i.name not in consts]
    if len(inputs) != 1 or len(g.output) != 1:
        raise ModelError(
            f"{path}: the model must have one data input and one output, "
            f"it has {len(inputs)} and {len(g.output)}"
        )
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    if dims[1:] != [FP_CHANNELS, FP_SIZE, FP_SIZE]:
        raise ModelError(
            f"{path}: input `{inputs[0].name}` has shape {dims}; FP_CONV takes "
            f"(N, {FP_CHANNELS}, {FP_SIZE}, {FP_SIZE})"
        )
    consumers: dict[str, list] = {}
    for n in g.node:
        if n.output and n.output[0] in consts:
            continue
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    errors: list[str] = []
    layers: list[_Layer] = []
    act_scale = Fraction(1, 2**input_bits)  # float value of one unit of the layer's input
    flat = False
    tensor = inputs[0].name
    layer: _Layer | None = None

    def where(n) -> str:
        index = len(layers) - (0 if n.op_type in ("Conv", "MatMul", "Gemm") else 1)
        lay = f", layer {index}" if index >= 0 else ""
        return f"{path}: node `{n.name or n.output[0]}` ({n.op_type}{lay})"

    def const(n, i: int):
        name = n.input[i] if i < len(n.input) else ""
        if name not in consts:
            raise ModelError(f"{where(n)}: input {i} `{name}` must be a constant (an initializer)")
        return consts[name]

    seen = set()
    while tensor != g.output[0].name:
        if tensor in seen:
            raise ModelError(f"{path}: the graph has a cycle through tensor `{tensor}`")
        seen.add(tensor)
        users = consumers.get(tensor, [])
        if len(users) != 1:
            raise ModelError(
                f"{path}: tensor `{tensor}` feeds {len(users)} nodes; acic takes one chain "
                "of layers"
            )
        n = users[0]
        if n.input[0] != tensor:
            raise ModelError(f"{where(n)}: the data must be its first input")
        op, a = n.op_type, attrs(n)
        if op == "Quant" and not layers:
            scale, zero, bits = (const(n, i) for i in (1, 2, 3))
            exp = -math.log2(float(scale)) if scale.size == 1 and float(scale) > 0 else None
            if (
                exp is None
                or exp != int(exp)
                or not 0 <= exp <= 24
                or zero.size != 1
                or bits.size != 1
                or float(zero) != 0
                or float(bits) != 8
                or not a.get("signed", 1)
                or a.get("narrow", 0)
            ):
                errors.append(
                    f"{where(n)}: the input quantiser must be 8-bit signed, zero point 0, "
                    "scale 2^-E with E in 0..24 (the i8 pixels of FP_CONV)"
                )
            else:
                input_bits = int(exp)
                act_scale = Fraction(1, 2**input_bits)
        elif op in ("Conv", "MatMul", "Gemm"):
            if layer is not None and not layer.done:
                raise ModelError(
                    f"{where(n)}: the layer before (from `{layer.node.name}`) has no "
                    "BipolarQuant or MultiThreshold"
                )
            w = const(n, 1)
            if op == "Gemm":
                if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
                    errors.append(
                        f"{where(n)}: Gemm with transA, alpha or beta is not a dense layer the "
                        "cores run"
                    )
                w = w if a.get("transB", 0) else w.T
            elif op == "MatMul":
                w = w.T
            if op == "Conv":
                if (
                    w.ndim != 4
                    or list(a.get("kernel_shape", w.shape[2:])) != [3, 3]
                    or list(a.get("pads", [0] * 4)) != [1, 1, 1, 1]
                    or list(a.get("strides", [1, 1])) != [1, 1]
                    or a.get("group", 1) != 1
                    or list(a.get("dilations", [1, 1])) != [1, 1]
                ):
                    errors.append(
                        f"{where(n)}: kernel {list(w.shape[2:])}, pads {list(a.get('pads', []))}, "
                        f"strides {list(a.get('strides', [1, 1]))}, group {a.get('group', 1)}: "
                        "the cores run 3x3 kernels, padding 1, stride 1, one group"
                    )
                if flat:
                    errors.append(f"{where(n)}: a convolution after a dense layer")
            elif w.ndim != 2:
                errors.append(f"{where(n)}: weights of shape {list(w.shape)}")
            magnitude = np.abs(w).reshape(w.shape[0], -1)
            if not (magnitude == magnitude[:, :1]).all() or not (magnitude[:, 0] > 0).all():
                o = int(
                    np.flatnonzero(
                        ~(magnitude == magnitude[:, :1]).all(axis=1) | (magnitude[:, 0] <= 0)
                    )[0]
                )
                errors.append(
                    f"{where(n)}: output {o}'s weights are not ±c for one c > 0 (binary weights, "
                    "e.g. from BipolarQuant)"
                )
                magnitude = np.ones_like(magnitude)
            signs = np.where(w >= 0, 1, -1).astype(np.int8)
            k = [act_scale * fraction(m, f"{where(n)}: weight scale") for m in magnitude[:, 0]]
            layer = _Layer("conv" if op == "Conv" else "dense", n, len(layers), signs, k)
            layers.append(layer)
            if op == "Conv" and len(n.input) > 2 or op == "Gemm" and len(n.input) > 2:
                _affine(layer, "Add", _per_channel(const(n, 2), layer.n_out, where(n)))
        elif op in AFFINE:
            if layer is None or layer.done:
                raise ModelError(
                    f"{where(n)}: {op} of a constant only between a layer's sum and its threshold"
                )
            c = _per_channel(const(n, 1), layer.n_out, where(n))
            if op == "Div" and any(v == 0 for v in c):
                errors.append(f"{where(n)}: division by zero")
            else:
                _affine(layer, op, c)
        elif op == "BatchNormalization":
            if layer is None or layer.done:
                raise ModelError(
                    f"{where(n)}: a batch norm only between a layer's sum and its threshold"
                )
            gamma, beta, mean, var = (
                _per_channel(const(n, i), layer.n_out, where(n)) for i in (1, 2, 3, 4)
            )
            eps = fraction(a.get("epsilon", 1e-5), f"{where(n)}: epsilon")
            bad = [o for o, v in enumerate(var) if v + eps <= 0]
            if layer.v is not None or a.get("training_mode", 0) or bad:
                errors.append(
                    f"{where(n)}: "
                    + (
                        "a second batch norm in one layer"
                        if layer.v is not None
                        else "training mode"
                        if a.get("training_mode", 0)
                        else f"var + epsilon <= 0 for output {bad[0]}"
                    )
                )
            else:
                _affine(layer, "Sub", mean)
                layer.g, layer.v, layer.b = gamma, [v + eps for v in var], beta
        elif op == "MaxPool":
            if (
                list(a.get("kernel_shape", [])) != [2, 2]
                or list(a.get("strides", [1, 1])) != [2, 2]
                or any(a.get("pads", [0] * 4))
            ):
                errors.append(f"{where(n)}: the cores pool 2x2 with stride 2 and no padding")
            if layer is None or layer.kind != "conv" or layer.index == 0 or layer.pooled:
                errors.append(f"{where(n)}: only a BIN_CONV layer (not the first) pools, once")
            elif layer.done:
                layer.pooled = True
            else:
                layer.pooled = layer.pool_first = True
        elif op in ("Flatten", "Reshape"):
            if op == "Flatten":
                flattens = a.get("axis", 1) == 1
            else:
                shape = [int(v) for v in const(n, 1)]
                flattens = len(shape) == 2 and (shape[0] in (-1, 0, 1) or shape[1] == -1)
            if not flattens:
                errors.append(
                    f"{where(n)}: only a flattening to (N, features) may sit between layers"
                )
            flat = True
        elif op in ("BipolarQuant", "MultiThreshold"):
            if layer is None or layer.done:
                raise ModelError(f"{where(n)}: a threshold with no layer sum before it")
            if op == "BipolarQuant":
                s = const(n, 1)
                theta = [Fraction(0)] * layer.n_out
            else:
                thr = const(n, 1)
                s = np.array(a.get("out_scale", 1.0) / 2)
                if (
                    thr.ndim != 2
                    or thr.shape[1] != 1
                    or thr.shape[0] not in (1, layer.n_out)
                    or a.get("out_bias", 0.0) != -a.get("out_scale", 1.0) / 2
                ):
                    errors.append(
                        f"{where(n)}: a binary MultiThreshold has one threshold per channel and "
                        "out_bias = -out_scale / 2 (outputs ±a)"
                    )
                    thr = np.zeros((1, 1))
                theta = [
                    fraction(v, f"{where(n)}: threshold")
                    for v in np.broadcast_to(thr[:, 0], (layer.n_out,))
                ]
            if s.size != 1 or float(s) <= 0:
                errors.append(f"{where(n)}: the activations' scale must be one positive number")
                s = np.array(1.0)
            if layer.v is None:
                layer.h = [hv - t for hv, t in zip(layer.h, theta, strict=True)]
            else:  # (s·k + h)·g / sqrt(v) + b >= θ  <=>  s·k·g + h·g >= (θ − b)·sqrt(v)
                gs, bs = layer.g, layer.b
                assert gs is not None and bs is not None  # a batch norm sets g, v and b
                layer.k = [kv * g for kv, g in zip(layer.k, gs, strict=True)]
                layer.h = [hv * g for hv, g in zip(layer.h, gs, strict=True)]
                layer.roots = [(t - b, v) for t, b, v in zip(theta, bs, layer.v, strict=True)]
            layer.done = True
            act_scale = fraction(s.reshape(()), f"{where(n)}: scale")
        else:
            errors.append(f"{where(n)}: {op} is not part of a layer the BNN cores run")
        tensor = n.output[0]
    if layer is None:
        raise ModelError(f"{path}: no layers")
    if layer.done or layer.kind != "dense":
        errors.append(
            f"{path}: the graph must end with a dense layer's scores (no threshold after it)"
        )
    if errors:
        raise ModelError("\n".join(errors))
    return _network(path, layers, input_bits)


def _per_channel(c: np.ndarray, n_out: int, where: str) -> list[Fraction]:
    flat = c.reshape(-1)
    if flat.size not in (1, n_out) or c.ndim > 1 and max(c.shape) != flat.size:
        raise ModelError(
            f"{where}: constant of shape {list(c.shape)}: one value, or one per channel ({n_out})"
        )
    return [fraction(v, where) for v in np.broadcast_to(flat, (n_out,))]


def _affine(layer: _Layer, op: str, c: list[Fraction]) -> None:
    if layer.v is not None:  # after a batch norm: y = (s·k + h)·g / sqrt(v) + b
        gs, bs = layer.g, layer.b
        assert gs is not None and bs is not None  # a batch norm sets g, v and b
        if op in ("Add", "Sub"):
            sign = 1 if op == "Add" else -1
            layer.b = [b + sign * v for b, v in zip(bs, c, strict=True)]
        else:
            f = c if op == "Mul" else [1 / v for v in c]
            layer.g = [g * v for g, v in zip(gs, f, strict=True)]
            layer.b = [b * v for b, v in zip(bs, f, strict=True)]
        return
    if op == "Add":
        layer.h = [h + v for h, v in zip(layer.h, c, strict=True)]
    elif op == "Sub":
        layer.h = [h - v for h, v in zip(layer.h, c, strict=True)]
    elif op == "Mul":
        layer.k = [k * v for k, v in zip(layer.k, c, strict=True)]
        layer.h = [h * v for h, v in zip(layer.h, c, strict=True)]
    else:
        layer.k = [k / v for k, v in zip(layer.k, c, strict=True)]
        layer.h = [h / v for h, v in zip(layer.h, c, strict=True)]


def _network(path: str, layers: list[_Layer], input_bits: int) -> Network:
    out: list[CoreLayer] = []
    size, n_in = FP_SIZE, FP_CHANNELS
    score_bits = 0
    for i, lay in enumerate(layers):
        where = f"{path}: layer {i} (from node `{lay.node.name}`)"
        if lay.kind == "conv":
            if i == 0:
                out.append(
                    fold_layer(
                        "FP_CONV",
                        {"n_out": lay.n_out},
                        lay.w,
                        lay.k,
                        lay.h,
                        27 * 128,
                        where,
                        roots=lay.roots,
                    )
                )
            else:
                params = {
                    "n_in": lay.w.shape[1],
                    "n_out": lay.n_out,
                    "size": size,
                    "pool": int(lay.pooled),
                }
                out.append(
                    fold_layer(
                        "BIN_CONV",
                        params,
                        lay.w,
                        lay.k,
                        lay.h,
                        9 * lay.w.shape[1],
                        where,
                        lay.pool_first,
                        lay.roots,
                    )
                )
                size = size // 2 if lay.pooled else size
            n_in = lay.n_out * size * size
        else:
            params = {"n_in": lay.w.shape[1], "n_out": lay.n_out, "last": int(i == len(layers) - 1)}
            if params["last"]:
                if lay.v is not None:
                    raise ModelError(
                        f"{where}: the scores pass through a batch norm's square root: not "
                        "s·k + h with int16 k and h; fold it into Mul and Add"
                    )
                pairs, score_bits = last_layer(lay.k, lay.h, where)
                out.append(CoreLayer("BIN_FC", params, lay.w, pairs, where))
            else:
                out.append(
                    fold_layer(
                        "BIN_FC",
                        params,
                        lay.w,
                        lay.k,
                        lay.h,
                        params["n_in"],
                        where,
                        roots=lay.roots,
                    )
                )
            n_in = lay.n_out
    del n_in
    net = Network(out, input_bits, score_bits, path)
    net.check()
    return net
