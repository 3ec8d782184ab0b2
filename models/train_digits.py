"""Train the binarized digits network (``make model``) and write ``models/digits.npz``.

BinaryNet's method in plain numpy: real-valued weights clipped to [-1, 1] whose signs
the forward pass uses, the sign activation's gradient passed straight through where
|y| <= 1, batch normalisation with batch statistics while training and the training
set's statistics afterwards, Adam on a softmax cross-entropy. Deterministic: every
draw comes from one seeded generator (run with OPENBLAS_NUM_THREADS=1 for the same
bytes on every run). The network and the data are :mod:`aci.imports.digits`.

The last layer's batch norm becomes ``score = s·k + h`` with ``k`` and ``h`` rounded
to multiples of 2^-SCORE_BITS (and b, mean = 0, inv_std = 1), so that the BIN_FC
core's int16 ``(k, h)`` hold it exactly; the script prints the held-out accuracy
before and after that rounding.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aci.imports import digits  # noqa: E402
from aci.imports.digits import LAYERS, im2col, maxpool, sign  # noqa: E402

EPS = 1e-4
SCORE_BITS = 6


def col2im(dcols: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    b, c, hgt, wid = shape
    d = dcols.reshape(b, hgt, wid, c, 3, 3)
    dxp = np.zeros((b, c, hgt + 2, wid + 2), dcols.dtype)
    for dy in range(3):
        for dx in range(3):
            dxp[:, :, dy : dy + hgt, dx : dx + wid] += d[:, :, :, :, dy, dx].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1]


class Net:
    def __init__(self, rng: np.random.Generator):
        self.v, self.gamma, self.beta = [], [], []
        n_in, side = 3, digits.FP_SIZE
        for kind, n_out, pooled in LAYERS:
            if kind == "dense" and side:
                n_in, side = n_in * side * side, 0  # the maps flattened
            fan = n_in * 9 if kind == "conv" else n_in
            shape = (n_out, n_in, 3, 3) if kind == "conv" else (n_in, n_out)
            self.v.append(rng.uniform(-1, 1, shape).astype(np.float32) * np.float32(np.sqrt(3 / fan)))
            self.gamma.append(np.ones(n_out, np.float32))
            self.beta.append(np.zeros(n_out, np.float32))
            side = side // 2 if pooled else side
            n_in = n_out
        self.mean = [None] * len(LAYERS)
        self.var = [None] * len(LAYERS)

    def params(self):
        return self.v + self.gamma + self.beta

    def forward(self, x: np.ndarray, train: bool, upto: int | None = None):
        """Scores, and the cache for backward; with ``upto``, the sums of that layer."""
        a = x.astype(np.float32) / np.float32(2**digits.INPUT_BITS)
        cache = []
        for l, (kind, _, pooled) in enumerate(LAYERS):
            wb = sign(self.v[l]).astype(np.float32)
            if kind == "conv":
                cols = im2col(a)
                s = (cols @ wb.reshape(wb.shape[0], -1).T).reshape(a.shape[0], a.shape[2], a.shape[3], -1)
                s = s.transpose(0, 3, 1, 2)
                pre_pool = s
                if pooled:
                    s = maxpool(s)
                axes, shape = (0, 2, 3), (1, -1, 1, 1)
            else:
                a = a.reshape(a.shape[0], -1)
                cols, pre_pool = a, None
                s = a @ wb
                axes, shape = (0,), (1, -1)
            if l == upto:
                return s, axes
            if train:
                mean, var = s.mean(axis=axes), s.var(axis=axes)
            else:
                mean, var = self.mean[l], self.var[l]
            inv = 1 / np.sqrt(var + EPS)
            xhat = (s - mean.reshape(shape)) * inv.reshape(shape)
            y = xhat * self.gamma[l].reshape(shape) + self.beta[l].reshape(shape)
            cache.append((kind, pooled, a.shape, cols, wb, pre_pool, s, xhat, inv, y, axes, shape))
            a = y if l == len(LAYERS) - 1 else sign(y).astype(np.float32)
        return a, cache

    def backward(self, dscores: np.ndarray, cache):
        grads_v, grads_g, grads_b = [None] * len(LAYERS), [None] * len(LAYERS), [None] * len(LAYERS)
        d = dscores
        for l in reversed(range(len(LAYERS))):
            kind, pooled, in_shape, cols, wb, pre_pool, s, xhat, inv, y, axes, shape = cache[l]
            if l != len(LAYERS) - 1:
                d = d * (np.abs(y) <= 1)  # straight-through sign
            grads_g[l] = (d * xhat).sum(axis=axes)
            grads_b[l] = d.sum(axis=axes)
            dxhat = d * self.gamma[l].reshape(shape)
            m = np.prod([s.shape[i] for i in axes])
            ds = (inv.reshape(shape) / m) * (m * dxhat - dxhat.sum(axis=axes).reshape(shape)
                                             - xhat * (dxhat * xhat).sum(axis=axes).reshape(shape))
            if kind == "conv":
                if pooled:
                    up = np.repeat(np.repeat(s, 2, axis=2), 2, axis=3)
                    mask = pre_pool == up
                    mask = mask / np.maximum(1, np.repeat(np.repeat(
                        mask.reshape(mask.shape[0], mask.shape[1], mask.shape[2] // 2, 2, mask.shape[3] // 2, 2)
                        .sum(axis=(3, 5)), 2, axis=2), 2, axis=3))
                    ds = np.repeat(np.repeat(ds, 2, axis=2), 2, axis=3) * mask
                dflat = ds.transpose(0, 2, 3, 1).reshape(-1, ds.shape[1])
                grads_v[l] = (dflat.T @ cols).reshape(wb.shape)
                if l:
                    d = col2im(dflat @ wb.reshape(wb.shape[0], -1), in_shape)
            else:
                grads_v[l] = cols.T @ ds
                d = (ds @ wb.T).reshape(cache[l - 1][9].shape)
        return grads_v + grads_g + grads_b

    def statistics(self, x: np.ndarray, batch: int = 200) -> None:
        """The training set's mean and variance of every layer, layer by layer."""
        for l in range(len(LAYERS)):
            sums, squares, count = 0.0, 0.0, 0
            for start in range(0, len(x), batch):
                s, axes = self.forward(x[start : start + batch], train=False, upto=l)
                sums = sums + s.astype(np.float64).sum(axis=axes)
                squares = squares + (s.astype(np.float64) ** 2).sum(axis=axes)
                count += np.prod([s.shape[i] for i in axes])
            mean = sums / count
            self.mean[l] = mean.astype(np.float32)
            self.var[l] = (squares / count - mean**2).astype(np.float32)


