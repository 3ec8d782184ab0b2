"""A plain float formulation of the imported networks, written from the formats'
descriptions alone (shares no code with ``aci/imports``): every layer is its
textbook definition in float64, one image at a time.

* bnn-fpga: convolution (the kernel flipped, as convolution is defined), +1 iff
  ``sum·k + h >= 0``, 2x2 max-pool of the ±1 outputs after layers 1, 3, 5, dense
  layers ``x @ sign(W)`` with W (inputs, outputs), scores ``sum·k + h``.
* BinaryNet: convolution, max-pool of the sums, batch norm, sign; last layer
  linear.

Weights: sign(w) is +1 for w >= 0. Pixels are used as given (the tests draw them
on the grid the cores take).
"""

from __future__ import annotations

import zipfile

import numpy as np


def sgn(x):
    return np.where(np.asarray(x) >= 0, 1.0, -1.0)


def convolve(x, w):
    """True 2-D convolution, 'same' size with zero padding: x (C, H, W), w (O, C, 3, 3);
    out[o, r, c] = Σ_{i,a,b} w[o, i, a, b] · x[i, r + 1 − a, c + 1 − b]."""
    c, hgt, wid = x.shape
    out = np.zeros((w.shape[0], hgt, wid))
    for a in range(3):
        for b in range(3):
            shifted = np.zeros_like(x, dtype=np.float64)
            # shifted[i, r, c] = x[i, r + 1 - a, c + 1 - b] where inside
            dr, dc = 1 - a, 1 - b
            rs = slice(max(0, -dr), min(hgt, hgt - dr))
            cs = slice(max(0, -dc), min(wid, wid - dc))
            shifted[:, rs, cs] = x[:, rs.start + dr : rs.stop + dr, cs.start + dc : cs.stop + dc]
            out += np.einsum("oi,irc->orc", w[:, :, a, b], shifted)
    return out


def pool(x):
    c, hgt, wid = x.shape
    return x.reshape(c, hgt // 2, 2, wid // 2, 2).max(axis=(2, 4))


def read_zip(path):
    with zipfile.ZipFile(path) as z:
        return [np.frombuffer(z.read(f"arr_{i}"), "<f4").astype(np.float64) for i in range(27)]


def bnnfpga_scores(path, pixels):
    """Scores (N, classes) of a bnn-fpga archive on float pixels (N, 3, 32, 32)."""
    arrs = read_zip(path)
    out = []
    for image in pixels:
        act = np.asarray(image, np.float64)
        channels = 3
        for layer in range(9):
            w, k, h = arrs[3 * layer : 3 * layer + 3]
            if layer < 6:
                w = w.reshape(k.size, channels, 3, 3)
                y = sgn(convolve(act, sgn(w)) * k[:, None, None] + h[:, None, None])
                act = pool(y) if layer in (1, 3, 5) else y
                channels = k.size
            else:
                x = act.reshape(-1)
                s = x @ sgn(w.reshape(x.size, k.size))
                act = s * k + h if layer == 8 else sgn(s * k + h)
        out.append(act)
    return np.array(out)


def binarynet_scores(arrays, pooled, pixels):
    """Scores of BinaryNet's six arrays per layer on float pixels (N, 3, 32, 32)."""
    out = []
    layers = len(arrays) // 6
    for image in pixels:
        act = np.asarray(image, np.float64)
        for layer in range(layers):
            w, b, beta, gamma, mean, inv_std = arrays[6 * layer : 6 * layer + 6]
            if w.ndim == 4:
                s = convolve(act, sgn(w))
                if layer in pooled:
                    s = pool(s)
                col = (slice(None), None, None)
                y = (s + b[col] - mean[col]) * gamma[col] * inv_std[col] + beta[col]
            else:
                s = act.reshape(-1) @ sgn(w)
                y = (s + b - mean) * gamma * inv_std + beta
            act = y if layer == layers - 1 else sgn(y)
        out.append(act)
    return np.array(out)
