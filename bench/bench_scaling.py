"""Compile time and image size against program size: does acic scale linearly?

Generates synthetic programs of N distinct tasks of the TEST core
(programs/cores/test.aci on programs/targets/zcu102.aci), each task on its own
64-byte slices of two buffers, written with compile-time ``for`` expansion so that
the image holds N TASK instructions (not one loop). Three series:

* ``strict, 1 thread``: one thread, N from 10 to 100,000;
* ``dataflow, 1 thread``: the same programs with the dependency analysis (WAITs),
  N up to 100,000: past ``aci.deps.EXACT_LIMIT`` (20,000) operations it is the
  sampled analysis, whose check of doubtful pairs looks up only the tasks whose
  port hulls meet (an interval index per slot: here, one slot, none to check);
* ``strict, 4 threads``: the tasks split over four threads of one parsec, N up to
  10,000: the checker's race check looks up, per buffer, only the accesses of the
  other thread whose hulls meet (an interval index; here each thread has its own
  slices, so none).

All three are near-linear (n log n at worst); the 4-thread series was quadratic
(exponent 1.9, 5.5 s for 1,000 tasks) when the race check compared every pair of
tasks of different threads, and the dataflow series past 20,000 operations when the
sampled analysis did (8.5 s for 20,000 tasks, 17 s for 30,000).

For each program: image bytes and compile time (load, check, schedule, lower,
encode in process; best of 3). Each series' growth exponent is the least-squares
slope of log(time) and log(bytes) against log(N) over its larger programs (N >=
1,000: below that fixed costs dominate);
``local_exponent`` is the slope between its last two points.
Draws ``docs/img/scaling.png`` (log-log) and prints one JSON object.

    .venv/bin/python bench/bench_scaling.py [--out docs/img/scaling.png]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci.pipeline import compile_file  # noqa: E402 (after sys.path.insert)

REPEATS = 3
SERIES = [  # name, mode, threads, sizes, the smallest size the fit uses
    (
        "strict, 1 thread",
        "strict",
        1,
        [10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000],
        1_000,
    ),
    (
        "dataflow, 1 thread",
        "dataflow",
        1,
        [10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000],
        1_000,
    ),
    ("strict, 4 threads", "strict", 4, [20, 40, 100, 400, 1_000, 3_000, 10_000], 1_000),
]


def source(n: int, threads: int) -> str:
    """N tasks in `threads` threads of one parsec; `for` nests so no `for` exceeds 65,536."""
    per = n // threads
    assert per * threads == n
    inner = max(d for d in range(1, min(per, 100) + 1) if per % d == 0)
    k = f"s * {per} + i * {inner} + j"
    return f"""import "{ROOT / "programs/targets/zcu102.aci"}"
import "{ROOT / "programs/cores/test.aci"}"

input  buffer src : u8[{n}][64] in ddr
output buffer dst : u8[{n}][64] in ddr

program scaling on zcu102 {{
    window {{
        parsec {{
            for s in 0 .. {threads} {{
                thread on slot s {{
                    for i in 0 .. {per // inner} {{
                        for j in 0 .. {inner} {{
                            task TEST(a: src[{k}], y: dst[{k}], n: 64, salt: j)
                        }}
                    }}
                }}
            }}
        }}
    }}
}}
"""


def measure(path: Path, mode: str) -> tuple[int, float]:
    best = math.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        c = compile_file(str(path), mode=mode)
        best = min(best, time.perf_counter() - start)
    return len(c.data), best


def slope(points: list[tuple[int, float]], fit_from: int) -> float:
    pts = [(math.log(n), math.log(v)) for n, v in points if n >= fit_from]
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)


def draw(series: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    for s in series:
        ns = [p["tasks"] for p in s["points"]]
        left.plot(
            ns,
            [p["compile_s"] for p in s["points"]],
            marker="o",
            markersize=3,
            label=f"{s['name']} (exponent {s['exponent_time']:.2f})",
        )
        right.plot(
            ns,
            [p["image_bytes"] for p in s["points"]],
            marker="o",
            markersize=3,
            label=f"{s['name']} (exponent {s['exponent_bytes']:.2f})",
        )
    top = max(p["tasks"] for s in series for p in s["points"])
    first = series[0]["points"]
    anchor = next(p for p in first if p["tasks"] >= series[0]["fit_from_tasks"])
    ref = [
        (anchor["tasks"], anchor["compile_s"]),
        (top, anchor["compile_s"] * top / anchor["tasks"]),
    ]
    left.plot(
        [r[0] for r in ref], [r[1] for r in ref], "k--", linewidth=0.8, label="linear (slope 1)"
    )
    for ax, label in ((left, "compile time (s, best of 3)"), (right, "image size (bytes)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("tasks in the program (TASK instructions in the image)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", linewidth=0.3)
        ax.legend(fontsize=7.5)
    fig.suptitle("acic compile time and image size against program size (TEST core, zcu102)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs/img/scaling.png"))
    args = ap.parse_args(argv)
    series = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, mode, threads, sizes, fit_from in SERIES:
            points = []
            for n in sizes:
                path = Path(tmp) / f"scaling_{threads}_{n}.aci"
                path.write_text(source(n, threads))
                nbytes, best = measure(path, mode)
                points.append(
                    {
                        "tasks": n,
                        "image_bytes": nbytes,
                        "compile_s": round(best, 4),
                        "bytes_per_task": round(nbytes / n, 2),
                        "us_per_task": round(1e6 * best / n, 1),
                    }
                )
            last, prev = points[-1], points[-2]
            series.append(
                {
                    "name": name,
                    "mode": mode,
                    "threads": threads,
                    "points": points,
                    "fit_from_tasks": fit_from,
                    "exponent_time": slope(
                        [(p["tasks"], p["compile_s"]) for p in points], fit_from
                    ),
                    "exponent_bytes": slope(
                        [(p["tasks"], p["image_bytes"]) for p in points], fit_from
                    ),
                    "local_exponent": (
                        math.log(last["compile_s"] / prev["compile_s"])
                        / math.log(last["tasks"] / prev["tasks"])
                    ),
                }
            )
    out = Path(args.out)
    draw(series, out)
    print(
        json.dumps(
            {
                "repeats": REPEATS,
                "series": series,
                "plot": str(out.resolve().relative_to(ROOT))
                if out.resolve().is_relative_to(ROOT)
                else str(out),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
