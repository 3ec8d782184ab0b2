"""bnn-fpga's archives: its parameters (a zip of float32 ``arr_0`` … ``arr_26``) and
its test inputs (a zip of one float32 array of 3x32x32 images).

The parameters are three arrays per layer for nine layers: the weights, then the
batch-norm factors ``k`` and ``h`` (already folded: an output is +1 iff
``sum·k + h >= 0``). Layers 0..5 are 3x3 convolutions on 32, 32, 16, 16, 8, 8-pixel
maps with a 2x2 max-pool after layers 1, 3 and 5, on the binary outputs; layers 6
and 7 are dense; layer 8 is dense and gives the scores ``sum·k + h``.

* Convolution weights are ``(n_out, n_in, 3, 3)`` indexed as Theano's convolution
  does, the kernel flipped: tap ``(dy, dx)`` of the cores' cross-correlation is
  ``W[o][i][2 − dy][2 − dx]``.
* Dense weights are laid out ``(inputs, outputs)``; the inputs of layer 6 are the
  pooled maps of layer 5 flattened as (channel, row, column).
* A weight ``>= 0`` is +1. ``k = 0`` makes an output constant (+1 iff ``h >= 0``);
  ``k < 0`` flips its comparison (acic negates that output's weights).
* Layer 0 takes bnn-fpga's fixed-point pixels (``ap_fixed<20,2>``, rounded to
  2^-18); acic's FP_CONV takes them as ``x / 2**input_bits`` with ``x`` an i8.

acic computes each threshold exactly from ``k`` and ``h`` (bnn-fpga's accelerator
rounds ``−h/k`` to 16 bits, which differs from its own float reference for some
values; acic follows the float definition).
"""

from __future__ import annotations

import zipfile
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
    i8_images,
    last_layer,
    sign_weights,
)

LAYERS = 9
CONV_LAYERS = 6
SIZES = (32, 32, 16, 16, 8, 8)
POOLED = (False, True, False, True, False, True)
# bnn-fpga's first-layer pixel type: ap_fixed<20,2,AP_RND>, 18 fractional bits, -2..2.
PIXEL_FRACTION_BITS = 18


def _arrays(path: str) -> list[np.ndarray]:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            want = [f"arr_{i}" for i in range(3 * LAYERS)]
            missing = [n for n in want if n not in names]
            if missing or len(names) != len(want):
                extra = sorted(names - set(want))
                raise ModelError(
                    f"{path}: a bnn-fpga parameter archive holds arr_0 .. arr_{3 * LAYERS - 1}"
                    + (f"; missing {', '.join(missing[:3])}" if missing else "")
                    + (f"; unexpected {', '.join(extra[:3])}" if extra else "")
                )
            out = []
            for n in want:
                raw = z.read(n)
                if len(raw) % 4 or not raw:
                    raise ModelError(
                        f"{path}: {n} has {len(raw)} bytes, not a whole number of float32"
                    )
                out.append(np.frombuffer(raw, "<f4").astype(np.float64))
            return out
    except ARCHIVE_ERRORS as e:
        raise ModelError(f"{path}: not a readable zip archive: {e}") from None


