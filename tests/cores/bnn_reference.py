"""Plain reference of the BNN cores, written from the ABI text alone.

Slow on purpose and shares no code with ``aci/cores``: every step is the
literal reading of the contract, one invocation at a time, in int64.

* bits tensor: element k is bit k % 64 of the little-endian 64-bit word
  k // 64; bit 1 means −1, bit 0 means +1; whole words, unused bits 0.
* FP_CONV: x i8[3][32][32], w bits[n_out][3][3][3], t i16[n_out];
  y[o][i][j] = +1 iff Σ_{c,dy,dx} xpad[c][i+dy][j+dx]·w[o][c][dy][dx] >= t[o],
  with xpad the input padded by one zero on each side.
* BIN_CONV: the same on ±1 inputs bits[n_in][s][s] (padding contributes 0),
  then with pool a 2x2 stride-2 max in the ±1 domain.
* BIN_FC: sum = n_in − 2·popcount(x XOR w_o); y = +1 iff sum >= t[o], or for
  the last layer y = sum·k + h as int32 with t[o] = (k, h).

The functions with the models' interface take and return ``uint8`` port
arrays ``(N or 1, bytes)`` like ``aci.cores.bnn``; ``forward`` runs the whole
network from the buffers of ``aci.cores.bnndata.generate``.
"""

from __future__ import annotations

import numpy as np

# The network, copied from the specification table:
# (core, params, weight buffer, threshold buffer).
NETWORK = [
    ("FP_CONV", {"n_out": 128}, "w0", "t0"),
    ("BIN_CONV", {"n_in": 128, "n_out": 128, "size": 32, "pool": 1}, "w1", "t1"),
    ("BIN_CONV", {"n_in": 128, "n_out": 256, "size": 16, "pool": 0}, "w2", "t2"),
    ("BIN_CONV", {"n_in": 256, "n_out": 256, "size": 16, "pool": 1}, "w3", "t3"),
    ("BIN_CONV", {"n_in": 256, "n_out": 512, "size": 8, "pool": 0}, "w4", "t4"),
    ("BIN_CONV", {"n_in": 512, "n_out": 512, "size": 8, "pool": 1}, "w5", "t5"),
    ("BIN_FC", {"n_in": 8192, "n_out": 1024, "last": 0}, "w6", "t6"),
    ("BIN_FC", {"n_in": 1024, "n_out": 1024, "last": 0}, "w7", "t7"),
    ("BIN_FC", {"n_in": 1024, "n_out": 10, "last": 1}, "w8", "t8"),
]


# ---------------------------------------------------------------- bytes


def little_endian_bytes(values: np.ndarray) -> np.ndarray:
    """The little-endian byte image of an integer array, built by shifting."""
    a = np.asarray(values).ravel()
    width = a.dtype.itemsize
    if np.issubdtype(a.dtype, np.signedinteger):
        u = a.astype(np.int64).view(np.uint64)  # two's complement
    else:
        u = a.astype(np.uint64)
    shifts = np.arange(width, dtype=np.uint64) * np.uint64(8)
    return ((u[:, None] >> shifts[None, :]) & np.uint64(0xFF)).astype(np.uint8).ravel()


def words(row: np.ndarray) -> np.ndarray:
    """64-bit words assembled from a row of bytes, least significant byte first."""
    b = np.asarray(row, dtype=np.uint8).astype(np.uint64).reshape(-1, 8)
    shifts = np.arange(8, dtype=np.uint64) * np.uint64(8)
    return np.bitwise_or.reduce(b << shifts[None, :], axis=1)


