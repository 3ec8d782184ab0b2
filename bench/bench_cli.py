"""The command line's wall time, process start-up included (issue 13.6).

Runs ``.venv/bin/acic compile programs/bnn_pr.aci -D BATCH=25 -o TMP`` as a
subprocess, once to warm the caches an installed acic has (Python's bytecode, the
parser's LALR tables), then RUNS times, and prints one JSON object: each wall time,
the best, the CPU time (user + system) of the best run, the same for a bare ``python
-c pass`` (the interpreter's own start-up, the floor), the in-process compile time of
the same program (best of RUNS, as bench/bench_compile.py measures it) and the
third-party packages the command imported. A host that starts acic for every image
pays the wall time; one that keeps acic loaded, the in-process time.

The children write and use bytecode caches even when this process was started with
PYTHONDONTWRITEBYTECODE (as an installed package has them).

    .venv/bin/python bench/bench_cli.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7
PROGRAM, DEFINES = "programs/bnn_pr.aci", {"BATCH": "25"}
# Third-party packages worth naming when a command imports them.
HEAVY = (
    "numpy",
    "matplotlib",
    "vcd",
    "hypothesis",
    "zmq",
    "ortools",
    "onnx",
    "qonnx",
    "lark",
    "attrs",
)


def timed(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall, CPU) seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best_of(argv: list[str], env: dict) -> dict:
    timed(argv, env)  # warm-up: bytecode, parser tables
    runs = [timed(argv, env) for _ in range(RUNS)]
    wall, cpu = min(runs)
    return {
        "wall_s": [round(w, 4) for w, _ in runs],
        "best_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
    }


def main() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    acic = Path(sys.executable).parent / "acic"
    defines = [a for k, v in DEFINES.items() for a in ("-D", f"{k}={v}")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.acx"
        command = best_of(
            [str(acic), "compile", str(ROOT / PROGRAM), *defines, "-o", str(out)], env
        )
        floor = best_of([sys.executable, "-c", "pass"], env)
        probe = (
            "import sys; from aci.cli import main; main(sys.argv[1:]); "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
        )
        p = subprocess.run(
            [sys.executable, "-c", probe, "compile", str(ROOT / PROGRAM), *defines, "-o", str(out)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        imported = p.stdout.split()
    sys.path.insert(0, str(ROOT))
    from aci.pipeline import compile_file

    in_process = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        compile_file(str(ROOT / PROGRAM), DEFINES)
        in_process = min(in_process, time.perf_counter() - start)
    print(
        json.dumps(
            {
                "command": f"acic compile {PROGRAM} -D BATCH=25 -o x.acx",
                "runs": RUNS,
                **command,
                "python_floor_s": floor["best_s"],
                "python_floor_cpu_s": floor["cpu_s"],
                "in_process_s": round(in_process, 4),
                "heavy_imports": imported,
            }
        )
    )


if __name__ == "__main__":
    main()