def arrays(net: Net) -> list[np.ndarray]:
    """BinaryNet's six arrays per layer (kernels flipped back to Theano's convention)."""
    out = []
    for l, (kind, n_out, _) in enumerate(LAYERS):
        # Only the weights' signs matter: stored as ±1, the file compresses to a few KB.
        w = sign(net.v[l][:, :, ::-1, ::-1] if kind == "conv" else net.v[l])
        inv_std = (1 / np.sqrt(net.var[l].astype(np.float64) + EPS)).astype(np.float32)
        out += [np.ascontiguousarray(w, np.float32), np.zeros(n_out, np.float32), net.beta[l].copy(),
                net.gamma[l].copy(), net.mean[l].copy(), inv_std]
    # The last layer as s·k + h with k, h on the 2^-SCORE_BITS grid.
    w, b, beta, gamma, mean, inv_std = out[-6:]
    k = gamma.astype(np.float64) * inv_std
    h = beta.astype(np.float64) - k * mean
    q = 2.0**SCORE_BITS
    out[-6:] = [w, b, (np.round(h * q) / q).astype(np.float32), (np.round(k * q) / q).astype(np.float32),
                np.zeros_like(mean), np.ones_like(inv_std)]
    return out


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float((scores.argmax(axis=1) == labels).mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default=str(digits.MODEL))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    xtr, ytr, xte, yte = digits.dataset()
    rng = np.random.Generator(np.random.PCG64(args.seed))
    net = Net(rng)
    params = net.params()
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step, batch = 0, 50
    start = time.time()
    for epoch in range(args.epochs):
        lr = 3e-3 * (0.1 ** (epoch / args.epochs))
        order = rng.permutation(len(ytr))
        loss = 0.0
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            scores, cache = net.forward(xtr[idx], train=True)
            z = scores - scores.max(axis=1, keepdims=True)
            p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            loss += -np.log(p[np.arange(len(idx)), ytr[idx]] + 1e-12).sum()
            p[np.arange(len(idx)), ytr[idx]] -= 1
            grads = net.backward((p / len(idx)).astype(np.float32), cache)
            step += 1
            for j, (param, g) in enumerate(zip(params, grads, strict=True)):
                m[j] = 0.9 * m[j] + 0.1 * g
                v[j] = 0.999 * v[j] + 0.001 * g * g
                update = lr * (m[j] / (1 - 0.9**step)) / (np.sqrt(v[j] / (1 - 0.999**step)) + 1e-8)
                param -= update.astype(np.float32)
                if j < len(LAYERS):
                    np.clip(param, -1, 1, out=param)
        print(f"epoch {epoch + 1:2}: loss {loss / len(ytr):.4f}  ({time.time() - start:.0f} s)", flush=True)
    net.statistics(xtr)
    before = accuracy(net.forward(xte, train=False)[0], yte)
    out = arrays(net)
    after = accuracy(digits.float_scores(out, xte), yte)
    train_acc = accuracy(digits.float_scores(out, xtr), ytr)
    print(f"held-out accuracy {before:.4f} (float network), {after:.4f} with the last layer on "
          f"2^-{SCORE_BITS}; training {train_acc:.4f}")
    np.savez_compressed(args.output, *out)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
