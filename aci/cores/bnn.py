"""Fast functional models of the three cores of the binarized CIFAR-10 network.

Every function here is bit-exact with the core ABI; ``aci/cores/bits.py``
states the bits-tensor layout (element k is bit k % 64 of little-endian word
k // 64, bit 1 means −1).

Interface
---------
Each core is ``fn(params, inputs) -> outputs``:

* ``params`` maps parameter names to ints (extra names are ignored);
* ``inputs`` maps every input port name to a ``uint8`` array of shape
  ``(N, port_bytes)`` — N independent invocations — or ``(1, port_bytes)`` for
  a port shared by all N invocations (broadcast);
* the result maps every output port name to a ``uint8`` array of shape
  ``(N, port_bytes)``.

Port byte sizes: a bits tensor takes whole 64-bit words, i8 one byte, i16 two,
i32 four, all little-endian.  ``port_bytes(core, params)`` gives them.

Cores (3x3 kernels, cross-correlation, stride 1, padding 1):

* ``FP_CONV(n_out)``: ``x: i8[3][32][32]``, ``w: bits[n_out][3][3][3]``,
  ``t: i16[n_out]`` -> ``y: bits[n_out][32][32]``; ``sum = Σ x·w`` with zero
  padding; output +1 (bit 0) iff ``sum >= t[o]``.
* ``BIN_CONV(n_in, n_out, size, pool)``: ``x: bits[n_in][size][size]``,
  ``w: bits[n_out][n_in][3][3]``, ``t: i16[n_out]`` -> ``y: bits[n_out][s'][s']``
  with ``s' = size/2`` if pool else ``size``; a padded position contributes 0
  to the sum; output +1 iff ``sum >= t[o]``, then with ``pool`` a 2x2 stride-2
  max-pool in the ±1 domain (+1 iff any of the four is +1).
* ``BIN_FC(n_in, n_out, last)``: ``x: bits[n_in]``, ``w: bits[n_out][n_in]``,
  ``sum = n_in − 2·popcount(x XOR w_o)``.  Not last: ``t: i16[n_out]``,
  ``y: bits[n_out]`` as above.  Last: ``t: i16[n_out][2]`` holds ``(k, h)``
  pairs and ``y: i32[n_out]`` gets ``sum·k + h``, wrapped to int32.

Unused high bits of an input bits tensor are ignored; those of an output are 0.

Formulation
-----------
``bench/bench_bnn_numpy.py --compare`` times two exact formulations of the
binary layers on one core (OPENBLAS_NUM_THREADS=1, AMD EPYC with AVX-512
VPOPCNTDQ, numpy 2.4, whole 9-layer network, warm weight cache):

* (a) ±1 float32 im2col matrix products through BLAS (exact: every sum is an
  integer far below 2^24): 51 images/s at batch 1, 58 at batch 16;
* (b) bit-packed XOR + popcount: 69 images/s at batch 1, 80 at batch 16.

(b) is kept for BIN_CONV and BIN_FC.  It is as fast or faster on every
binary layer: one XOR and one hardware popcount (``np.bitwise_count``) cover
64 products, and the fully-connected layers read their packed weights as they
are (1 MB for L6) where BLAS streams them as 32 MB of floats on every call.
FP_CONV has 8-bit inputs, so it is a small float32 matrix product (its sums,
at most 128·27 in magnitude, are exact in float32).

Weights are reordered once per distinct weight tensor (keyed by its bytes)
and kept in a small cache, since a program loop passes the same weights on
every invocation; the first pass through the network costs about 6 ms more.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .bits import bytes_as_words, bytes_for, pack_bits, unpack_bits, words_as_bytes, words_for

__all__ = ["MODELS", "bin_conv", "bin_fc", "fp_conv", "port_bytes"]

#: FP_CONV has a fixed input geometry: 3 channels of 32x32 pixels.
FP_CHANNELS = 3
FP_SIZE = 32

# Invocations processed together when the weights are shared: large enough to
# amortise numpy's per-call overhead, small enough to keep the temporaries of
# the biggest layer (L1) within a few tens of MB.
_BATCH = 16
# Elements of one XOR/popcount tile: 512 KiB of uint64, so the tile and the
# accumulator rows it updates stay within a 1 MiB L2 cache (measured best
# among 2^13..2^17 on the benchmark machine).
_TILE = 65536
# Distinct weight tensors kept in prepared form.
_CACHE_SIZE = 32

# Parameter names of each core, in the order its tasks pass them (programs/cores/bnn.aci).
PARAMS = {
    "FP_CONV": ("n_out",),
    "BIN_CONV": ("n_in", "n_out", "size", "pool"),
    "BIN_FC": ("n_in", "n_out", "last"),
}
_FLAGS = ("pool", "last")


def _params(core: str, params: Mapping[str, int]) -> dict[str, int]:
    """The core's parameters as ints, checked for range."""
    if core not in PARAMS:
        raise ValueError(f"unknown core {core!r}; known: {', '.join(PARAMS)}")
    out = {}
    for name in PARAMS[core]:
        if name not in params:
            raise ValueError(f"{core}: missing parameter {name!r}")
        try:
            value = operator.index(params[name])
        except TypeError:
            raise ValueError(
                f"{core}: parameter {name!r} must be an integer, got {params[name]!r}"
            ) from None
        if name in _FLAGS:
            if value not in (0, 1):
                raise ValueError(f"{core}: parameter {name!r} must be 0 or 1, got {value}")
        elif value < 1:
            raise ValueError(f"{core}: parameter {name!r} must be >= 1, got {value}")
        out[name] = value
    if core == "BIN_CONV" and out["pool"] and out["size"] % 2:
        raise ValueError(f"BIN_CONV: pool needs an even size, got size={out['size']}")
    return out


