"""A trained binarized network as the three BNN cores compute it, and what
``acic import`` writes from it (docs/import.md).

Every importer turns its format into a :class:`Network`: a list of
:class:`CoreLayer` (core, parameters, ±1 weights in the port's exact shape,
integer thresholds) plus the two scales that tie the integer ABI to the float
network: pixels are ``x / 2**input_bits`` (``x`` the i8 image) and the scores
are the float scores times ``2**score_bits``.

The one rule that turns a batch-normalised output into a threshold is
:func:`threshold`: an output is +1 iff ``s·k + h >= 0`` for the layer's integer
sum ``s``, with ``k`` and ``h`` exact rationals (every float is one). It gives
the integer ``t`` with ``s >= t`` equivalent on every reachable sum, and says
when the comparison flips (``k < 0``: the output's weights are negated, so the
core compares ``−s``). Nothing here rounds: a value the cores cannot hold is a
:class:`ModelError` naming it.
"""

from __future__ import annotations

import math
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..cores.bits import pack_bits
from ..diagnostics import AciError
from ..resources import library_dir

__all__ = [
    "CoreLayer",
    "ModelError",
    "Network",
    "fraction",
    "i8_images",
    "last_layer",
    "sign_weights",
    "threshold",
    "threshold_root",
    "write_npy",
    "program_text",
]

FP_CHANNELS, FP_SIZE = 3, 32
CONV_SIZES = (8, 16, 32)
I16_MIN, I16_MAX = -(2**15), 2**15 - 1
# The cores' parameter ranges (programs/cores/bnn.aci).
MAX_FP_OUT, MAX_CONV, MAX_FC_IN, MAX_FC_OUT = 512, 512, 8192, 1024


class ModelError(AciError):
    """A model file that acic cannot import: the message names the file, the layer
    and the value."""


# What reading a damaged zip archive (or .npz) raises, besides BadZipFile: truncated or
# corrupt members, unknown compression methods, bad headers.
ARCHIVE_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    NotImplementedError,
    zipfile.BadZipFile,
    zlib.error,
)


def fraction(value, where: str) -> Fraction:
    """A finite float as the exact rational it is."""
    v = float(value)
    if not math.isfinite(v):
        raise ModelError(f"{where} is {v}: not a finite number")
    return Fraction(v)


def sign_weights(w: np.ndarray, where: str) -> np.ndarray:
    """±1 int8 weights: +1 where w >= 0 (bnn-fpga, BinaryNet and BipolarQuant agree)."""
    w = np.asarray(w, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(w))
    if bad.size:
        i = tuple(int(v) for v in np.unravel_index(bad[0], w.shape))
        raise ModelError(f"{where}{list(i)} is {float(w[i])}: not a finite number")
    return np.where(w >= 0, 1, -1).astype(np.int8)


def threshold(
    k: Fraction, h: Fraction, bound: int, where: str, pool_first: bool = False
) -> tuple[int, bool]:
    """``(t, flip)`` such that, for every integer sum ``|s| <= bound``,
    ``s·k + h >= 0`` iff ``(−s if flip else s) >= t``; ``t`` within
    ``−bound .. bound + 1`` (clamping there is exact: no sum lies beyond).

    ``pool_first``: the layer's 2x2 max-pool comes before the batch norm (BinaryNet
    order). The cores pool after the threshold, which is the same when ``k >= 0``
    but not when ``k < 0``: refused."""
    if bound + 1 > I16_MAX:
        raise ModelError(f"{where}: sums reach {bound}, beyond the cores' i16 thresholds")
    if k == 0:
        return (-bound if h >= 0 else bound + 1), False
    if k > 0:
        t, flip = math.ceil(-h / k), False
    else:
        if pool_first:
            raise ModelError(
                f"{where}: k = {float(k)} < 0 on a layer whose max-pool comes before its "
                "batch norm: the output is +1 only when all four pooled sums pass, which "
                "the cores' pool (+1 when any of the four is +1) cannot express"
            )
        # s <= −h/k  <=>  −s >= ceil(h/k) for integer s
        t, flip = math.ceil(h / k), True
    return min(max(t, -bound), bound + 1), flip