def signs(row: np.ndarray, count: int) -> np.ndarray:
    """Elements 0..count-1 of a bits tensor as int64 ±1."""
    w = words(row)
    k = np.arange(count)
    bit = (w[k // 64] >> (k % 64).astype(np.uint64)) & np.uint64(1)
    return 1 - 2 * bit.astype(np.int64)


def bits_row(values: np.ndarray) -> np.ndarray:
    """A ±1 tensor (any shape, C order) as the bytes of its bits tensor."""
    flat = np.asarray(values).ravel()
    n_words = (flat.size + 63) // 64
    bit = np.zeros(n_words * 64, dtype=np.uint64)
    bit[: flat.size] = flat == -1
    w = np.bitwise_or.reduce(
        bit.reshape(n_words, 64) << np.arange(64, dtype=np.uint64)[None, :], axis=1
    )
    return little_endian_bytes(w)


def int_values(row: np.ndarray, width: int) -> np.ndarray:
    """Signed little-endian integers of ``width`` bytes, as int64."""
    b = np.asarray(row, dtype=np.uint8).astype(np.int64).reshape(-1, width)
    unsigned = (b << (8 * np.arange(width))[None, :]).sum(axis=1)
    return np.where(unsigned >= 1 << (8 * width - 1), unsigned - (1 << (8 * width)), unsigned)


# ---------------------------------------------------------------- layer maths


def conv3x3(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Σ over the 3x3 window of x (c, s, s) · w (o, c, 3, 3); zero padding."""
    s = x.shape[1]
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)), constant_values=0)
    sums = np.zeros((w.shape[0], s, s), dtype=np.int64)
    for dy in range(3):
        for dx in range(3):
            sums += np.tensordot(w[:, :, dy, dx], xp[:, dy : dy + s, dx : dx + s], axes=(1, 0))
    return sums


def threshold(sums: np.ndarray, t: np.ndarray) -> np.ndarray:
    """+1 where sum >= t of its output channel (the first axis), else −1."""
    t = t.reshape((-1,) + (1,) * (sums.ndim - 1))
    return np.where(sums >= t, 1, -1)


def maxpool2(y: np.ndarray) -> np.ndarray:
    """2x2 stride-2 max-pool of (c, s, s)."""
    c, s, _ = y.shape
    out = np.empty((c, s // 2, s // 2), dtype=y.dtype)
    for i in range(s // 2):
        for j in range(s // 2):
            out[:, i, j] = y[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max(axis=(1, 2))
    return out


def fc_sums(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """n_in − 2·popcount(x XOR w_o) for ±1 x (n_in,) and w (n_out, n_in)."""
    differ = (x[None, :] != w).sum(axis=1)
    return x.size - 2 * differ


def wrap_int32(v: np.ndarray) -> np.ndarray:
    return ((v + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int64)


# ---------------------------------------------------------------- one invocation


def fp_conv_one(x: np.ndarray, w: np.ndarray, t: np.ndarray) -> np.ndarray:
    """x int64 (3, 32, 32), w ±1 (n_out, 3, 3, 3), t (n_out,) -> ±1 (n_out, 32, 32)."""
    return threshold(conv3x3(x, w), t)


def bin_conv_one(pool: int, x: np.ndarray, w: np.ndarray, t: np.ndarray) -> np.ndarray:
    """x ±1 (n_in, s, s), w ±1 (n_out, n_in, 3, 3), t (n_out,) -> ±1 output."""
    y = threshold(conv3x3(x, w), t)
    return maxpool2(y) if pool else y


def bin_fc_one(last: int, x: np.ndarray, w: np.ndarray, t: np.ndarray) -> np.ndarray:
    """x ±1 (n_in,), w ±1 (n_out, n_in); t (n_out,) or (n_out, 2) -> ±1 or int32 values."""
    sums = fc_sums(x, w)
    if last:
        return wrap_int32(sums * t[:, 0] + t[:, 1])
    return threshold(sums, t)


# ---------------------------------------------------------------- port interface


def _row(a: np.ndarray, i: int) -> np.ndarray:
    return a[0] if a.shape[0] == 1 else a[i]


def _count(inputs) -> int:
    return max(a.shape[0] for a in inputs.values())


def fp_conv(params, inputs):
    n_out = params["n_out"]
    y = []
    for i in range(_count(inputs)):
        x = int_values(_row(inputs["x"], i), 1).reshape(3, 32, 32)
        w = signs(_row(inputs["w"], i), n_out * 27).reshape(n_out, 3, 3, 3)
        t = int_values(_row(inputs["t"], i), 2)
        y.append(bits_row(fp_conv_one(x, w, t)))
    return {"y": np.array(y, dtype=np.uint8)}


def bin_conv(params, inputs):
    n_in, n_out, s, pool = params["n_in"], params["n_out"], params["size"], params["pool"]
    y = []
    for i in range(_count(inputs)):
        x = signs(_row(inputs["x"], i), n_in * s * s).reshape(n_in, s, s)
        w = signs(_row(inputs["w"], i), n_out * n_in * 9).reshape(n_out, n_in, 3, 3)
        t = int_values(_row(inputs["t"], i), 2)
        y.append(bits_row(bin_conv_one(pool, x, w, t)))
    return {"y": np.array(y, dtype=np.uint8)}


def bin_fc(params, inputs):
    n_in, n_out, last = params["n_in"], params["n_out"], params["last"]
    y = []
    for i in range(_count(inputs)):
        x = signs(_row(inputs["x"], i), n_in)
        w = signs(_row(inputs["w"], i), n_out * n_in).reshape(n_out, n_in)
        t = int_values(_row(inputs["t"], i), 2)
        if last:
            y.append(little_endian_bytes(bin_fc_one(1, x, w, t.reshape(n_out, 2)).astype(np.int32)))
        else:
            y.append(bits_row(bin_fc_one(0, x, w, t)))
    return {"y": np.array(y, dtype=np.uint8)}


MODELS = {"FP_CONV": fp_conv, "BIN_CONV": bin_conv, "BIN_FC": bin_fc}


# ---------------------------------------------------------------- network


def forward(data, images: np.ndarray | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Run the network on each image with ±1 int64 activations between layers.

    Returns the output port bytes of each layer, as arrays (N, bytes), and
    the scores int32 (N, 10).
    """
    imgs = data["images"] if images is None else images
    per_layer: list[list[np.ndarray]] = [[] for _ in NETWORK]
    scores = []
    for image in imgs:
        act = np.asarray(image).astype(np.int64)
        for index, (core, p, w_name, t_name) in enumerate(NETWORK):
            w_row = little_endian_bytes(data[w_name])
            t = np.asarray(data[t_name]).astype(np.int64)
            if core == "FP_CONV":
                w = signs(w_row, p["n_out"] * 27).reshape(p["n_out"], 3, 3, 3)
                act = fp_conv_one(act, w, t)
            elif core == "BIN_CONV":
                w = signs(w_row, p["n_out"] * p["n_in"] * 9).reshape(p["n_out"], p["n_in"], 3, 3)
                act = bin_conv_one(p["pool"], act.reshape(p["n_in"], p["size"], p["size"]), w, t)
            else:
                w = signs(w_row, p["n_out"] * p["n_in"]).reshape(p["n_out"], p["n_in"])
                act = bin_fc_one(p["last"], act.ravel(), w, t)
            if core == "BIN_FC" and p["last"]:
                per_layer[index].append(little_endian_bytes(act.astype(np.int32)))
            else:
                per_layer[index].append(bits_row(act))
        scores.append(act.astype(np.int32))
    outputs = [np.array(rows, dtype=np.uint8).reshape(len(imgs), -1) for rows in per_layer]
    return outputs, np.array(scores, dtype=np.int32).reshape(len(imgs), 10)
