"""Interpreter throughput, timing-only: tasks per second of the Python reference
interpreter and, when it is built, of the C firmware on its simulated board.

The workload is the seed's full PR run, ``programs/bnn_pr.aci -D BATCH=1`` (10,000
images: 90,000 tasks and 120,000 reconfigurations), in strict and dataflow mode.
Python: :func:`aci.run.run_image` with ``timing_only=True``, best of 3, the run
alone. C: ``acifw-sim IMAGE --timing-only --mode M --json`` (default
``firmware/build/acifw-sim``), best of 5, process start-up included; its simulated
total must equal Python's (``agree``). ``c_over_python`` is the ratio of the two
wall times, measured in the same run.

Prints one JSON object; ``c`` is null (with ``c_missing`` saying why) when the
simulator is not built.

    .venv/bin/python bench/bench_throughput.py [--sim firmware/build/acifw-sim]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci.pipeline import compile_file  # noqa: E402 (after sys.path.insert)
from aci.run import run_image  # noqa: E402 (after sys.path.insert)

PY_REPEATS, C_REPEATS = 3, 5


def python(data: bytes, mode: str) -> dict:
    best, result = None, None
    for _ in range(PY_REPEATS):
        start = time.perf_counter()
        result = run_image(data, mode, timing_only=True)
        wall = time.perf_counter() - start
        best = wall if best is None else min(best, wall)
    return {
        "wall_s": best,
        "tasks": result.tasks,
        "operations": result.operations,
        "total_ns": result.total_ns,
        "tasks_per_s": result.tasks / best,
        "operations_per_s": result.operations / best,
    }


def c(sim: Path, image: Path, mode: str) -> dict:
    best, out = None, None
    for _ in range(C_REPEATS):
        start = time.perf_counter()
        proc = subprocess.run(
            [str(sim), str(image), "--timing-only", "--mode", mode, "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - start
        best = wall if best is None else min(best, wall)
        out = json.loads(proc.stdout)
    return {
        "wall_s": best,
        "tasks": out["tasks"],
        "operations": out.get("operations"),
        "total_ns": out["total_ns"],
        "tasks_per_s": out["tasks"] / best,
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", default=str(ROOT / "firmware/build/acifw-sim"))
    args = ap.parse_args(argv)
    sim = Path(args.sim)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("strict", "dataflow"):
            # Each mode runs the image compiled for it (dataflow images carry the WAITs).
            data = compile_file(str(ROOT / "programs/bnn_pr.aci"), {"BATCH": "1"}, mode=mode).data
            image = Path(tmp) / f"bnn_pr_b1_{mode}.acx"
            image.write_bytes(data)
            row = {"mode": mode, "image_bytes": len(data), "python": python(data, mode), "c": None}
            if sim.is_file():
                row["c"] = c(sim, image, mode)
                row["agree"] = row["c"]["total_ns"] == row["python"]["total_ns"]
                row["c_over_python"] = row["python"]["wall_s"] / row["c"]["wall_s"]
            rows.append(row)
    print(
        json.dumps(
            {
                "program": "bnn_pr.aci -D BATCH=1",
                "sim": str(sim),
                "c_missing": None if sim.is_file() else f"{sim} is not built (make -C firmware)",
                "rows": rows,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