def threshold_root(
    k: Fraction,
    h: Fraction,
    c: Fraction,
    v: Fraction,
    bound: int,
    where: str,
    pool_first: bool = False,
) -> tuple[int, bool]:
    """:func:`threshold` for an output that is +1 iff ``s·k + h >= c·sqrt(v)`` (``v > 0``,
    a batch norm's ``sqrt(var + eps)``): decided exactly for each sum by comparing
    squares, without computing the root."""

    def passes(a: Fraction) -> bool:  # a >= c·sqrt(v)
        if c <= 0:
            return a >= 0 or a * a <= c * c * v
        return a >= 0 and a * a >= c * c * v

    if bound + 1 > I16_MAX:
        raise ModelError(f"{where}: sums reach {bound}, beyond the cores' i16 thresholds")
    if k == 0:
        return (-bound if passes(h) else bound + 1), False
    flip = k < 0
    if flip and pool_first:
        raise ModelError(
            f"{where}: k < 0 on a layer whose max-pool comes before its batch norm (see "
            "docs/import.md): the cores' pool cannot express it"
        )
    lo, hi = -bound, bound + 1  # the least compared sum that passes lies in lo..hi (hi: none)
    while lo < hi:
        mid = (lo + hi) // 2
        if passes((-mid if flip else mid) * k + h):
            hi = mid
        else:
            lo = mid + 1
    return lo, flip


def last_layer(k: Sequence[Fraction], h: Sequence[Fraction], where: str) -> tuple[np.ndarray, int]:
    """The last layer's ``(k, h)`` int16 pairs and ``e``: the cores' score
    ``s·k' + h'`` is the float score ``s·k + h`` times ``2**e`` exactly (the least
    such ``e``). Refuses when no common power of two makes every k and h an int16."""
    e, finest = 0, None
    for name, values in (("k", k), ("h", h)):
        for o, v in enumerate(values):
            den = v.denominator
            if den & (den - 1):
                raise ModelError(f"{where}: {name}[{o}] = {float(v)} is not a binary fraction")
            if den.bit_length() - 1 > e:
                e, finest = den.bit_length() - 1, f"{name}[{o}] = {float(v)}"
    pairs = np.zeros((len(k), 2), np.int16)
    for o, (kv, hv) in enumerate(zip(k, h, strict=True)):
        for j, (name, v) in enumerate((("k", kv), ("h", hv))):
            scaled = v * 2**e
            if not I16_MIN <= scaled <= I16_MAX:
                raise ModelError(
                    f"{where}: the scores are s·k + h with k and h int16; {finest} needs them scaled "
                    f"by 2^{e}, and then {name}[{o}] = {float(v)} becomes {float(scaled):.0f}, outside "
                    "the cores' i16 range; acic does not round"
                )
            pairs[o, j] = int(scaled)
    return pairs, e


def i8_images(
    pixels: np.ndarray,
    input_bits: int,
    where: str,
    original: np.ndarray | None = None,
    note: str = "",
) -> np.ndarray:
    """Float pixels that are exactly ``x / 2**input_bits`` with ``x`` in −128..127,
    as int8 ``x``; anything else is refused with its position (and its value in
    ``original``, when the pixels were derived from it)."""
    p = np.asarray(pixels, dtype=np.float64)
    x = p * 2.0**input_bits
    bad = ~np.isfinite(x) | (x != np.round(x)) | (x < -128) | (x > 127)
    if bad.any():
        i = tuple(int(v) for v in np.argwhere(bad)[0])
        shown = float((p if original is None else original)[i])
        raise ModelError(
            f"{where}: pixel {list(i)} = {shown!r}{note.format(float(p[i]))} is not x / 2^{input_bits} "
            "for an integer x in -128..127 (FP_CONV takes i8 pixels); acic does not round it"
        )
    return x.astype(np.int8)


@dataclass
class CoreLayer:
    """One task of the network: ``weights`` ±1 int8 in the port's shape
    (``w: bits[n_out][...]``), ``thresholds`` int16 ``(n_out,)`` or, last, ``(n_out, 2)``."""

    core: str
    params: dict[str, int]
    weights: np.ndarray
    thresholds: np.ndarray
    where: str = ""

    @property
    def n_out(self) -> int:
        return self.params["n_out"]

    def output_shape(self) -> tuple[int, ...]:
        p = self.params
        if self.core == "FP_CONV":
            return (p["n_out"], FP_SIZE, FP_SIZE)
        if self.core == "BIN_CONV":
            side = p["size"] // 2 if p["pool"] else p["size"]
            return (p["n_out"], side, side)
        return (p["n_out"],)


