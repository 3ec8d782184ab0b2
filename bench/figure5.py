"""The seed's Figure 5, regenerated: total time for 10,000 images against images per batch.

Runs bench/bench_schedule.py's sweep (imported, not copied: its ``main``, whose JSON
this captures), refines the two break-even batch sizes to the integer (every batch
size between the sweep's points around each crossing, with bench_schedule's ``one``),
and draws ``docs/img/figure5.png``: the static architecture (a horizontal line per
mode: it does not depend on the batch), the PR architecture in strict mode (the
seed's semantics) and in dataflow mode, the same network mapped by acic's balancer
(programs/bnn_auto.aci, which bench_schedule also sweeps), and the seed's published points (128 s
static; 917 s at 1 image per batch; break-even near 25; 3.1x faster than static
above 300, i.e. about 41 s).

Prints bench_schedule's JSON plus ``"break_even_exact"`` (per comparison: the
smallest batch size whose PR run beats the static one, and the two times) and
``"plot"`` (the file written).

    .venv/bin/python bench/figure5.py [--batches 1,5,25,...] [--out docs/img/figure5.png]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_schedule

ROOT = bench_schedule.ROOT
SEED = bench_schedule.SEED
SEED_ABOVE_300_S = SEED["static_s"] / SEED["speedup_300"]
PROGRAMS = {"pr": "bnn_pr.aci", "auto": "bnn_auto.aci"}  # bench_schedule's result keys
# The break-evens of bench_schedule: (its result key, PR-side mode, static mode).
COMPARISONS = {
    "strict": ("pr", "strict", "strict"),
    "dataflow": ("pr", "dataflow", "dataflow"),
    "dataflow_vs_strict_static": ("pr", "dataflow", "strict"),
    "auto_strict": ("auto", "strict", "strict"),
    "auto_dataflow": ("auto", "dataflow", "dataflow"),
}


def sweep(batches: str, jobs: int) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        bench_schedule.main(["--batches", batches, "--jobs", str(jobs)])
    return json.loads(out.getvalue())


def refine(result: dict, jobs: int) -> dict:
    """The smallest integer batch size where PR beats static, per comparison: the sweep
    brackets each crossing between two of its points; every size in between is run."""
    by = {
        (key, r["batch"], r["mode"]): r["s_per_10000"]
        for key in PROGRAMS
        for r in result.get(key, ())
    }
    wanted = {}
    for name, (key, mode, static_mode) in COMPARISONS.items():
        b = result["break_even"].get(name)
        if b is None:
            continue
        prev = max((x for k, x, _ in by if k == key and x < b), default=0)
        wanted[name] = (key, mode, static_mode, list(range(prev + 1, b)) + [b])
    runs = sorted(
        {
            (key, n, mode)
            for key, mode, _, bs in wanted.values()
            for n in bs
            if (key, n, mode) not in by
        }
    )
    with ProcessPoolExecutor(jobs) as pool:
        results = pool.map(bench_schedule.one, [(PROGRAMS[key], n, mode) for key, n, mode in runs])
        for (key, _, _), r in zip(runs, results, strict=True):
            by[(key, r["batch"], r["mode"])] = r["s_per_10000"]
    exact = {}
    for name, (key, mode, static_mode, candidates) in wanted.items():
        static = result["static"][static_mode]
        b = next(n for n in candidates if by[(key, n, mode)] < static)
        exact[name] = {
            "program": PROGRAMS[key],
            "batch": b,
            "time_s": by[(key, b, mode)],
            "mode": mode,
            "static_s": static,
            "static_mode": static_mode,
        }
    return exact


def draw(result: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8.5, 5.6))
    colours = {"strict": "tab:blue", "dataflow": "tab:orange"}
    xs = sorted({r["batch"] for r in result["pr"]})
    curves = [
        ("pr", "-", "o", "PR architecture (bnn_pr.aci)"),
        ("auto", ":", ".", "mapping by acic (bnn_auto.aci)"),
    ]
    for mode in ("strict", "dataflow"):
        for key, style, marker, what in curves:
            pts = sorted(
                (r["batch"], r["s_per_10000"]) for r in result.get(key, ()) if r["mode"] == mode
            )
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                linestyle=style,
                marker=marker,
                markersize=3,
                color=colours[mode],
                label=f"{what}, {mode} mode",
            )
        ax.axhline(
            result["static"][mode],
            color=colours[mode],
            linestyle="--",
            linewidth=1,
            label=f"static architecture, {mode} mode ({result['static'][mode]:.1f} s)",
        )
    seed_kw = {"color": "black", "zorder": 5}
    ax.scatter(
        [xs[0], xs[-1]],
        [SEED["static_s"]] * 2,
        marker="s",
        s=28,
        label="seed: static, 128 s",
        **seed_kw,
    )
    ax.scatter(
        [1],
        [SEED["pr_b1_s"]],
        marker="^",
        s=40,
        label="seed: PR, 1 image per batch, 917 s",
        **seed_kw,
    )
    ax.scatter(
        [SEED["break_even"]],
        [SEED["static_s"]],
        marker="x",
        s=60,
        label=f"seed: break-even near {SEED['break_even']} images per batch",
        **seed_kw,
    )
    above = [x for x in xs if x >= 300] or [300]
    ax.scatter(
        above,
        [SEED_ABOVE_300_S] * len(above),
        marker="D",
        s=24,
        label=f"seed: {SEED['speedup_300']}x faster than static above 300 ({SEED_ABOVE_300_S:.1f} s)",
        **seed_kw,
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("images per batch")
    ax.set_ylabel("total time for 10,000 images (s, simulated)")
    ax.set_title("The seed's Figure 5, regenerated (simulated, scaled to 10,000 images)")
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=7.5, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default=",".join(map(str, bench_schedule.BATCHES)))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "docs/img/figure5.png"))
    args = ap.parse_args(argv)
    result = sweep(args.batches, args.jobs)
    result["break_even_exact"] = refine(result, args.jobs)
    out = Path(args.out)
    draw(result, out)
    result["plot"] = (
        str(out.resolve().relative_to(ROOT)) if out.resolve().is_relative_to(ROOT) else str(out)
    )
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
