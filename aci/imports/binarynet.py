"""BinaryNet/Lasagne parameter files: the ``.npz`` that ``np.savez(path,
*lasagne.layers.get_all_param_values(net))`` writes, ``arr_0`` … in order, six
arrays per layer: ``W``, ``b``, then the batch norm's ``beta``, ``gamma``,
``mean``, ``inv_std``.

A layer is a binary convolution (``W`` of shape ``(n_out, n_in, 3, 3)``, padding 1,
Theano's flipped kernel) or a binary dense layer (``W`` of shape ``(n_in,
n_out)``), its weights ``sign(W)`` with ``W >= 0`` as +1; then, on the pooled
layers, a 2x2 max-pool; then the batch norm
``y = (x + b − mean)·gamma·inv_std + beta`` and the sign (+1 iff ``y >= 0``). The
last layer's ``y`` are the scores. The first layer takes the float image,
whose pixels must be ``x / 2**input_bits`` with ``x`` an i8.

The file does not say where the max-pools are: ``pool`` names the pooled layers
(their indices), or, when omitted, it is inferred when only one answer fits the
first dense layer's input count (no pool, or one after every binary
convolution). The pool comes before the batch norm, as in BinaryNet: a pooled
output with ``gamma·inv_std < 0`` is refused (see :func:`network.threshold`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from .network import (
    ARCHIVE_ERRORS,
    FP_CHANNELS,
    FP_SIZE,
    CoreLayer,
    ModelError,
    Network,
    fold_layer,
    fraction,
    last_layer,
    sign_weights,
)

PER_LAYER = ("W", "b", "beta", "gamma", "mean", "inv_std")


def load_npz(path: str) -> list[np.ndarray]:
    """``arr_0`` … of an .npz file, in order."""
    try:
        with np.load(path, allow_pickle=False) as f:
            names = list(f.keys())
            arrays = {n: np.asarray(f[n], dtype=np.float64) for n in names}
    except ARCHIVE_ERRORS as e:
        raise ModelError(f"{path}: not a readable .npz file: {e}") from None
    want = [f"arr_{i}" for i in range(len(names))]
    if sorted(names) != sorted(want):
        raise ModelError(
            f"{path}: expected arrays arr_0 .. arr_{len(names) - 1} (np.savez of the "
            f"parameter list), got {', '.join(sorted(names)[:4])}"
        )
    return [arrays[n] for n in want]


def read(path: str, pool: Sequence[int] | None = None, input_bits: int = 7) -> Network:
    arrays = load_npz(path)
    if not arrays or len(arrays) % len(PER_LAYER):
        raise ModelError(
            f"{path}: holds {len(arrays)} arrays; BinaryNet layers have six each "
            f"({', '.join(PER_LAYER)})"
        )
    groups = [arrays[i : i + 6] for i in range(0, len(arrays), 6)]
    kinds = []
    for layer, g in enumerate(groups):
        w = g[0]
        if w.ndim == 4 and w.shape[2:] == (3, 3):
            kinds.append("conv")
        elif w.ndim == 2:
            kinds.append("dense")
        else:
            raise ModelError(
                f"{path}: layer {layer} (arr_{6 * layer}): W of shape {w.shape} is neither a 3x3 "
                "convolution (n_out, n_in, 3, 3) nor a dense layer (n_in, n_out)"
            )
    pooled = _pools(path, groups, kinds, pool)
    layers = []
    size, e = FP_SIZE, 0
    for layer, (g, kind) in enumerate(zip(groups, kinds, strict=True)):
        where = f"{path}: layer {layer} (arr_{6 * layer}..arr_{6 * layer + 5})"
        w = g[0]
        n_out = w.shape[0] if kind == "conv" else w.shape[1]
        for name, a in zip(PER_LAYER[1:], g[1:], strict=True):
            if a.shape != (n_out,):
                raise ModelError(
                    f"{where}: {name} has shape {a.shape}, the layer has {n_out} outputs"
                )
        signs = sign_weights(w, f"{path}: arr_{6 * layer}")
        b, beta, gamma, mean, inv_std = (
            [
                fraction(v, f"{path}: arr_{6 * layer + j + 1}[{o}] ({PER_LAYER[j + 1]})")
                for o, v in enumerate(a)
            ]
            for j, a in enumerate(g[1:])
        )
        k = [gm * s for gm, s in zip(gamma, inv_std, strict=True)]
        h = [kv * (bv - mv) + be for kv, bv, mv, be in zip(k, b, mean, beta, strict=True)]
        if kind == "conv":
            ours = signs[:, :, ::-1, ::-1]  # Theano/Lasagne flip the kernel
            n_in = w.shape[1]
            if layer == 0:
                if n_in != FP_CHANNELS:
                    raise ModelError(
                        f"{where}: the first layer takes {FP_CHANNELS} channels, W has {n_in}"
                    )
                if layer in pooled:
                    raise ModelError(
                        f"{where}: FP_CONV does not pool; the first layer cannot be pooled"
                    )
                scale = Fraction(1, 2**input_bits)
                layers.append(
                    fold_layer(
                        "FP_CONV",
                        {"n_out": n_out},
                        ours,
                        [kv * scale for kv in k],
                        h,
                        27 * 128,
                        where,
                    )
                )
            else:
                params = {"n_in": n_in, "n_out": n_out, "size": size, "pool": int(layer in pooled)}
                layers.append(
                    fold_layer(
                        "BIN_CONV", params, ours, k, h, 9 * n_in, where, pool_first=layer in pooled
                    )
                )
                size = size // 2 if layer in pooled else size
        else:
            if layer in pooled:
                raise ModelError(f"{where}: a dense layer cannot be pooled")
            params = {"n_in": w.shape[0], "n_out": n_out, "last": int(layer == len(groups) - 1)}
            if params["last"]:
                pairs, e = last_layer(k, h, where)
                layers.append(CoreLayer("BIN_FC", params, np.array(signs.T, np.int8), pairs, where))
            else:
                layers.append(fold_layer("BIN_FC", params, signs.T, k, h, w.shape[0], where))
    net = Network(layers, input_bits, e, path)
    net.check()
    return net


def _pools(path: str, groups, kinds, pool: Sequence[int] | None) -> set[int]:
    if pool is not None:
        bad = [p for p in pool if not 0 <= p < len(groups)]
        if bad:
            raise ModelError(
                f"{path}: --pool names layer {bad[0]}; the file has layers 0..{len(groups) - 1}"
            )
        return set(pool)
    convs = [layer for layer, kind in enumerate(kinds) if kind == "conv"]
    dense = [layer for layer, kind in enumerate(kinds) if kind == "dense"]
    if not dense or not convs:
        return set()
    channels = groups[convs[-1]][0].shape[0]
    n_in = groups[dense[0]][0].shape[0]
    for candidate in (set(), set(convs[1:])):
        side = FP_SIZE >> len(candidate)
        if channels * side * side == n_in:
            return candidate
    raise ModelError(
        f"{path}: where the max-pools are is not in the file and cannot be inferred "
        f"(layer {dense[0]} takes {n_in} inputs from {channels} channels, "
        f"{math.sqrt(n_in / channels):g} pixels square): give the pooled layers with --pool"
    )
