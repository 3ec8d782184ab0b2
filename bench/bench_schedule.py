"""The seed's Figure 5 in our model, and the scheduler's targets.

For each batch size, compiles programs/bnn_pr.aci (the seed's PR architecture),
programs/bnn_auto.aci (the same network with the mapping left to acic's balancer)
and programs/bnn_static.aci (static architecture) in strict and dataflow mode and
simulates them timing-only (aci.machine, the engine of `acic run`). Each run
processes `IMAGES = BATCH * ceil(10000 / BATCH)` images; times are scaled to 10,000
images. Prints JSON (one object) with the table, the break-even batch sizes, the
dataflow/strict ratios and the distance to the lower bound of docs/calibration.md.

    .venv/bin/python bench/bench_schedule.py [--batches 1,5,25,...] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci.decode import decode  # noqa: E402
from aci.machine import simulate  # noqa: E402
from aci.pipeline import compile_file  # noqa: E402
from aci.report import lower_bound  # noqa: E402

BATCHES = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 30, 40, 50, 75, 100, 150, 200, 250, 300, 400, 500]
SEED = {"static_s": 128.0, "pr_b1_s": 917.0, "break_even": 25, "speedup_300": 3.1}


def one(args):
    program, batch, mode = args
    images = batch * math.ceil(10_000 / batch)
    c = compile_file(str(ROOT / "programs" / program), {"IMAGES": str(images), "BATCH": str(batch)}, mode=mode)
    img = decode(c.data)
    tl = simulate(img, len(c.data), mode)
    total = tl.t_end + img.target.timing.link_latency_ns
    out = {"program": program, "batch": batch, "mode": mode, "images": images, "total_ns": total,
           "s_per_10000": total * 10_000 / images / 1e9, "prs": tl.prs, "pr_ns": tl.pr_ns}
    if program == "bnn_pr.aci" and mode == "dataflow" and batch >= 300:
        lb = lower_bound(img)
        out["lower_bound_ns"] = lb["bound_ns"]
        out["over_bound"] = (tl.t_end - tl.t0) / lb["bound_ns"]
    return out


def break_even(rows, static_s, mode):
    for r in rows:
        if r["mode"] == mode and r["s_per_10000"] < static_s:
            return r["batch"]
    return None


def port_bound(pr_rows, static_s):
    """The smallest batch size at which the seed's mapping could beat static at all:
    each batch reconfigures every slot for each of its windows, and the one
    configuration port performs those PRs one after another, so 10,000 images take
    at least (10,000 / batch) times one batch's PR time, whatever the schedule."""
    r = next(r for r in pr_rows if r["batch"] == 1 and r["mode"] == "dataflow")
    per_batch_ns = r["pr_ns"] * r["batch"] // r["images"]
    return {"pr_ns_per_batch": per_batch_ns, "prs_per_batch": r["prs"] * r["batch"] // r["images"],
            "batch": int(10_000 * per_batch_ns / 1e9 // static_s) + 1}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    jobs = [(p, b, m) for p in ("bnn_pr.aci", "bnn_auto.aci") for b in batches for m in ("strict", "dataflow")]
    jobs += [("bnn_static.aci", 10_000, m) for m in ("strict", "dataflow")]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one, jobs))
    static = {r["mode"]: r["s_per_10000"] for r in rows if r["program"] == "bnn_static.aci"}
    auto = sorted((r for r in rows if r["program"] == "bnn_auto.aci"), key=lambda r: (r["batch"], r["mode"]))
    pr = sorted((r for r in rows if r["program"] == "bnn_pr.aci"), key=lambda r: (r["batch"], r["mode"]))
    by = {(r["batch"], r["mode"]): r for r in pr}
    result = {
        "seed": SEED,
        "static": static,
        "pr": pr,
        "auto": auto,
        "break_even": {"strict": break_even(pr, static["strict"], "strict"),
                       "dataflow": break_even(pr, static["dataflow"], "dataflow"),
                       "dataflow_vs_strict_static": break_even(pr, static["strict"], "dataflow"),
                       "auto_strict": break_even(auto, static["strict"], "strict"),
                       "auto_dataflow": break_even(auto, static["dataflow"], "dataflow")},
        "dataflow_over_strict": {b: by[(b, "strict")]["total_ns"] / by[(b, "dataflow")]["total_ns"]
                                 for b in batches},
        "speedup_over_static": {b: {m: static[m] / by[(b, m)]["s_per_10000"] for m in ("strict", "dataflow")}
                                for b in batches},
        "over_bound": {b: by[(b, "dataflow")].get("over_bound") for b in batches if b >= 300},
        "port_bound": port_bound(pr, static["dataflow"]),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