def fold_layer(
    core: str,
    params: dict[str, int],
    w: np.ndarray,
    k: Sequence[Fraction],
    h: Sequence[Fraction],
    bound: int,
    where: str,
    pool_first: bool = False,
    roots: Sequence[tuple[Fraction, Fraction]] | None = None,
) -> CoreLayer:
    """A thresholded layer from its ±1 weights and per-output ``(k, h)``: each output
    whose comparison flips gets its weights negated. With ``roots``, output ``o`` is +1
    iff ``s·k + h >= c·sqrt(v)`` for ``(c, v) = roots[o]`` (:func:`threshold_root`)."""
    w = np.array(w, dtype=np.int8)
    t = np.zeros(len(k), np.int16)
    for o, (kv, hv) in enumerate(zip(k, h, strict=True)):
        at = f"{where}, output {o}"
        if roots is None:
            t[o], flip = threshold(kv, hv, bound, at, pool_first)
        else:
            t[o], flip = threshold_root(kv, hv, *roots[o], bound, at, pool_first)
        if flip:
            w[o] = -w[o]
    return CoreLayer(core, params, w, t, where)


@dataclass
class Network:
    layers: list[CoreLayer]
    input_bits: int = 7
    score_bits: int = 0
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Every layer within its core's parameters and chained to the previous one."""
        if not self.layers:
            raise ModelError(f"{self.source}: no layers")
        first = self.layers[0]
        if first.core != "FP_CONV":
            raise ModelError(
                f"{first.where}: the first layer must run on FP_CONV (3x32x32 i8 input)"
            )
        if not self.layers[-1].params.get("last"):
            raise ModelError(f"{self.layers[-1].where}: the last layer must be BIN_FC with last")
        shape: tuple[int, ...] = (FP_CHANNELS, FP_SIZE, FP_SIZE)
        for i, layer in enumerate(self.layers):
            p = layer.params
            if layer.core == "FP_CONV":
                if i:
                    raise ModelError(f"{layer.where}: FP_CONV only runs the first layer")
                _range(layer, "n_out", MAX_FP_OUT)
            elif layer.core == "BIN_CONV":
                if len(shape) != 3 or shape[0] != p["n_in"] or shape[1] != p["size"]:
                    raise ModelError(
                        f"{layer.where}: takes bits[{p['n_in']}][{p['size']}][{p['size']}], "
                        f"the layer before gives {list(shape)}"
                    )
                if p["size"] not in CONV_SIZES:
                    raise ModelError(
                        f"{layer.where}: BIN_CONV runs {', '.join(map(str, CONV_SIZES))}"
                        f"-pixel maps, not {p['size']}"
                    )
                _range(layer, "n_in", MAX_CONV)
                _range(layer, "n_out", MAX_CONV)
            else:
                if math.prod(shape) != p["n_in"]:
                    raise ModelError(
                        f"{layer.where}: takes {p['n_in']} inputs, the layer before "
                        f"gives {math.prod(shape)}"
                    )
                if p["last"] and i != len(self.layers) - 1:
                    raise ModelError(f"{layer.where}: only the last layer computes scores")
                _range(layer, "n_in", MAX_FC_IN)
                _range(layer, "n_out", MAX_FC_OUT)
            shape = layer.output_shape()

    @property
    def classes(self) -> int:
        return self.layers[-1].n_out

    def buffers(self) -> dict[str, np.ndarray]:
        """``w{i}`` (packed words, uint64) and ``t{i}`` (int16) as ``acic run --set`` takes them."""
        out = {}
        for i, layer in enumerate(self.layers):
            out[f"w{i}"] = pack_bits(layer.weights)
            out[f"t{i}"] = np.ascontiguousarray(layer.thresholds, dtype="<i2")
        return out


def _range(layer: CoreLayer, name: str, most: int) -> None:
    v = layer.params[name]
    if not 1 <= v <= most:
        raise ModelError(f"{layer.where}: {layer.core}'s {name} is 1..{most}, the layer has {v}")


