"""``acic import`` on real and random networks (issue 16's targets); prints one JSON object.

* The digits network (models/digits.npz) on the 360 held-out digits: ``acic import``
  -> ``acic compile`` -> ``acic run`` on each engine, accuracy beside the float
  network's, and whether the scores equal the float scores x 2^score_bits exactly.
* bit-exactness of the bnn-fpga and BinaryNet imports on random parameters (with
  k = 0, k < 0, gamma < 0 and sums on the threshold) against the plain float
  formulation of tests/import/reference.py: networks whose every score matches.
* the digits network written as QONNX: the same parameters and program as the
  BinaryNet path.

    .venv/bin/python bench/bench_import.py [--networks N]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci.imports import binarynet, bnnfpga, digits, qonnx  # noqa: E402 (after sys.path.insert)
from aci.imports.network import program_text  # noqa: E402 (after sys.path.insert)

reference = importlib.import_module("tests.import.reference")
helpers = importlib.import_module("tests.import.helpers")
qonnx_models = importlib.import_module("tests.import.qonnx_models")


def random_formats(networks: int, tmp: Path) -> dict:
    out = {"bnn-fpga": [0, 0], "binarynet": [0, 0]}
    for seed in range(networks):
        rng = np.random.Generator(np.random.PCG64(1000 + seed))
        helpers.write_bnnfpga(tmp / "p.zip", rng)
        pix, x = helpers.pixels(rng, 2)
        net = bnnfpga.read_params(str(tmp / "p.zip"))
        same = np.array_equal(
            helpers.run_network(net, x),
            reference.bnnfpga_scores(tmp / "p.zip", pix) * 2**net.score_bits,
        )
        out["bnn-fpga"][0] += same
        out["bnn-fpga"][1] += 1
        arrays = helpers.binarynet_arrays(rng)
        np.savez(tmp / "m.npz", *arrays)
        net = binarynet.read(str(tmp / "m.npz"))
        want = reference.binarynet_scores([a.astype(np.float64) for a in arrays], {1, 2, 3}, pix)
        out["binarynet"][0] += np.array_equal(helpers.run_network(net, x), want * 2**net.score_bits)
        out["binarynet"][1] += 1
    return {k: {"exact": v[0], "networks": v[1]} for k, v in out.items()}


def qonnx_same(tmp: Path) -> bool:
    qonnx_models.from_binarynet(digits.load_model(), digits.POOL, tmp / "digits.onnx")
    a, b = binarynet.read(str(digits.MODEL)), qonnx.read(str(tmp / "digits.onnx"))
    same = all(
        la.core == lb.core
        and la.params == lb.params
        and np.array_equal(la.weights, lb.weights)
        and np.array_equal(la.thresholds, lb.thresholds)
        for la, lb in zip(a.layers, b.layers, strict=True)
    )
    texts = [
        program_text(n, "digits", str(tmp), images=360, batch=40).split("\n", 1)[1] for n in (a, b)
    ]
    return bool(
        same
        and len(a.layers) == len(b.layers)
        and texts[0] == texts[1]
        and (a.input_bits, a.score_bits) == (b.input_bits, b.score_bits)
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", type=int, default=20, help="random networks per format")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        start = time.perf_counter()
        demo = digits.run_demo(tmp / "digits", quiet=True)
        demo_s = time.perf_counter() - start
        result = {
            "digits": {
                "images": demo["images"],
                "float": demo["float"],
                "score_bits": demo["score_bits"],
                "engines": {
                    e: {"accuracy": demo[e][0], "exact": demo[e][1]} for e in digits.engines()
                },
                "wall_s": demo_s,
            },
            "random": random_formats(args.networks, tmp),
            "qonnx_same": qonnx_same(tmp),
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
