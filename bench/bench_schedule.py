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
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci.decode import decode  # noqa: E402 (after sys.path.insert)
from aci.machine import simulate  # noqa: E402 (after sys.path.insert)
from aci.pipeline import compile_file  # noqa: E402 (after sys.path.insert)
from aci.report import lower_bound  # noqa: E402 (after sys.path.insert)

BATCHES = [
    1,
    2,
    3,
    4,
    5,
    6,
    8,
    10,
    12,
    16,
    20,
    25,
    30,
    40,
    50,
    75,
    100,
    150,
    200,
    250,
    300,
    400,
    500,
]
SEED = {"static_s": 128.0, "pr_b1_s": 917.0, "break_even": 25, "speedup_300": 3.1}


# bnn_auto.aci in dataflow mode before software pipelining and the bound for every
# mapping (issue 17; BENCHMARKS.md at commit 710f2df), s per 10,000 images: the
# figures issue 17 requires never to get slower.
BEFORE_AUTO_DATAFLOW = {
    1: 114.6,
    2: 57.3,
    3: 76.4,
    4: 57.3,
    5: 68.8,
    6: 57.3,
    8: 61.0,
    10: 61.0,
    12: 56.1,
    16: 50.1,
    20: 46.8,
    25: 43.8,
    30: 46.3,
    40: 43.4,
    50: 40.7,
    75: 36.9,
    100: 35.1,
    150: 33.8,
    200: 33.1,
    250: 33.1,
    300: 32.7,
    400: 32.6,
    500: 32.5,
}


def one(args):
    program, batch, mode = args
    images = batch * math.ceil(10_000 / batch)
    start = time.perf_counter()
    c = compile_file(
        str(ROOT / "programs" / program), {"IMAGES": str(images), "BATCH": str(batch)}, mode=mode
    )
    compile_s = time.perf_counter() - start
    img = decode(c.data)
    tl = simulate(img, len(c.data), mode)
    total = tl.t_end + img.target.timing.link_latency_ns
    out = {
        "program": program,
        "batch": batch,
        "mode": mode,
        "images": images,
        "total_ns": total,
        "s_per_10000": total * 10_000 / images / 1e9,
        "prs": tl.prs,
        "pr_ns": tl.pr_ns,
        "compile_s": compile_s,
    }
    if mode == "dataflow" and (program == "bnn_auto.aci" or batch >= 300):
        lb = lower_bound(img)
        # the bound for every mapping and order (acic schedule's), and this mapping's own
        out["lower_bound_ns"] = lb["bound_ns"]
        out["over_any_bound"] = (tl.t_end - tl.t0) / lb["bound_ns"]
        out["mapping_bound_ns"] = lb["mapping"]["bound_ns"]
        out["over_bound"] = (tl.t_end - tl.t0) / lb["mapping"]["bound_ns"]
    return out


def compile_time(batch: int = 500, repeats: int = 2) -> dict:
    """bnn_auto.aci's dataflow compile time at ``batch`` images per batch, best of
    ``repeats``, with software pipelining and without it (GROUP_OPS 0: the compiler
    as it was before issue 17), measured in this one run."""
    import importlib

    pipelining = importlib.import_module("aci.pipelining")  # the module, not the stage's function
    images = batch * math.ceil(10_000 / batch)
    out = {}
    for name, ops in (("now", pipelining.GROUP_OPS), ("without_pipelining", 0)):
        old, pipelining.GROUP_OPS = pipelining.GROUP_OPS, ops
        try:
            best = math.inf
            for _ in range(repeats):
                start = time.perf_counter()
                compile_file(
                    str(ROOT / "programs/bnn_auto.aci"),
                    {"IMAGES": str(images), "BATCH": str(batch)},
                    mode="dataflow",
                )
                best = min(best, time.perf_counter() - start)
        finally:
            pipelining.GROUP_OPS = old
        out[name] = best
    return {"batch": batch, **out}


def break_even(rows, static_s, mode):
    for r in rows:
        if r["mode"] == mode and r["s_per_10000"] < static_s:
            return r["batch"]
    return None


def port_bound(pr_rows, static_s):
    """The smallest batch size at which the seed's mapping, run batch after batch as
    written (strict mode's order), could beat static at all: each batch reconfigures
    every slot for each of its windows, and the one configuration port performs those
    PRs one after another, so 10,000 images take at least (10,000 / batch) times one
    batch's PR time. Software pipelining (dataflow mode) pays them once per group of
    batches instead."""
    r = next(r for r in pr_rows if r["batch"] == 1 and r["mode"] == "strict")
    per_batch_ns = r["pr_ns"] * r["batch"] // r["images"]
    return {
        "pr_ns_per_batch": per_batch_ns,
        "prs_per_batch": r["prs"] * r["batch"] // r["images"],
        "batch": int(10_000 * per_batch_ns / 1e9 // static_s) + 1,
    }


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    jobs = [
        (p, b, m)
        for p in ("bnn_pr.aci", "bnn_auto.aci")
        for b in batches
        for m in ("strict", "dataflow")
    ]
    jobs += [("bnn_static.aci", 10_000, m) for m in ("strict", "dataflow")]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one, jobs))
    static = {r["mode"]: r["s_per_10000"] for r in rows if r["program"] == "bnn_static.aci"}
    auto = sorted(
        (r for r in rows if r["program"] == "bnn_auto.aci"), key=lambda r: (r["batch"], r["mode"])
    )
    pr = sorted(
        (r for r in rows if r["program"] == "bnn_pr.aci"), key=lambda r: (r["batch"], r["mode"])
    )
    by = {(r["batch"], r["mode"]): r for r in pr}
    result = {
        "seed": SEED,
        "static": static,
        "pr": pr,
        "auto": auto,
        "break_even": {
            "strict": break_even(pr, static["strict"], "strict"),
            "dataflow": break_even(pr, static["dataflow"], "dataflow"),
            "dataflow_vs_strict_static": break_even(pr, static["strict"], "dataflow"),
            "auto_strict": break_even(auto, static["strict"], "strict"),
            "auto_dataflow": break_even(auto, static["dataflow"], "dataflow"),
        },
        "dataflow_over_strict": {
            b: by[(b, "strict")]["total_ns"] / by[(b, "dataflow")]["total_ns"] for b in batches
        },
        "speedup_over_static": {
            b: {m: static[m] / by[(b, m)]["s_per_10000"] for m in ("strict", "dataflow")}
            for b in batches
        },
        "over_bound": {b: by[(b, "dataflow")].get("over_bound") for b in batches if b >= 300},
        "port_bound": port_bound(pr, static["dataflow"]),
        "auto_over_any_bound": {
            r["batch"]: r["over_any_bound"] for r in auto if r["mode"] == "dataflow"
        },
        "auto_before": {b: BEFORE_AUTO_DATAFLOW[b] for b in batches if b in BEFORE_AUTO_DATAFLOW},
        "auto_compile_s": compile_time(),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
