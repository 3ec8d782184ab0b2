"""Several boards, simulated: data-parallel scaling and the BNNsplit comparison.

The seed's BNN (programs/bnn_auto.aci, acic's mapping) at 100 images per batch on
``System.uniform(N)`` (10 Gb/s, 20 us links), simulated by aci.system:

* ``scaling``: data-parallel on 1 to 8 boards over 840 batches (84,000 images; 840
  is divisible by every N), images per second and the ratio to N x one board; the
  seed says throughput grows "almost linearly" with the number of remote boards.
* ``split``: on 2 and 3 boards, data-parallel, the BNNsplit split (convolutions |
  classifier: the cut where the output per image is smallest) on one board each and,
  on 3 boards, with the convolutions on two boards, and the planner's choice (the best
  of every candidate of aci.system.candidates), each over 240 batches, beside
  BNNsplit's estimates (+40% for the split over one board; +40% for the replicated
  split over two boards data-parallel).

Draws docs/img/system_scaling.png and docs/img/system_split.png; prints one JSON object.

    .venv/bin/python bench/bench_system.py [--out-dir docs/img]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci.system import System, candidates, network, pipeline, simulate  # noqa: E402 (after sys.path.insert)

BATCH, SCALING_BATCHES, SPLIT_BATCHES = 100, 840, 240
SEED_SPLIT_GAIN = (
    1.40  # BNNsplit: the split over one board, and the replicated split over two boards
)


def measure() -> dict:
    start = time.perf_counter()
    net = network(str(ROOT / "programs" / "bnn_auto.aci"), BATCH)
    cut = min(range(1, len(net.windows)), key=net.crossing)  # BNNsplit's rule: the smallest output
    scaling = []
    for n in range(1, 9):
        r = simulate(pipeline(net, System.uniform(n), SCALING_BATCHES, (), (n,)))
        scaling.append({"boards": n, "images_per_s": r.images_per_s, "total_ns": r.total_ns})
    one = scaling[0]["images_per_s"]
    for row in scaling:
        row["over_n_times_one"] = row["images_per_s"] / (row["boards"] * one)
    one_split = simulate(pipeline(net, System.uniform(1), SPLIT_BATCHES, (), (1,))).images_per_s
    split = []
    for n in (2, 3):
        system = System.uniform(n)
        rows = {
            "data-parallel": simulate(pipeline(net, system, SPLIT_BATCHES, (), (n,))),
            "split: conv, classifier": simulate(
                pipeline(net, system, SPLIT_BATCHES, (cut,), (1, 1))
            ),
        }
        if n == 3:
            rows["split: conv x2, classifier"] = simulate(
                pipeline(net, system, SPLIT_BATCHES, (cut,), (2, 1))
            )
        cands = candidates(net, system, SPLIT_BATCHES)
        best = cands[0]
        rows["planner: " + best.result.plan] = best.result
        split.append(
            {
                "boards": n,
                "rows": [
                    {
                        "plan": k,
                        "images_per_s": v.images_per_s,
                        "over_one_board": v.images_per_s / one_split,
                    }
                    for k, v in rows.items()
                ],
                "planner": best.result.plan,
                "planner_rule": best.rule,
                "candidates": len(cands),
                "planner_not_worse": all(
                    best.result.images_per_s >= v.images_per_s for v in rows.values()
                ),
            }
        )
    return {
        "batch": BATCH,
        "cut": cut,
        "crossing_bytes": [net.crossing(c) for c in range(len(net.windows) + 1)],
        "run_ns": {
            "whole": net.part(0, len(net.windows)).run_ns,
            "conv": net.part(0, cut).run_ns,
            "classifier": net.part(cut, len(net.windows)).run_ns,
        },
        "one_board_images_per_s": one,
        "scaling_batches": SCALING_BATCHES,
        "scaling": scaling,
        "split_batches": SPLIT_BATCHES,
        "one_board_split_images_per_s": one_split,
        "split": split,
        "seed_split_gain": SEED_SPLIT_GAIN,
        "wall_s": time.perf_counter() - start,
    }


def plot(d: dict, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = [r["boards"] for r in d["scaling"]]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.plot(
        ns,
        [n * d["one_board_images_per_s"] for n in ns],
        "--",
        color="grey",
        label="N x one board (linear)",
    )
    ax.plot(ns, [r["images_per_s"] for r in d["scaling"]], "o-", label="data-parallel, simulated")
    ax.set_xlabel("boards")
    ax.set_ylabel("images/s")
    ax.set_title("BNN, 100 images per batch, 10 Gb/s links")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "system_scaling.png", dpi=120)
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, s in zip(axes, d["split"], strict=True):
        names = [r["plan"] for r in s["rows"]]
        ax.barh(range(len(names)), [r["images_per_s"] for r in s["rows"]])
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("images/s")
        ax.set_title(f"{s['boards']} boards")
    fig.tight_layout()
    fig.savefig(out_dir / "system_split.png", dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=str(ROOT / "docs" / "img"))
    args = ap.parse_args(argv)
    d = measure()
    plot(d, Path(args.out_dir))
    print(json.dumps(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
