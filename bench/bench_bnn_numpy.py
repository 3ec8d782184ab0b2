"""Throughput of the numpy models of the BNN cores through the whole network, on one core.

Runs the 9-layer binarized CIFAR-10 network of ``aci/cores/bnndata.py`` on
generated data and prints one JSON object:

    {"images_per_s": ..., "formulation": ..., "batch": ...,
     "per_layer_ms": {"L0": ..., ..., "L8": ...}}

``per_layer_ms`` is the time per image spent in each layer.  Weight caches
are warm (one untimed pass first), as in a program loop that passes the same
weights on every invocation.

``--compare`` also times the two exact formulations of the binary layers at
batch 1 and 16 and adds them under ``"compare"``:

* ``xor-popcount``: the models of ``aci/cores/bnn.py`` (the kept formulation);
* ``blas``: defined here — ±1 float32 im2col matrix products through BLAS.
  FP_CONV is the same float32 product in both.

BLAS and OpenMP are pinned to one thread before numpy is imported: the
figure of merit is single-core speed.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402 (after the thread pinning above)
import json  # noqa: E402 (after the thread pinning above)
import sys  # noqa: E402 (after the thread pinning above)
import time  # noqa: E402 (after the thread pinning above)
from collections.abc import Mapping  # noqa: E402 (after the thread pinning above)
from pathlib import Path  # noqa: E402 (after the thread pinning above)

import numpy as np  # noqa: E402 (after the thread pinning above)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aci.cores import bnn, bnndata  # noqa: E402 (after sys.path.insert)
from aci.cores.bits import bytes_as_words, pack_bits, unpack_bits, words_as_bytes  # noqa: E402 (after sys.path.insert)

KEPT = "xor-popcount"

# Float32 columns per matrix product: bounds the im2col buffer to 8 MB.
_BLAS_COLUMNS = 2**21


def _blas_weights(w: np.ndarray, count: int, rows: int, cache: dict) -> np.ndarray:
    """Weights as a (rows, count/rows) ±1 float32 matrix, once per distinct tensor."""
    key = (count, w.tobytes())
    if key not in cache:
        signs = unpack_bits(bytes_as_words(w[0]), count)
        cache[key] = signs.reshape(rows, count // rows).astype(np.float32)
    return cache[key]


def _signs(x: np.ndarray, count: int) -> np.ndarray:
    return unpack_bits(bytes_as_words(x), count).astype(np.float32)


def _pack(bits: np.ndarray) -> np.ndarray:
    return words_as_bytes(pack_bits(bits.reshape(bits.shape[0], -1), batch=True))


_CONV_CACHE: dict = {}
_FC_CACHE: dict = {}


def blas_bin_conv(
    params: Mapping[str, int], inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """BIN_CONV as ±1 float32 matrix products (shared w and t, x per image)."""
    n_in, n_out, size, pool = (params[k] for k in ("n_in", "n_out", "size", "pool"))
    wm = _blas_weights(inputs["w"], n_out * n_in * 9, n_out, _CONV_CACHE)
    t = inputs["t"].view("<i2")[0]
    x = inputs["x"]
    n, k, pixels = x.shape[0], 9 * n_in, size * size
    step = max(1, _BLAS_COLUMNS // (k * pixels))
    out = []
    for start in range(0, n, step):
        xs = _signs(x[start : start + step], n_in * pixels)
        m = xs.shape[0]
        # Channel-major, image-minor layout so that one product covers m images.
        xp = np.zeros((n_in, m, size + 2, size + 2), np.float32)
        xp[:, :, 1:-1, 1:-1] = xs.reshape(m, n_in, size, size).transpose(1, 0, 2, 3)
        cols = np.empty((n_in, 3, 3, m, size, size), np.float32)
        for ky in range(3):
            for kx in range(3):
                cols[:, ky, kx] = xp[:, :, ky : ky + size, kx : kx + size]
        sums = (wm @ cols.reshape(k, m * pixels)).reshape(n_out, m, size, size)
        if pool:
            half = np.maximum(sums[:, :, 0::2], sums[:, :, 1::2])
            sums = np.maximum(half[..., 0::2], half[..., 1::2])
        out.append(_pack((sums < t[:, None, None, None]).transpose(1, 0, 2, 3)))
    return {"y": np.concatenate(out)}


def blas_bin_fc(
    params: Mapping[str, int], inputs: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """BIN_FC as a ±1 float32 matrix product (shared w and t, x per image)."""
    n_in, n_out, last = params["n_in"], params["n_out"], params["last"]
    wm = _blas_weights(inputs["w"], n_out * n_in, n_out, _FC_CACHE)
    sums = (_signs(inputs["x"], n_in) @ wm.T).astype(np.int64)
    t = inputs["t"].view("<i2")[0]
    if last:
        kh = t.reshape(n_out, 2).astype(np.int64)
        return {"y": (sums * kh[:, 0] + kh[:, 1]).astype("<i4").view(np.uint8)}
    return {"y": _pack(sums < t)}


FORMULATIONS = {
    KEPT: bnn.MODELS,
    "blas": {"FP_CONV": bnn.fp_conv, "BIN_CONV": blas_bin_conv, "BIN_FC": blas_bin_fc},
}


def measure(name: str, data: Mapping[str, np.ndarray], batch: int, seconds: float) -> dict:
    """Images per second and per-layer ms per image of one formulation."""
    times: list[float] = []

    def timed(fn):
        def run(params, inputs):
            start = time.perf_counter()
            result = fn(params, inputs)
            times.append(time.perf_counter() - start)
            return result

        return run

    models = {core: timed(fn) for core, fn in FORMULATIONS[name].items()}
    images = data["images"][:batch]
    bnndata.layer_outputs(data, images, models)  # warm the weight caches
    times.clear()
    passes = 0
    start = time.perf_counter()
    while passes == 0 or time.perf_counter() - start < seconds:
        bnndata.layer_outputs(data, images, models)
        passes += 1
    elapsed = time.perf_counter() - start
    per_layer = np.array(times).reshape(passes, len(bnndata.LAYERS)).sum(axis=0)
    return {
        "images_per_s": round(passes * batch / elapsed, 1),
        "formulation": name,
        "batch": batch,
        "per_layer_ms": {
            layer.name: round(1e3 * ms / (passes * batch), 3)
            for layer, ms in zip(bnndata.LAYERS, per_layer, strict=True)
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="images per invocation (default 16)")
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="time per measurement (default 3)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--compare", action="store_true", help="time both formulations at batch 1 and 16"
    )
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")

    batches = sorted({1, 16, args.batch}) if args.compare else [args.batch]
    data = bnndata.generate(args.seed, max(batches))
    result = measure(KEPT, data, args.batch, args.seconds)
    if args.compare:
        expected = bnndata.forward(data)
        for name, models in FORMULATIONS.items():
            scores = (
                bnndata.layer_outputs(data, models=models)[-1].view("<i4").reshape(expected.shape)
            )
            if not np.array_equal(scores, expected):
                raise SystemExit(f"formulation {name} disagrees with the models")
        result["compare"] = [
            measure(name, data, batch, args.seconds) for name in FORMULATIONS for batch in batches
        ]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