def write_npy(arrays: dict[str, np.ndarray], directory: str) -> list[str]:
    """Each array as ``directory/NAME.npy``, written whole or not at all."""
    import io

    from .._io import write_atomic

    paths = []
    for name, a in arrays.items():
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        path = os.path.join(directory, f"{name}.npy")
        write_atomic(path, buf.getvalue())
        paths.append(path)
    return paths


def target_name(path: str) -> str:
    """The name of the (first) target a .aci file declares."""
    from .._io import read_input

    text = read_input(path, "target file").decode("utf-8", errors="replace")
    for line in text.splitlines():
        m = re.match(r"\s*target\s+([A-Za-z_]\w*)", line.split("//")[0])
        if m:
            return m.group(1)
    raise ModelError(f"{path}: declares no target")


def _dims(shape: Iterable[int]) -> str:
    return "".join(f"[{d}]" for d in shape)


def program_text(
    net: Network,
    name: str,
    out_dir: str,
    target: str | None = None,
    images: int = 1,
    batch: int = 1,
) -> str:
    """A ``.aci`` program that classifies ``IMAGES`` images in batches of ``BATCH``:
    one window per run of layers on the same core (the mapping left to acic, like
    programs/bnn_auto.aci); its buffers are named as ``buffers()`` and ``images``,
    ``scores``. Imports are relative to ``out_dir``, where the program is written."""
    if images < 1 or batch < 1 or images % batch:
        raise ModelError(f"BATCH ({batch}) must divide IMAGES ({images}), both at least 1")
    target = target or str(library_dir() / "targets" / "zcu102.aci")

    def rel(p: str | os.PathLike[str]) -> str:
        return os.path.relpath(os.path.abspath(p), os.path.abspath(out_dir))

    lines = [
        f"// Generated by `acic import` from {net.source}: {len(net.layers)} layers on the",
        "// three BNN cores. Pixels are x / 2^%d; scores are the float scores x 2^%d."
        % (net.input_bits, net.score_bits),
        f'import "{rel(target)}"',
        f'import "{rel(library_dir() / "cores" / "bnn.aci")}"',
        "",
        f"const IMAGES = {images}",
        f"const BATCH = {batch}",
        "",
        f"input buffer images : i8[IMAGES][{FP_CHANNELS}][{FP_SIZE}][{FP_SIZE}] in ddr",
    ]
    for i, layer in enumerate(net.layers):
        lines.append(f"input buffer w{i} : bits{_dims(layer.weights.shape)} in ddr")
        lines.append(f"input buffer t{i} : i16{_dims(layer.thresholds.shape)} in ddr")
    lines.append(f"output buffer scores : i32[IMAGES][{net.classes}] in ddr")
    lines.append("")
    for i, layer in enumerate(net.layers[:-1]):
        shape = layer.output_shape()
        if net.layers[i + 1].core == "BIN_FC" and len(shape) > 1:
            shape = (math.prod(shape),)  # flattened for the classifier
        if math.prod(shape) % 64:
            shape = (64 * -(-math.prod(shape) // 64),)  # each image's map starts on a word
        lines.append(f"buffer fm{i} : bits[BATCH]{_dims(shape)} in ddr")
    lines += [
        "",
        f"program {name} on {target_name(target)} {{",
        "    repeat b in 0 .. IMAGES / BATCH {",
    ]
    groups: list[list[int]] = []
    for i, layer in enumerate(net.layers):
        if groups and net.layers[groups[-1][-1]].core == layer.core:
            groups[-1].append(i)
        else:
            groups.append([i])
    for group in groups:
        lines += ["        window { parsec { thread {", "            loop i in 0 .. BATCH {"]
        for i in group:
            layer = net.layers[i]
            x = "images[b * BATCH + i]" if i == 0 else f"fm{i - 1}[i]"
            y = "scores[b * BATCH + i]" if i == len(net.layers) - 1 else f"fm{i}[i]"
            params = ", ".join(
                f"{k}: {('true' if v else 'false') if k in ('pool', 'last') else v}"
                for k, v in layer.params.items()
            )
            lines.append(
                f"                task {layer.core}(x: {x}, w: w{i}, t: t{i}, y: {y}, {params})"
            )
        lines += ["            }", "        } } }"]
    lines += ["    }", "}", ""]
    return "\n".join(lines)
