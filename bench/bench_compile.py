"""Compile time and image size of the BNN programs (issue: the binary ACI image).

Prints one JSON object per program: image bytes, tasks the image executes, bytes per
executed task, and the best of 5 wall-clock compile times (load + check + schedule +
lower + encode, in process). Also the seed's comparison figure: creating and
transferring its ACI took 1.33 s; ours adds the simulated link transfer of the
image (10 Gb/s, 20 us latency, from programs/targets/zcu102.aci).

    .venv/bin/python bench/bench_compile.py
"""

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci.image import Loop, Repeat, Task, children  # noqa: E402 (after sys.path.insert)
from aci.pipeline import compile_file  # noqa: E402 (after sys.path.insert)

CASES = [
    ("programs/bnn_static.aci", {}),
    ("programs/bnn_pr.aci", {"BATCH": "1"}),
    ("programs/bnn_pr.aci", {"BATCH": "25"}),
    ("programs/bnn_pr.aci", {"BATCH": "300"}),
]


def executed_tasks(nodes, mult=1) -> int:
    n = 0
    for node in nodes:
        if isinstance(node, Task):
            n += mult
        else:
            k = node.count if isinstance(node, (Loop, Repeat)) else 1
            n += executed_tasks(children(node), mult * k)
    return n


def main():
    for path, defines in CASES:
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            c = compile_file(str(ROOT / path), defines)
            best = min(best, time.perf_counter() - t)
        tasks = executed_tasks(c.image.body)
        tm = c.image.target.timing
        transfer_ns = tm.link_latency_ns + -(-len(c.data) * 8 * 10**9 // tm.link_bits_per_s)
        print(
            json.dumps(
                {
                    "program": path,
                    "defines": defines,
                    "image_bytes": len(c.data),
                    "tasks": tasks,
                    "bytes_per_task": round(len(c.data) / tasks, 4),
                    "compile_s": round(best, 4),
                    "transfer_s": transfer_ns / 1e9,
                    "create_and_transfer_vs_seed": round((best + transfer_ns / 1e9) / 1.33, 4),
                }
            )
        )


if __name__ == "__main__":
    main()