def read_params(path: str, input_bits: int = 7) -> Network:
    """The network of a bnn-fpga parameter archive."""
    arrays = _arrays(path)
    layers = []
    n_in, net_score_bits = FP_CHANNELS, 0
    for layer in range(LAYERS):
        w, k, h = arrays[3 * layer : 3 * layer + 3]
        where = f"{path}: layer {layer} (arr_{3 * layer}..arr_{3 * layer + 2})"
        n_out = k.size
        if h.size != n_out:
            raise ModelError(f"{where}: k has {k.size} values and h {h.size}")
        conv = layer < CONV_LAYERS
        per_out = 9 * n_in if conv else n_in
        if w.size != n_out * per_out:
            shape = f"({n_out}, {n_in}, 3, 3)" if conv else f"({n_in}, {n_out})"
            raise ModelError(
                f"{where}: weights hold {w.size} values; layer {layer - 1 if layer else 'input'} gives "
                f"{n_in} {'channels' if conv else 'inputs'} and k {n_out} outputs, so {shape}"
            )
        signs = sign_weights(w, f"{path}: arr_{3 * layer}")
        kf = [fraction(v, f"{path}: arr_{3 * layer + 1}[{o}]") for o, v in enumerate(k)]
        hf = [fraction(v, f"{path}: arr_{3 * layer + 2}[{o}]") for o, v in enumerate(h)]
        if conv:
            ours = signs.reshape(n_out, n_in, 3, 3)[:, :, ::-1, ::-1]  # Theano flips kernels
            if layer == 0:
                if n_in != FP_CHANNELS:
                    raise ModelError(f"{where}: the first layer takes {FP_CHANNELS} channels")
                scale = Fraction(
                    1, 2**input_bits
                )  # the sum over i8 pixels x is 2^E times the float sum
                layers.append(
                    fold_layer(
                        "FP_CONV",
                        {"n_out": n_out},
                        ours,
                        [kv * scale for kv in kf],
                        hf,
                        27 * 128,
                        where,
                    )
                )
            else:
                params = {
                    "n_in": n_in,
                    "n_out": n_out,
                    "size": SIZES[layer],
                    "pool": int(POOLED[layer]),
                }
                layers.append(fold_layer("BIN_CONV", params, ours, kf, hf, 9 * n_in, where))
            n_in = n_out
            if layer == CONV_LAYERS - 1:
                side = SIZES[layer] // 2 if POOLED[layer] else SIZES[layer]
                n_in = n_out * side * side
        else:
            ours = signs.reshape(n_in, n_out).T  # (inputs, outputs) -> w[o][i]
            last = layer == LAYERS - 1
            params = {"n_in": n_in, "n_out": n_out, "last": int(last)}
            if last:
                pairs, e = last_layer(kf, hf, where)
                net_score_bits = e
                layers.append(CoreLayer("BIN_FC", params, np.array(ours, np.int8), pairs, where))
            else:
                layers.append(fold_layer("BIN_FC", params, ours, kf, hf, n_in, where))
            n_in = n_out
    net = Network(layers, input_bits, net_score_bits, path)
    net.check()
    return net


def read_images(path: str, input_bits: int = 7, count: int | None = None) -> np.ndarray:
    """The images of a bnn-fpga test-input archive as int8 ``(N, 3, 32, 32)``: each
    float pixel rounded as bnn-fpga's ``ap_fixed<20,2,AP_RND>`` rounds it, then
    refused unless it is exactly ``x / 2**input_bits`` with ``x`` an i8."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            if len(names) != 1:
                raise ModelError(
                    f"{path}: a bnn-fpga input archive holds one array, this one {len(names)}"
                )
            raw = z.read(names[0])
    except ARCHIVE_ERRORS as e:
        raise ModelError(f"{path}: not a readable zip archive: {e}") from None
    per_image = FP_CHANNELS * FP_SIZE * FP_SIZE
    if len(raw) % (4 * per_image) or not raw:
        raise ModelError(f"{path}: {len(raw)} bytes are not whole float32 images of 3x32x32")
    pixels = np.frombuffer(raw, "<f4").astype(np.float64).reshape(-1, FP_CHANNELS, FP_SIZE, FP_SIZE)
    if count is not None:
        if not 1 <= count <= pixels.shape[0]:
            raise ModelError(f"{path}: holds {pixels.shape[0]} images, {count} asked for")
        pixels = pixels[:count]
    where = f"{path}: image pixel"
    finite = np.isfinite(pixels)
    if not finite.all():
        i = tuple(int(v) for v in np.argwhere(~finite)[0])
        raise ModelError(f"{where} {list(i)} is {float(pixels[i])}: not a finite number")
    fixed = np.floor(pixels * 2.0**PIXEL_FRACTION_BITS + 0.5)  # AP_RND: to nearest, ties up
    limit = 2.0 ** (PIXEL_FRACTION_BITS + 1)
    outside = (fixed < -limit) | (fixed >= limit)
    if outside.any():
        i = tuple(int(v) for v in np.argwhere(outside)[0])
        raise ModelError(
            f"{where} {list(i)} = {float(pixels[i])!r} is outside bnn-fpga's input range -2 .. 2"
        )
    return i8_images(
        fixed / 2.0**PIXEL_FRACTION_BITS,
        input_bits,
        f"{path}: image",
        pixels,
        " (bnn-fpga's ap_fixed<20,2> makes it {!r})",
    )
