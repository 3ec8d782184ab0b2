"""Random networks in the imported formats, and the imported network run on the
fast core models."""

from __future__ import annotations

import zipfile

import numpy as np

from aci.cores import bnn
from aci.cores.bits import pack_bits

GRID = 16  # parameters are multiples of 1/16: float64 evaluates them exactly


def pixels(rng, n):
    """Float pixels on the i8 / 128 grid, and the i8 values."""
    x = rng.integers(-128, 128, (n, 3, 32, 32)).astype(np.int8)
    return x.astype(np.float32) / 128, x


def norm(rng, n_out, terms, pixel_scale=1.0):
    """k and h with thresholds −h/k spread over the sums' range; some k negative,
    one zero (with h of either sign), one threshold exactly on an integer."""
    k = np.round(rng.uniform(0.25, 2, n_out) * GRID) / GRID
    k *= np.where(rng.random(n_out) < 0.3, -1, 1)
    t = np.round(rng.normal(0, np.sqrt(terms) * pixel_scale / 2, n_out))
    h = np.round(-t * k * GRID + rng.integers(-3, 4, n_out)) / GRID
    k[0], h[0] = 0.0, 0.5
    if n_out > 1:
        k[1], h[1] = 0.0, -0.5
    if n_out > 2:
        k[2], h[2] = 1.0, -3.0  # s·k + h == 0 at s = 3: +1 there
    return k.astype(np.float32), h.astype(np.float32)


def write_bnnfpga(path, rng, channels=(4, 4, 8, 8, 8, 8), dense=(32, 32, 10)):
    arrays = []
    n_in = 3
    for c in channels:
        arrays.append(rng.normal(0, 1, (c, n_in, 3, 3)).astype(np.float32))
        arrays += list(norm(rng, c, 9 * n_in, 0.6 if len(arrays) == 1 else 1.0))  # pixels: σ 0.58
        n_in = c
    n_in = channels[-1] * 16
    for i, d in enumerate(dense):
        arrays.append(rng.normal(0, 1, (n_in, d)).astype(np.float32))
        if i == len(dense) - 1:
            k = (rng.integers(1, 64, d) * rng.choice([-1, 1], d) / GRID).astype(np.float32)
            h = (rng.integers(-200, 200, d) / GRID).astype(np.float32)
            arrays += [k, h]
        else:
            arrays += list(norm(rng, d, n_in))
        n_in = d
    with zipfile.ZipFile(path, "w") as z:
        for i, a in enumerate(arrays):
            z.writestr(f"arr_{i}", a.astype("<f4").tobytes())
    return arrays


def write_inputs(path, pix):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("cifar10_test_inputs.bin", np.asarray(pix, "<f4").tobytes())


def binarynet_arrays(
    rng, channels=(4, 8, 8, 8), pooled=(1, 2, 3), dense=(32, 10), flip_pooled=False
):
    arrays = []
    n_in, side = 3, 32
    for layer, c in enumerate(channels):
        w = rng.normal(0, 1, (c, n_in, 3, 3)).astype(np.float32)
        terms = 9 * n_in * (0.33 if layer == 0 else 1)  # pixels: variance 1/3
        arrays += _bn(rng, w, c, terms, negative=flip_pooled or layer not in pooled)
        n_in = c
        side = side // 2 if layer in pooled else side
    n_in = channels[-1] * side * side
    for i, d in enumerate(dense):
        w = rng.normal(0, 1, (n_in, d)).astype(np.float32)
        if i == len(dense) - 1:
            gamma = (rng.integers(1, 32, d) * rng.choice([-1, 1], d) / GRID).astype(np.float32)
            arrays += [
                w,
                (rng.integers(-40, 40, d) / GRID).astype(np.float32),
                (rng.integers(-90, 90, d) / GRID).astype(np.float32),
                gamma,
                (rng.integers(-40, 40, d) / GRID).astype(np.float32),
                np.full(d, 0.5, np.float32),
            ]
        else:
            arrays += _bn(rng, w, d, n_in, negative=True)
        n_in = d
    return arrays


def _bn(rng, w, n_out, terms, negative):
    """BatchNorm arrays whose thresholds fall inside the sums; gamma < 0 on some
    outputs when ``negative``; one gamma = 0."""
    gamma = np.round(rng.uniform(0.25, 2, n_out) * GRID) / GRID
    if negative:
        gamma *= np.where(rng.random(n_out) < 0.3, -1, 1)
    gamma[0] = 0.0
    inv_std = np.round(rng.uniform(0.5, 2, n_out) * 4) / 4
    mean = np.round(rng.normal(0, np.sqrt(terms) / 2, n_out) * 2) / 2
    b = np.round(rng.normal(0, 2, n_out) * 4) / 4
    beta = np.round(rng.normal(0, 0.5, n_out) * GRID) / GRID
    return [w, *(a.astype(np.float32) for a in (b, beta, gamma, mean, inv_std))]


def run_network(net, images):
    """Scores (N, classes) int32 of an imported network on int8 images, layer by layer
    on the fast core models."""
    act = np.ascontiguousarray(images).reshape(len(images), -1).view(np.uint8)
    for layer in net.layers:
        w = pack_bits(layer.weights).view(np.uint8).reshape(1, -1)
        t = np.ascontiguousarray(layer.thresholds, "<i2").view(np.uint8).reshape(1, -1)
        act = bnn.MODELS[layer.core](layer.params, {"x": act, "w": w, "t": t})["y"]
    return act.view("<i4").reshape(len(images), -1)
