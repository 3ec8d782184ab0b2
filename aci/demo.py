"""``python -m aci.demo``: the BNN example end to end (what ``make demo`` ends with).

Generates a few deterministic CIFAR-sized images with weights and thresholds
(:mod:`aci.cores.bnndata`), compiles ``programs/bnn_pr.aci`` (the seed's PR
architecture) for them, runs the image on the Python reference interpreter with the
functional BNN models in both modes, and prints the predicted classes, the
simulated time and the PR count; the scores are checked against the network's
forward pass computed directly.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .cores import bnndata
from .pipeline import compile_file
from .report import fmt_ns
from .resources import library_dir
from .run import run_image

PROGRAM = library_dir() / "bnn_pr.aci"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m aci.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    n = args.images
    data = bnndata.generate(args.seed, n)
    inputs = {k: v for k, v in data.items()}
    expected = bnndata.forward(data)
    print(
        f"BNN demo: {n} generated images (seed {args.seed}), {PROGRAM.name} with IMAGES={n} BATCH={n}"
    )
    ok = True
    for mode in ("strict", "dataflow"):
        c = compile_file(str(PROGRAM), {"IMAGES": str(n), "BATCH": str(n)}, mode=mode)
        r = run_image(c.data, inputs=inputs, outputs=["scores"])
        if r.error is not None:
            print(f"  {mode}: run failed: {r.error.name}: {r.error.detail}")
            return 1
        assert r.board is not None  # a functional run has its board
        scores = r.board.array("scores").reshape(n, 10)
        same = np.array_equal(scores, expected)
        ok &= same
        print(
            f"  {mode:8} classes {scores.argmax(axis=1).tolist()}  simulated {fmt_ns(r.total_ns)}, "
            f"{r.pr_count} PRs, {r.tasks} tasks, {len(c.data)}-byte image; "
            f"scores {'match' if same else 'DIFFER FROM'} the reference"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
