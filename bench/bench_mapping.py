"""Free slot mappings (issue 17.2) against the balancer's uniform shares.

For each point (program, images per batch, mode) compiles the program twice in this
process: with the balancer's uniform search only (``aci.balance.FREE_PASSES = 0``: 1,
2, 4 or all slots per window, contiguous shares; the compiler before free mappings)
and with the free search after it (any slot count, slots shared through
reconfiguration, loops cut at task granularity by CP-SAT: docs/scheduling.md,
"Balance"), and simulates both timing-only (aci.machine, the engine of `acic run`).
BNN points run ``BATCH * ceil(10000 / BATCH)`` images, scaled to 10,000. Also the
compile time of bnn_auto.aci at 500 images per batch (dataflow, best of 2) both ways.
Prints JSON: ``rows`` (each with both times, both compile times and the free
mapping chosen, per window: core, slots, phases), ``compile_500`` and
``never_worse``.

    .venv/bin/python bench/bench_mapping.py [--jobs 2]
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

import aci.balance  # noqa: E402,F401  (the module: aci.balance is also the stage's function)
from aci import program as P  # noqa: E402
from aci.machine import simulate  # noqa: E402
from aci.pipeline import compile_file  # noqa: E402

BALANCE = sys.modules["aci.balance"]
STRICT = [1, 2, 3, 4, 5, 6, 7, 8, 10, 13, 16, 25, 50, 100]
DATAFLOW = [1, 2, 3, 4, 7, 10, 13]
POINTS = (
    [("bnn_auto.aci", b, "strict") for b in STRICT]
    + [("bnn_auto.aci", b, "dataflow") for b in DATAFLOW]
    + [("examples/uneven.aci", None, m) for m in ("strict", "dataflow")]
)


def mapping(prog: P.Program) -> str:
    """Per window of the (first) repeat or the body: core, slots, phases."""
    body = next((n.windows for n in prog.body if isinstance(n, P.Repeat)), prog.body)
    out = []
    for w in body:
        cores = sorted({t.core.name for t in P.walk_tasks(w)})
        slots = sorted({t.slot for t in P.walk_tasks(w)})
        cut = f", {len(w.parsecs)} parsecs" if len(w.parsecs) > 1 else ""
        out.append(f"{'+'.join(cores)} on {len(slots)}{cut}")
    return "; ".join(out)


def compiled(program: str, batch: int | None, mode: str, passes: int):
    BALANCE.FREE_PASSES = passes
    defines = {}
    if batch is not None:
        defines = {"BATCH": str(batch), "IMAGES": str(batch * math.ceil(10_000 / batch))}
    start = time.perf_counter()
    c = compile_file(str(ROOT / "programs" / program), defines, mode=mode)
    return c, time.perf_counter() - start


def one(point) -> dict:
    program, batch, mode = point
    row = {"program": program, "batch": batch, "mode": mode}
    for name, passes in (("uniform", 0), ("free", 2)):
        c, seconds = compiled(program, batch, mode, passes)
        tl = simulate(c.image, len(c.data), mode)
        total = tl.t_end + c.image.target.timing.link_latency_ns
        if batch is not None:
            images = batch * math.ceil(10_000 / batch)
            row[f"{name}_s"] = total * 10_000 / images / 1e9
        else:
            row[f"{name}_s"] = total / 1e9
        row[f"{name}_prs"] = tl.prs
        row[f"{name}_compile_s"] = seconds
        if name == "free":
            row["mapping"] = mapping(c.scheduled)
    row["speedup"] = row["uniform_s"] / row["free_s"]
    return row


def compile_500(repeats: int = 2) -> dict:
    best = {"uniform": math.inf, "free": math.inf}
    for _ in range(repeats):
        for name, passes in (("uniform", 0), ("free", 2)):
            _, seconds = compiled("bnn_auto.aci", 500, "dataflow", passes)
            best[name] = min(best[name], seconds)
    return {"batch": 500, "mode": "dataflow", **best, "ratio": best["free"] / best["uniform"]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one, POINTS))
    result = {
        "rows": rows,
        "never_worse": all(r["free_s"] <= r["uniform_s"] for r in rows),
        "compile_500": compile_500(),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