def _port_bytes(core: str, p: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    n_out = p["n_out"]
    if core == "FP_CONV":
        return (
            {
                "x": FP_CHANNELS * FP_SIZE * FP_SIZE,
                "w": bytes_for(n_out * FP_CHANNELS * 9),
                "t": 2 * n_out,
            },
            {"y": bytes_for(n_out * FP_SIZE * FP_SIZE)},
        )
    n_in = p["n_in"]
    if core == "BIN_CONV":
        side = p["size"] // 2 if p["pool"] else p["size"]
        return (
            {
                "x": bytes_for(n_in * p["size"] ** 2),
                "w": bytes_for(n_out * n_in * 9),
                "t": 2 * n_out,
            },
            {"y": bytes_for(n_out * side * side)},
        )
    last = p["last"]
    return (
        {"x": bytes_for(n_in), "w": bytes_for(n_out * n_in), "t": 2 * n_out * (2 if last else 1)},
        {"y": 4 * n_out if last else bytes_for(n_out)},
    )


def port_bytes(core: str, params: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Byte sizes of the input ports and of the output ports of one invocation."""
    return _port_bytes(core, _params(core, params))


def _invocations(
    core: str, params: Mapping[str, int], inputs: Mapping[str, np.ndarray]
) -> tuple[dict[str, int], int, dict[str, np.ndarray], dict[str, int]]:
    """Check the call; return (params, N, input arrays, output port bytes)."""
    p = _params(core, params)
    in_bytes, out_bytes = _port_bytes(core, p)
    missing = [name for name in in_bytes if name not in inputs]
    unknown = [name for name in inputs if name not in in_bytes]
    if missing or unknown:
        raise ValueError(
            f"{core}: input ports must be {sorted(in_bytes)}; missing {missing}, unknown {unknown}"
        )
    rows = {}
    for name, size in in_bytes.items():
        a = inputs[name]
        if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 2:
            got = (
                f"{a.dtype} array of shape {a.shape}"
                if isinstance(a, np.ndarray)
                else type(a).__name__
            )
            raise ValueError(
                f"{core}: input {name!r} must be a uint8 array of shape (N, {size}), got a {got}"
            )
        if a.shape[1] != size:
            raise ValueError(
                f"{core}: input {name!r} has {a.shape[1]} bytes per invocation, "
                f"expected {size} for {p}"
            )
        rows[name] = a.shape[0]
    n = max(rows.values())
    bad = {name: r for name, r in rows.items() if r not in (1, n)}
    if bad:
        raise ValueError(f"{core}: every input must have N={n} rows or 1 (shared); got {bad}")
    # Rows must be contiguous for the byte -> word/int16 views below.
    return p, n, {name: np.ascontiguousarray(inputs[name]) for name in in_bytes}, out_bytes


def _batches(n: int, w: np.ndarray) -> Iterator[tuple[slice, np.ndarray]]:
    """Groups of invocations that share one weight tensor, with that tensor."""
    if w.shape[0] == 1:
        for start in range(0, n, _BATCH):
            yield slice(start, min(start + _BATCH, n)), w[0]
    else:
        for i in range(n):
            yield slice(i, i + 1), w[i]


def _take(a: np.ndarray, rows: slice) -> np.ndarray:
    """The rows of a port for a group; a shared port keeps its single row and
    numpy broadcasting spreads the result over the group."""
    return a if a.shape[0] == 1 else a[rows]


_CACHE: OrderedDict[tuple, object] = OrderedDict()


def _prepared(
    kind: str, shape: tuple[int, ...], w: np.ndarray, build: Callable[[np.ndarray], object]
):
    """``build(w)``, computed once per distinct (kind, shape, weight bytes)."""
    key = (kind, shape, w.tobytes())
    value = _CACHE.get(key)
    if value is None:
        value = build(w)
        _CACHE[key] = value
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return value


def _unpack(rows: np.ndarray, count: int) -> np.ndarray:
    """Bits (True = −1) of the first ``count`` elements of each byte row."""
    return unpack_bits(bytes_as_words(rows), count, signs=False)


def _pack(bits: np.ndarray) -> np.ndarray:
    """Byte rows of the bits tensors ``bits`` (m, count), True = −1."""
    return words_as_bytes(pack_bits(bits.reshape(bits.shape[0], -1), batch=True))


def _thresholds(t: np.ndarray) -> np.ndarray:
    return t.view("<i2")


def _xor_popcount(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Σ_j popcount(a[j, p] XOR b[j, q])`` for every (p, q).

    ``a`` is (W, P) and ``b`` is (W, Q) uint64.  The loop runs over the W words
    so that each step is one large, contiguous XOR/popcount/add over a (P, Q)
    tile; reducing a short last axis instead is several times slower in numpy.
    """
    words, p = a.shape
    q = b.shape[1]
    acc_type = np.uint16 if 64 * words <= np.iinfo(np.uint16).max else np.uint32
    acc = np.zeros((p, q), acc_type)
    step = max(1, _TILE // q)
    diff = np.empty((min(step, p), q), np.uint64)
    ones = np.empty(diff.shape, np.uint8)
    for start in range(0, p, step):
        part = acc[start : start + step]
        m = part.shape[0]
        for j in range(words):
            np.bitwise_xor(a[j, start : start + m, None], b[j], out=diff[:m])
            np.bitwise_count(diff[:m], out=ones[:m])
            part += ones[:m]
    return acc


def fp_conv(params: Mapping[str, int], inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """FP_CONV: 8-bit 3-channel 32x32 input, binary weights and output."""
    p, n, ports, out_bytes = _invocations("FP_CONV", params, inputs)
    n_out = p["n_out"]
    k = FP_CHANNELS * 9
    y = np.empty((n, out_bytes["y"]), np.uint8)
    for rows, w in _batches(n, ports["w"]):
        # (n_out, 27) ±1 matrix; columns in (channel, ky, kx) order = the w layout.
        wm = _prepared(
            "FP_CONV",
            (n_out,),
            w,
            lambda w: (
                unpack_bits(bytes_as_words(w), n_out * k).reshape(n_out, k).astype(np.float32)
            ),
        )
        x = _take(ports["x"], rows)
        m = x.shape[0]
        xp = np.zeros((m, FP_CHANNELS, FP_SIZE + 2, FP_SIZE + 2), np.float32)
        xp[:, :, 1:-1, 1:-1] = x.view(np.int8).reshape(m, FP_CHANNELS, FP_SIZE, FP_SIZE)
        cols = np.empty((m, FP_CHANNELS, 3, 3, FP_SIZE, FP_SIZE), np.float32)
        for ky in range(3):
            for kx in range(3):
                cols[:, :, ky, kx] = xp[:, :, ky : ky + FP_SIZE, kx : kx + FP_SIZE]
        sums = wm @ cols.reshape(m, k, FP_SIZE * FP_SIZE)  # (m, n_out, pixels)
        t = _thresholds(_take(ports["t"], rows))
        y[rows] = _pack(sums < t[:, :, None])
    return {"y": y}


@lru_cache(maxsize=None)
def _padding(size: int) -> tuple[np.ndarray, np.ndarray]:
    """For each pixel of a size x size map: which of its 9 window offsets lie
    outside the map (size*size, 9) int32, and how many lie inside (size*size,)."""
    inside = np.zeros((size + 2, size + 2), np.int32)
    inside[1:-1, 1:-1] = 1
    window = sliding_window_view(inside, (3, 3)).reshape(size * size, 9)
    return 1 - window, window.sum(axis=1, dtype=np.int32)


def _conv_weights(w: np.ndarray, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights as (9*cw, n_out) words, row (offset, channel word), channels
    packed per output and offset with zero padding; and popcount per (offset, output)."""
    cw = words_for(n_in)
    bits = _unpack(w, n_out * n_in * 9).reshape(n_out, n_in, 9)
    words = pack_bits(bits.transpose(2, 0, 1).reshape(9 * n_out, n_in), batch=True)
    words = words.reshape(9, n_out, cw)
    per_offset = np.bitwise_count(words).sum(axis=2, dtype=np.int32)
    return np.ascontiguousarray(words.transpose(0, 2, 1).reshape(9 * cw, n_out)), per_offset


def bin_conv(params: Mapping[str, int], inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """BIN_CONV: binary 3x3 convolution, threshold, optional 2x2 max-pool."""
    p, n, ports, out_bytes = _invocations("BIN_CONV", params, inputs)
    n_in, n_out, size, pool = p["n_in"], p["n_out"], p["size"], p["pool"]
    cw = words_for(n_in)
    outside, n_inside = _padding(size)
    y = np.empty((n, out_bytes["y"]), np.uint8)
    for rows, w in _batches(n, ports["w"]):
        wt, per_offset = _prepared(
            "BIN_CONV", (n_in, n_out), w, lambda w: _conv_weights(w, n_in, n_out)
        )
        x = _take(ports["x"], rows)
        m = x.shape[0]
        # Channel-packed words per pixel, zero bits (+1) in the padding ring.
        bits = _unpack(x, n_in * size * size).reshape(m, n_in, size * size)
        pixels = pack_bits(bits.transpose(0, 2, 1).reshape(m * size * size, n_in), batch=True)
        xp = np.zeros((cw, m, size + 2, size + 2), np.uint64)
        xp[:, :, 1:-1, 1:-1] = pixels.reshape(m, size, size, cw).transpose(3, 0, 1, 2)
        cols = np.empty((3, 3, cw, m, size, size), np.uint64)
        for ky in range(3):
            for kx in range(3):
                cols[ky, kx] = xp[:, :, ky : ky + size, kx : kx + size]
        differ = _xor_popcount(cols.reshape(9 * cw, m * size * size), wt)
        # A padded input is bit 0, so it "differs" exactly where the weight bit
        # is 1: take those counts out, and count only inside positions.
        differ = differ.reshape(m, size * size, n_out) - outside @ per_offset
        sums = (n_in * n_inside)[:, None] - 2 * differ
        sums = sums.reshape(m, size, size, n_out)
        if pool:
            # max of the sums then threshold == any of the four outputs is +1,
            # as the threshold test is monotone in the sum.
            half = np.maximum(sums[:, 0::2], sums[:, 1::2])
            sums = np.maximum(half[:, :, 0::2], half[:, :, 1::2])
        t = _thresholds(_take(ports["t"], rows))
        y[rows] = _pack((sums < t[:, None, None, :]).transpose(0, 3, 1, 2))
    return {"y": y}


def _fc_weights(w: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """Weight rows as (n_out, words) words, each row starting on a word."""
    bits = _unpack(w, n_out * n_in).reshape(n_out, n_in)
    return pack_bits(bits, batch=True)


def bin_fc(params: Mapping[str, int], inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """BIN_FC: binary fully-connected layer; thresholded, or scaled when last."""
    p, n, ports, out_bytes = _invocations("BIN_FC", params, inputs)
    n_in, n_out, last = p["n_in"], p["n_out"], p["last"]
    nw = words_for(n_in)
    y = np.empty((n, out_bytes["y"]), np.uint8)
    for rows, w in _batches(n, ports["w"]):
        if n_in % 64:
            wr = _prepared("BIN_FC", (n_in, n_out), w, lambda w: _fc_weights(w, n_in, n_out))
        else:
            wr = bytes_as_words(w).reshape(n_out, nw)  # rows already start on words
        x = bytes_as_words(_take(ports["x"], rows))
        if n_in % 64:
            x = x.copy()
            x[:, -1] &= np.uint64((1 << (n_in % 64)) - 1)  # ignore unused input bits
        m = x.shape[0]
        # Few rows: one broadcast XOR over (m, n_out, words) in tiles beats a
        # loop over the words, whose steps would each be tiny.
        differ = np.empty((m, n_out), np.int32)
        step = max(1, 4 * _TILE // (n_out * nw))
        for start in range(0, m, step):
            block = x[start : start + step, None, :] ^ wr[None]
            differ[start : start + step] = np.bitwise_count(block).sum(axis=2, dtype=np.int32)
        sums = n_in - 2 * differ
        t = _thresholds(_take(ports["t"], rows))
        if last:
            kh = t.reshape(t.shape[0], n_out, 2).astype(np.int64)
            scores = sums * kh[:, :, 0] + kh[:, :, 1]
            y[rows] = scores.astype("<i4").view(np.uint8)
        else:
            y[rows] = _pack(sums < t)
    return {"y": y}


MODELS: dict[
    str, Callable[[Mapping[str, int], Mapping[str, np.ndarray]], dict[str, np.ndarray]]
] = {
    "FP_CONV": fp_conv,
    "BIN_CONV": bin_conv,
    "BIN_FC": bin_fc,
}
