"""Simulation speed of the reference interpreter (issue: Python reference interpreter).

Prints one JSON object:

* ``timing_only``: the seed's full PR run, ``bnn_pr.aci -D BATCH=1`` (10,000 images,
  3 windows of 4 RECONFs and 1-5 tasks per image: 210,000 operations), simulated
  with ``--timing-only``; best of 3 wall-clock seconds (the run alone, compilation
  apart), the simulated total, operations per second;
* ``functional``: whole-network BNN images per second through the machinery of
  ``acic run`` (``cmd_run`` with ``--set`` for every input buffer from ``.npy``
  files and ``--get scores=...``), best of 3, for the static program (one image at
  a time: its feature maps are shared, so nothing can be batched) and the PR
  program with a batch of 32 (8 images per slot thread: batched loops). Scores are
  checked against ``aci.cores.bnndata.forward``;
* ``declared``: images that declare far more than they run (tests/run/test_cost.py:
  2^26 + 2 operations stopping with ``wrong_core`` after 2; two and four nested empty
  loops of 2^24 iterations): wall time and peak memory of one run on each engine
  (``acic run`` in a child process; ``acifw-sim``), each in its own process.

    .venv/bin/python bench/bench_run.py
"""

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci._cli_run import add_run_parser, cmd_run  # noqa: E402 (after sys.path.insert)
from aci.cores import bnndata  # noqa: E402 (after sys.path.insert)
from aci.pipeline import compile_file  # noqa: E402 (after sys.path.insert)
from aci.run import run_image  # noqa: E402 (after sys.path.insert)

REPEATS = 3


def timing_only() -> dict:
    c = compile_file(str(ROOT / "programs/bnn_pr.aci"), {"BATCH": "1"})
    best, result = None, None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = run_image(c.data, timing_only=True)
        wall = time.perf_counter() - start
        best = wall if best is None else min(best, wall)
    return {
        "program": "bnn_pr.aci -D BATCH=1",
        "images": 10_000,
        "operations": result.operations,
        "tasks": result.tasks,
        "prs": result.pr_count,
        "wall_s": round(best, 3),
        "simulated_total_ns": result.total_ns,
        "simulated_total_s": result.total_ns / 1e9,
        "operations_per_s": round(result.operations / best),
    }


def functional(program: str, images: int, batch: int, workdir: Path) -> dict:
    data = bnndata.generate(1, images)
    sets = []
    for name, value in data.items():
        path = workdir / f"{name}.npy"
        np.save(path, value)
        sets += ["--set", f"{name}={path}"]
    scores = workdir / "scores.npy"
    parser = argparse.ArgumentParser()
    add_run_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "run",
            str(ROOT / f"programs/{program}"),
            "-D",
            f"IMAGES={images}",
            "-D",
            f"BATCH={batch}",
            *sets,
            "--get",
            f"scores={scores}",
        ]
    )
    best = None
    for _ in range(REPEATS):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = cmd_run(args)
        wall = time.perf_counter() - start
        best = wall if best is None else min(best, wall)
        assert code == 0
        assert (np.load(scores) == bnndata.forward(data)).all()
    return {
        "program": f"{program} -D IMAGES={images} -D BATCH={batch}",
        "images": images,
        "wall_s": round(best, 3),
        "images_per_s": round(images / best, 1),
    }


def _child(args: list[str], d: Path) -> tuple[float, int]:
    """Wall seconds and peak resident KiB of one command, measured by GNU time (a
    child forked from this process would inherit its peak)."""
    report = d / "time.txt"
    start = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(report), *args], capture_output=True)
    wall = time.perf_counter() - start
    if p.returncode not in (0, 1):  # 1: the run-time error the image is built to stop with
        raise SystemExit(f"{' '.join(args)} exited {p.returncode}: {p.stderr.decode()[-300:]}")
    return wall, int(report.read_text().split()[-1])


def declared(d: Path) -> list[dict]:
    from tests.firmware.harness import SIM
    from tests.run.test_cost import empty_loops, stops_after_two

    cases = [
        ("2^26 + 2 declared, wrong_core after 2", stops_after_two("dataflow")),
        ("2 nested empty loops of 2^24", empty_loops(2, "dataflow")),
        ("4 nested empty loops of 2^24", empty_loops(4, "dataflow")),
    ]
    rows = []
    for name, data in cases:
        path = d / "declared.acx"
        path.write_bytes(data)
        py_s, py_kib = _child([sys.executable, "-m", "aci", "run", str(path)], d)
        c_s, c_kib = _child([str(SIM), str(path)], d)
        rows.append(
            {
                "image": name,
                "python_s": py_s,
                "python_kib": py_kib,
                "firmware_s": c_s,
                "firmware_kib": c_kib,
            }
        )
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        out = {
            "timing_only": timing_only(),
            "functional": [
                functional("bnn_static.aci", 32, 32, Path(d)),
                functional("bnn_pr.aci", 32, 32, Path(d)),
            ],
            "declared": declared(Path(d)),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
