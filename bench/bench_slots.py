"""Multi-slot scaling: the seed's PR architecture on boards with 1, 2, 4 and 8 slots.

programs/bnn_pr.aci (three windows per batch, the batch's images split over
``THREADS = min(SLOTS, BATCH)`` threads, one per slot) is compiled against copies
of programs/targets/zcu102.aci that differ only in ``slots N`` (made in a
temporary copy of programs/'s targets and cores), with ``-D SLOTS=N``, for a few
batch sizes (each divisible by 8, so that every slot count splits a batch evenly)
and both modes, and simulated timing-only for 10,000 images. The static
architecture on the stock 4-slot board (it uses 3 slots whatever the board has) is
the reference line.

Prints one JSON object (per run: time for 10,000 images, PR count, speed-up over
the same batch and mode on 1 slot) and draws ``docs/img/slots.png``.

    .venv/bin/python bench/bench_slots.py [--slots 1,2,4,8] [--batches 8,40,200] [--out docs/img/slots.png]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci.decode import decode  # noqa: E402 (after sys.path.insert)
from aci.machine import simulate  # noqa: E402 (after sys.path.insert)
from aci.pipeline import compile_file  # noqa: E402 (after sys.path.insert)

SLOTS = [1, 2, 4, 8]
BATCHES = [8, 40, 200]


def board(tmp: Path, slots: int) -> Path:
    """A copy of programs/ (program, cores, targets) whose zcu102 target has `slots` slots."""
    d = tmp / f"slots{slots}"
    shutil.copytree(ROOT / "programs/cores", d / "cores")
    shutil.copytree(ROOT / "programs/targets", d / "targets")
    target = d / "targets/zcu102.aci"
    text, count = re.subn(r"\bslots\s+\d+", f"slots {slots}", target.read_text(), count=1)
    if count != 1:
        raise SystemExit(f"{target}: no `slots N` to rewrite")
    target.write_text(text)
    for program in ("bnn_pr.aci", "bnn_static.aci"):
        shutil.copy(ROOT / "programs" / program, d / program)
    return d


def one(args) -> dict:
    directory, program, slots, batch, mode = args
    images = batch * math.ceil(10_000 / batch)
    defines = {"IMAGES": str(images), "BATCH": str(batch)}
    if program == "bnn_pr.aci":
        defines["SLOTS"] = str(slots)
    c = compile_file(str(Path(directory) / program), defines, mode=mode)
    img = decode(c.data)
    assert img.target.slots == slots
    tl = simulate(img, len(c.data), mode)
    total = tl.t_end + img.target.timing.link_latency_ns
    return {
        "program": program,
        "slots": slots,
        "batch": batch,
        "mode": mode,
        "images": images,
        "s_per_10000": total * 1e-5 / images,
        "prs": tl.prs,
        "utilisation": sum(tl.busy) / (slots * (tl.t_end - tl.t0)),
    }


def draw(rows: list[dict], static: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(10.5, 5))
    colours = {"strict": "tab:blue", "dataflow": "tab:orange"}
    styles = ["-", "--", ":", "-."]
    batches = sorted({r["batch"] for r in rows})
    for mode in ("strict", "dataflow"):
        for batch, style in zip(batches, itertools.cycle(styles), strict=False):
            pts = sorted(
                (r["slots"], r["s_per_10000"])
                for r in rows
                if r["mode"] == mode and r["batch"] == batch
            )
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                linestyle=style,
                marker="o",
                markersize=3,
                color=colours[mode],
                label=f"PR, {batch} images per batch, {mode}",
            )
        ax.axhline(
            static[mode],
            color=colours[mode],
            linewidth=0.6,
            alpha=0.6,
            label=f"static architecture (3 slots), {mode}: {static[mode]:.1f} s",
        )
    slots = sorted({r["slots"] for r in rows})
    ax.set_xscale("log", base=2)
    ax.set_xticks(slots, [str(s) for s in slots])
    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.set_xlabel("slots on the board")
    ax.set_ylabel("total time for 10,000 images (s, simulated)")
    ax.set_title("bnn_pr.aci on boards with 1 to 8 slots")
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")  # the legend stands outside the axes
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slots", default=",".join(map(str, SLOTS)))
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "docs/img/slots.png"))
    args = ap.parse_args(argv)
    slot_counts = [int(s) for s in args.slots.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {n: str(board(Path(tmp), n)) for n in sorted(set(slot_counts) | {4})}
        work = [
            (dirs[n], "bnn_pr.aci", n, b, m)
            for b in batches
            for n in slot_counts
            for m in ("strict", "dataflow")
        ]
        work += [(dirs[4], "bnn_static.aci", 4, 10_000, m) for m in ("strict", "dataflow")]
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(one, work))
    static = {r["mode"]: r["s_per_10000"] for r in rows if r["program"] == "bnn_static.aci"}
    pr = [r for r in rows if r["program"] == "bnn_pr.aci"]
    base = {(r["batch"], r["mode"]): r["s_per_10000"] for r in pr if r["slots"] == min(slot_counts)}
    for r in pr:
        r["speedup_over_fewest_slots"] = base[(r["batch"], r["mode"])] / r["s_per_10000"]
    out = Path(args.out)
    draw(pr, static, out)
    print(
        json.dumps(
            {
                "program": "bnn_pr.aci",
                "fewest_slots": min(slot_counts),
                "static": static,
                "rows": pr,
                "plot": str(out.resolve().relative_to(ROOT))
                if out.resolve().is_relative_to(ROOT)
                else str(out),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
