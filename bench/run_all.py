"""Run every benchmark and write BENCHMARKS.md (``make bench``).

Each benchmark of bench/ runs as a subprocess of this interpreter, one after the
other (each may use the machine's cores itself; running them side by side would
distort the times), and prints JSON on stdout (bench_compile.py: one object per
line). The plots go to docs/img/ (each benchmark's default ``--out``).
BENCHMARKS.md is then rendered from bench/BENCHMARKS.template.md (``string.Template``:
``${name}`` fields, each filled here from the measured values): every figure with the
command that produced it, each comparison a ratio measured within one benchmark's
run, and for every target of the project a line "target: ..., measured: ...,
met / not met" (or "not measured: why").

A benchmark that fails (non-zero exit, a timeout, output that is not JSON) does not
stop the others: its figures read "not measured" with the reason, and this script
exits 1 after writing BENCHMARKS.md. bench/bench_firmware.py (the firmware's
instruction counts, C BNN speed and fuzzing) runs when it exists, last, fuzzing for
what is left of the 20 minutes ``make bench`` may take (``--fuzz-seconds``, at least
a minute; the command line in BENCHMARKS.md gives the value used).

    .venv/bin/python bench/run_all.py [--out BENCHMARKS.md] [--only NAME,...]

Each benchmark's result is kept in ``bench/results/NAME.json`` (committed, with the
commit and date it was measured at). ``--only`` runs the named benchmarks and renders
the others from those files, so that one benchmark can be re-measured without the
others; BENCHMARKS.md names the commit of each benchmark's figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import string
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TEMPLATE = BENCH / "BENCHMARKS.template.md"
PY = ".venv/bin/python"  # how BENCHMARKS.md spells the interpreter: commands run from the repository root

# name -> (arguments after the script, timeout in seconds). The firmware's comes last:
# its fuzzing takes whatever is left of the budget (see fuzz_seconds).
BENCHMARKS = {
    "bench_compile": ([], 300),
    "bench_cli": ([], 300),
    "figure5": ([], 3600),  # ~100 compilations, 46 of them software-pipelined groups of ~500 images
    "bench_mapping": ([], 600),  # ~50 compilations, half of them with the free search
    "bench_repeat": ([], 600),
    "bench_slots": ([], 600),
    "bench_run": ([], 600),
    "bench_throughput": ([], 600),
    "bench_bnn_numpy": (["--compare"], 600),
    "bench_scaling": ([], 1200),
    "bench_import": ([], 600),
    "bench_system": ([], 300),
    "bench_daemon_fuzz": ([], 900),
    "bench_remote": ([], 900),
    "bench_fleet": ([], 300),
    "bench_firmware": ([], 600),
}
OPTIONAL = {"bench_firmware"}  # run only when the file exists

# `make bench` must finish within BUDGET_S. bench_firmware.py fuzzes for as long as it
# is told; it gets what the others left, less its own fixed part (build, callgrind, the
# BNN run: under a minute) and a margin, and never less than MIN_FUZZ_S.
BUDGET_S, MARGIN_S, FIRMWARE_FIXED_S, MIN_FUZZ_S = 20 * 60, 120, 60, 60

SEED_CREATE_S = 1.33
SEED_FPGA_IMAGES_PER_S = 168


# ---- running ------------------------------------------------------------------------


def fuzz_seconds(elapsed_s: float, budget_s: float = BUDGET_S) -> int:
    return max(MIN_FUZZ_S, int(budget_s - MARGIN_S - FIRMWARE_FIXED_S - elapsed_s))


def command(name: str, args: list[str]) -> str:
    return " ".join([PY, f"bench/{name}.py", *args])


def run(name: str, args: list[str], timeout: float) -> dict:
    """{"ok", "data" | "why", "wall_s", "args"} for one benchmark."""
    script = BENCH / f"{name}.py"
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(script), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {
            "ok": False,
            "why": f"bench/{name}.py took over {timeout:.0f} s",
            "wall_s": time.perf_counter() - start,
            "args": args,
        }
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return {
            "ok": False,
            "why": f"bench/{name}.py failed (exit {proc.returncode}): {tail}",
            "wall_s": wall,
            "args": args,
        }
    text = proc.stdout.strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:  # JSON lines: one object per line
            data = [json.loads(line) for line in text.splitlines()]
        except json.JSONDecodeError as e:
            return {
                "ok": False,
                "why": f"bench/{name}.py printed no JSON ({e})",
                "wall_s": wall,
                "args": args,
            }
    return {"ok": True, "data": data, "wall_s": wall, "args": args}


RESULTS = BENCH / "results"


def keep(name: str, result: dict) -> None:
    """Write one benchmark's result to bench/results/NAME.json, with where it was measured."""
    RESULTS.mkdir(exist_ok=True)
    info = machine()
    record = dict(result, commit=info["commit"], date=info["date"])
    tmp = RESULTS / f".{name}.json.tmp"
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, RESULTS / f"{name}.json")


def cached(name: str) -> dict:
    """The last kept result of a benchmark not run this time (or why there is none)."""
    path = RESULTS / f"{name}.json"
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return {
            "ok": False,
            "why": "not run (--only) and no earlier result in bench/results/",
            "wall_s": 0.0,
        }
    except (OSError, json.JSONDecodeError) as e:
        return {
            "ok": False,
            "why": f"not run (--only); {path.name} unreadable ({e})",
            "wall_s": 0.0,
        }
    record["cached"] = True
    return record


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numpy

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
    }


# ---- formatting ---------------------------------------------------------------------


def s(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f} s"


def ms(x: float) -> str:
    return f"{x * 1e3:,.1f} ms" if x < 10 else s(x)


def ratio(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}x"


def table(head: list[str], rows: list[list[str]], text_columns: int = 1) -> str:
    """A Markdown table: the first `text_columns` columns left-aligned, numbers right."""
    align = ["---" if i < text_columns else "---:" for i in range(len(head))]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


class Missing(Exception):
    """A figure whose benchmark did not run: its text says why."""


def need(results: dict, name: str):
    r = results[name]
    if not r["ok"]:
        raise Missing(r["why"])
    return r["data"]


def section(fn, results: dict) -> str:
    try:
        return fn(results)
    except Missing as e:
        return f"Not measured: {e}."


# ---- sections -----------------------------------------------------------------------


def compile_section(results: dict) -> str:
    rows = need(results, "bench_compile")
    out = []
    for r in rows:
        defines = ", ".join(f"{k}={int(v):,}" for k, v in r["defines"].items()) or "(IMAGES=10,000)"
        out.append(
            [
                Path(r["program"]).name,
                defines,
                f"{r['image_bytes']:,}",
                f"{r['tasks']:,}",
                f"{r['bytes_per_task']:.3f}",
                ms(r["compile_s"]),
            ]
        )
    return table(
        ["program", "defines", "image bytes", "tasks executed", "bytes per task", "compile"], out, 2
    )


def cli_text(results: dict) -> str:
    d = need(results, "bench_cli")
    heavy = ", ".join(d["heavy_imports"]) or "none"
    return (
        f"best of {d['runs']} {ms(d['best_s'])} wall ({ms(d['cpu_s'])} of CPU; runs: "
        + ", ".join(ms(w) for w in d["wall_s"])
        + f"), against {ms(d['in_process_s'])} for the same compile in process and {ms(d['python_floor_s'])} "
        f"for a bare `python -c pass`; heavy packages imported: {heavy}"
    )


def cli_target(results: dict) -> tuple[str, bool]:
    d = need(results, "bench_cli")
    return (
        f"{ms(d['best_s'])} wall, best of {d['runs']} ({ms(d['cpu_s'])} CPU), "
        f"numpy {'imported' if 'numpy' in d['heavy_imports'] else 'not imported'}"
    ), d["best_s"] < SEED_CREATE_S / 10 and "numpy" not in d["heavy_imports"]


def create_target(results: dict) -> tuple[str, bool]:
    rows = need(results, "bench_compile")
    worst = max(rows, key=lambda r: r["compile_s"] + r["transfer_s"])
    total = worst["compile_s"] + worst["transfer_s"]
    text = (
        f"{ms(total)} for the slowest BNN program ({Path(worst['program']).name} "
        f"{' '.join(f'{k}={v}' for k, v in worst['defines'].items())}: compile {ms(worst['compile_s'])} in process "
        f"+ {worst['transfer_s'] * 1e6:.0f} us simulated transfer of {worst['image_bytes']:,} bytes), "
        f"{total / SEED_CREATE_S:.3f} of the seed's 1.33 s"
    )
    return text, total < SEED_CREATE_S / 10


def figure5_table(results: dict) -> str:
    d = need(results, "figure5")
    by = {(r["batch"], r["mode"]): r for r in d["pr"]}
    auto = {(r["batch"], r["mode"]): r for r in d.get("auto", ())}
    static = d["static"]
    rows = []
    for b in sorted({r["batch"] for r in d["pr"]}):
        st, df = by[(b, "strict")]["s_per_10000"], by[(b, "dataflow")]["s_per_10000"]
        row = [
            f"{b:,}",
            s(st),
            s(df),
            ratio(d["dataflow_over_strict"][str(b)]),
            ratio(static["strict"] / st),
            ratio(static["dataflow"] / df),
        ]
        if auto:
            a = auto[(b, "dataflow")]
            row += [s(auto[(b, "strict")]["s_per_10000"]), s(a["s_per_10000"])]
            if "over_any_bound" in a:
                row += [
                    s(a["lower_bound_ns"] * 10_000 / a["images"] / 1e9),
                    f"{a['over_any_bound']:.3f}",
                ]
        rows.append(row)
    head = [
        "images per batch",
        "PR strict",
        "PR dataflow",
        "dataflow speed-up over strict",
        "PR over static, strict",
        "PR over static, dataflow",
    ]
    if auto:
        head += ["acic mapping, strict", "acic mapping, dataflow"]
        if "over_any_bound" in auto[(1, "dataflow")]:
            head += ["bound for every mapping", "acic mapping, dataflow, over the bound"]
    return table(head, rows)


def figure5_seed(results: dict) -> str:
    d = need(results, "figure5")
    by = {(r["batch"], r["mode"]): r["s_per_10000"] for r in d["pr"]}
    auto = {(r["batch"], r["mode"]): r["s_per_10000"] for r in d.get("auto", ())}
    ex = d["break_even_exact"]
    big = sorted({b for b, _ in by if b >= 300})
    st, sd = d["static"]["strict"], d["static"]["dataflow"]

    def be(name):
        return f"{ex[name]['batch']}" if name in ex else "never (in the sweep)"

    rows = [
        ["static architecture, 10,000 images", "128 s", s(st), s(sd), "-"],
        [
            "PR, 1 image per batch",
            "917 s",
            s(by[(1, "strict")]),
            s(by[(1, "dataflow")]),
            s(auto[(1, "dataflow")]) if auto else "-",
        ],
        [
            "batch size from which PR beats static",
            "~25",
            be("strict"),
            be("dataflow"),
            be("auto_dataflow") if auto else "-",
        ],
        [
            f"speed-up over static at {', '.join(map(str, big))} images per batch",
            "3.1x",
            ", ".join(ratio(st / by[(b, "strict")]) for b in big),
            ", ".join(ratio(sd / by[(b, "dataflow")]) for b in big),
            ", ".join(ratio(sd / auto[(b, "dataflow")]) for b in big) if auto else "-",
        ],
    ]
    return table(
        [
            "figure",
            "seed",
            "model, strict (seed's semantics)",
            "model, dataflow",
            "acic mapping (bnn_auto.aci), dataflow",
        ],
        rows,
    )


def repeat_table(results: dict) -> str:
    d = need(results, "bench_repeat")
    rows = []
    for r in d["rows"]:
        rows.append(
            [
                f"{r['batch']:,}",
                r["mode"],
                f"{r['batches']:,}",
                f"{r['repeat']['image_bytes']:,}",
                f"{r['repeat']['image_bytes_3x']:,}",
                f"{r['host']['image_bytes']:,} x {r['batches']:,} = {r['host']['bytes_sent']:,}",
                s(r["repeat"]["s_per_10000"], 2),
                s(r["host"]["s_per_10000"], 2),
                ms(r["host"]["link_ns"] * 1e-9),
                ratio(r["host_over_repeat"], 3),
            ]
        )
    return table(
        [
            "images per batch",
            "mode",
            "batches",
            "REPEAT image bytes",
            "same, 3x the images",
            "host-issued bytes sent",
            "REPEAT, 10,000 images",
            "host-issued",
            "host's link time",
            "host-issued / REPEAT",
        ],
        rows,
        2,
    )


def slots_table(results: dict) -> str:
    d = need(results, "bench_slots")
    slots = sorted({r["slots"] for r in d["rows"]})
    by = {(r["batch"], r["mode"], r["slots"]): r for r in d["rows"]}
    rows = []
    for b in sorted({r["batch"] for r in d["rows"]}):
        for m in ("strict", "dataflow"):
            rows.append(
                [f"{b:,}", m]
                + [
                    f"{s(by[(b, m, n)]['s_per_10000'])} "
                    f"({ratio(by[(b, m, n)]['speedup_over_fewest_slots'])}, "
                    f"{100 * by[(b, m, n)]['utilisation']:.0f}%)"
                    for n in slots
                ]
            )
    return table(
        ["images per batch", "mode"] + [f"{n} slot{'s' if n > 1 else ''}" for n in slots], rows, 2
    )


def scaling_table(results: dict) -> str:
    d = need(results, "bench_scaling")
    rows = []
    for series in d["series"]:
        for p in series["points"]:
            rows.append(
                [
                    series["name"],
                    f"{p['tasks']:,}",
                    f"{p['image_bytes']:,}",
                    f"{p['bytes_per_task']:.1f}",
                    ms(p["compile_s"]),
                    f"{p['us_per_task']:,.0f}",
                ]
            )
    return table(
        ["series", "tasks", "image bytes", "bytes per task", "compile (best of 3)", "us per task"],
        rows,
        1,
    )


def scaling_fits(results: dict) -> str:
    d = need(results, "bench_scaling")
    lines = []
    for series in d["series"]:
        lines.append(
            f"- {series['name']} (fitted over {series['fit_from_tasks']:,} tasks and more): compile time "
            f"exponent **{series['exponent_time']:.2f}** (between its last two points "
            f"{series['local_exponent']:.2f}), image size exponent **{series['exponent_bytes']:.2f}**"
        )
    return "\n".join(lines)


def interp_table(results: dict) -> str:
    d = need(results, "bench_throughput")
    rows = []
    for r in d["rows"]:
        py, c = r["python"], r["c"]
        rows.append(
            [
                r["mode"],
                f"{py['tasks']:,}",
                s(py["wall_s"], 3),
                f"{py['tasks_per_s']:,.0f}",
                s(c["wall_s"], 3) if c else "not built",
                f"{c['tasks_per_s']:,.0f}" if c else "-",
                ratio(r["c_over_python"], 1) if c else "-",
                ("yes" if r["agree"] else "**no**") if c else "-",
            ]
        )
    text = table(
        [
            "mode",
            "tasks",
            "Python",
            "Python tasks/s",
            "C (acifw-sim)",
            "C tasks/s",
            "C / Python",
            "same simulated total",
        ],
        rows,
    )
    if d["c_missing"]:
        text += f"\n\nC: not measured: {d['c_missing']}."
    return text


def run_text(results: dict) -> str:
    d = need(results, "bench_run")
    t = d["timing_only"]
    lines = [
        f"- timing-only, `{t['program']}` ({t['images']:,} images, {t['operations']:,} operations): "
        f"{s(t['wall_s'], 3)} (best of 3), {t['operations_per_s']:,} operations/s; simulated total "
        f"{s(t['simulated_total_s'])}"
    ]
    for f in d["functional"]:
        lines.append(
            f"- functional, `acic run {f['program']}` with every input set from `.npy` files and the "
            f"scores checked: {f['images_per_s']:.1f} images/s ({s(f['wall_s'], 3)} for {f['images']} images)"
        )
    rows = [
        [
            r["image"],
            s(r["python_s"], 2),
            f"{r['python_kib'] / 1024:,.0f} MiB",
            s(r["firmware_s"], 3),
            f"{r['firmware_kib'] / 1024:,.1f} MiB",
        ]
        for r in d["declared"]
    ]
    lines += [
        "",
        "Images that declare far more than they run (one run each, in its own process; "
        "`acic run` and `acifw-sim`): the reference interpreter costs what runs, like the firmware.",
        "",
        table(
            [
                "image",
                "Python: wall",
                "Python: peak memory",
                "firmware: wall",
                "firmware: peak memory",
            ],
            rows,
        ),
    ]
    return "\n".join(lines)


def numpy_table(results: dict) -> str:
    d = need(results, "bench_bnn_numpy")
    batches = sorted({c["batch"] for c in d["compare"]})
    forms = list(dict.fromkeys(c["formulation"] for c in d["compare"]))
    by = {(c["formulation"], c["batch"]): c["images_per_s"] for c in d["compare"]}
    names = {
        "xor-popcount": "bit-packed XOR + popcount (kept)",
        "blas": "float32 ±1 matrix products through BLAS",
    }
    rows = [[names.get(f, f)] + [f"{by[(f, b)]:.1f}" for b in batches] for f in forms]
    return table(["formulation"] + [f"batch {b}" for b in batches], rows)


def firmware(results: dict) -> dict:
    """bench_firmware.py's JSON, checked for the fields the targets read."""
    d = need(results, "bench_firmware")
    for key in ("per_task", "per_byte", "bnn_images_per_s"):
        if key not in d:
            raise Missing(f"bench_firmware.py's output has no `{key}`")
    return d


def numpy_batch1(results: dict) -> float | None:
    """The kept numpy formulation at batch 1 (the C models' static run takes one image at a time)."""
    r = results["bench_bnn_numpy"]
    if not r["ok"]:
        return None
    return next(
        (
            c["images_per_s"]
            for c in r["data"]["compare"]
            if c["formulation"] == r["data"]["formulation"] and c["batch"] == 1
        ),
        None,
    )


def c_bnn_text(results: dict) -> str:
    d = firmware(results)
    text = f"{d['bnn_images_per_s']:,.1f} images/s"
    base = numpy_batch1(results)
    if base:
        text += (
            f", {ratio(d['bnn_images_per_s'] / base)} the numpy models' {base:.1f} images/s at batch 1 "
            "(bench_bnn_numpy.py, same make bench run)"
        )
    return text


def firmware_text(results: dict) -> str:
    d = firmware(results)
    per_task = table(
        ["run (callgrind on acifw-null, inside aci_run)", "instructions per executed task"],
        [[k, f"{v:,.1f}"] for k, v in d["per_task"].items()],
    )
    per_byte = table(
        ["image (inside aci_validate)", "instructions per validated byte"],
        [[k, f"{v:,.2f}"] for k, v in d["per_byte"].items()],
    )
    text = f"{per_task}\n\n{per_byte}"
    if "prepare_per_byte" in d:
        prepare = table(
            ["image (inside aci_prepare)", "instructions per prepared byte"],
            [[k, f"{v:,.2f}"] for k, v in d["prepare_per_byte"].items()],
        )
        text += (
            f"\n\nA board pre-decodes each image it receives once (`aci_prepare`) and runs it as often as "
            f"the host asks (`aci_run`, which only reads the pre-decoded form), so the per-task figures "
            f"count `aci_run` and preparation is counted per image byte, like validation:\n\n{prepare}"
        )
        if "synthetic_one_run_per_task" in d:
            text += (
                f"\n\nThe synthetic image is the worst case for this split: 4,000 distinct tasks, each run "
                f"only 4 times. One run of it with its preparation costs "
                f"{d['synthetic_one_run_per_task']:,.1f} instructions per task."
            )
    text += (
        "\n\nThe C models of the BNN cores (acifw-sim running bnn_static.aci "
        f"functionally, process start-up and input loading included): {c_bnn_text(results)}."
    )
    if "fuzz_executions" in d:
        text += (
            f"\n\nFuzzing (`make -C firmware fuzz`, libFuzzer over validate-then-run, "
            f"{d.get('fuzz_seconds', '?')} s on {d.get('fuzz_jobs', '?')} processes): "
            f"{d['fuzz_executions']:,} executions, {d.get('fuzz_crashes', 0)} crashes."
        )
    return text


def system_text(results: dict) -> str:
    d = need(results, "bench_system")
    rows = [
        [
            f"{r['boards']}",
            f"{r['images_per_s']:,.1f}",
            f"{r['boards'] * d['one_board_images_per_s']:,.1f}",
            f"{r['over_n_times_one']:.4f}",
        ]
        for r in d["scaling"]
    ]
    text = [
        f"Data-parallel over {d['scaling_batches']} batches of {d['batch']} images:",
        "",
        table(["boards", "images/s", "N x one board", "ratio"], rows),
        "",
        f"On 2 and 3 boards ({d['split_batches']} batches; a run of the whole network "
        f"{d['run_ns']['whole'] / 1e6:,.1f} ms per batch, the convolutions {d['run_ns']['conv'] / 1e6:,.1f} ms, "
        f"the classifier {d['run_ns']['classifier'] / 1e6:,.1f} ms; "
        f"{d['crossing_bytes'][d['cut']]:,} bytes per batch cross the BNNsplit cut):",
        "",
    ]
    rows = []
    for s in d["split"]:
        for r in s["rows"]:
            rows.append(
                [
                    f"{s['boards']}",
                    r["plan"],
                    f"{r['images_per_s']:,.1f}",
                    ratio(r["over_one_board"]),
                ]
            )
    text += [
        table(["boards", "plan", "images/s", "over one board"], rows, 2),
        "",
        f"BNNsplit's estimates: the split {ratio(d['seed_split_gain'])} one board (model: "
        f"{ratio(d['split'][0]['rows'][1]['over_one_board'])}); the split with the convolutions on two boards "
        f"{ratio(d['seed_split_gain'])} two boards data-parallel (model: "
        f"{ratio(d['split'][1]['rows'][2]['images_per_s'] / d['split'][0]['rows'][0]['images_per_s'])}). "
        "The split gains little here because the classifier is a small share of a run in this model.",
    ]
    return "\n".join(text)


def fleet_text(results: dict) -> str:
    d = need(results, "bench_fleet")
    f = d["fleet"]
    rows = [
        [
            f"{r['boards']}",
            r["plan"].replace("|", "\\|"),
            f"{r['images']:,}",
            f"{r['images_per_s']:,.1f}",
            f"{r['over_n_times_one']:.3f}" if "over_n_times_one" in r else "-",
            f"{r['simulated_images_per_s']:,.1f}",
            f"{r['over_simulated']:.3f}",
        ]
        for r in [*f["scaling"], f["split"]]
    ]
    sv = d["serve"]
    lrows = [
        [
            f"{x['outstanding']}",
            f"{x['requests']:,}",
            f"{x['requests_per_s']:,.1f}",
            ms(x["p50_ms"] / 1000),
            ms(x["p99_ms"] / 1000),
        ]
        for x in sv["loads"]
    ]
    return "\n".join(
        [
            f"Plans on real daemons paced at {d['pace']:g} (a run takes its simulated time), "
            f"{d['batches_per_board']} batches of {d['batch']} images per board:",
            "",
            table(
                [
                    "boards",
                    "plan",
                    "images",
                    "images/s",
                    "over N x one board",
                    "simulated images/s",
                    "measured / simulated",
                ],
                rows,
                2,
            ),
            "",
            f"The service (`acic serve`, {sv['boards']} boards, batches of {sv['batch']}: a run "
            f"takes {ms(sv['run_s'])}, so the boards can serve {sv['capacity_per_s']:,.0f} images/s), "
            "with a fixed number of requests outstanding:",
            "",
            table(["outstanding", "requests", "requests/s", "p50", "p99"], lrows),
        ]
    )


def mapping_text(results: dict) -> str:
    d = need(results, "bench_mapping")

    def t(r, key):
        return s(r[key], 3) if r["batch"] is None else s(r[key])

    rows = [
        [
            r["program"],
            r["mode"],
            str(r["batch"]) if r["batch"] is not None else "-",
            t(r, "uniform_s"),
            t(r, "free_s"),
            ratio(r["speedup"]),
            f"{r['uniform_prs']:,} / {r['free_prs']:,}",
            f"{r['uniform_compile_s']:.2f} s / {r['free_compile_s']:.2f} s",
            r["mapping"],
        ]
        for r in d["rows"]
    ]
    c = d["compile_500"]
    return (
        table(
            [
                "program",
                "mode",
                "images per batch",
                "uniform shares",
                "free mappings",
                "speed-up",
                "PRs (uniform / free)",
                "compile (uniform / free)",
                "free mapping, per window",
            ],
            rows,
            2,
        )
        + f"\n\nCompile time of bnn_auto.aci at {c['batch']} images per batch ({c['mode']}, best of 2): "
        f"{s(c['uniform'], 2)} with the uniform search alone, {s(c['free'], 2)} with the free search "
        f"after it ({ratio(c['ratio'])})."
    )


def import_text(results: dict) -> str:
    d = need(results, "bench_import")
    g = d["digits"]
    rows = [
        ["float network (float64, BinaryNet's layers)", f"{100 * g['float']:.2f} %", "reference"]
    ]
    for e, v in g["engines"].items():
        rows.append(
            [
                f"acic, {e} engine",
                f"{100 * v['accuracy']:.2f} %",
                "equal to the float scores x 2^%d" % g["score_bits"] if v["exact"] else "differ",
            ]
        )
    rnd = ", ".join(f"{f} {v['exact']} of {v['networks']}" for f, v in d["random"].items())
    return (
        table(["classifier", f"accuracy on {g['images']} held-out digits", "scores"], rows, 3)
        + f"\n\nRandom networks whose every score equals the independent float formulation's: {rnd}. "
        f"The digits network written as QONNX imports to "
        f"{'the same parameters and program as' if d['qonnx_same'] else 'something else than'} the BinaryNet "
        f"file. (The demo's import, compile and two runs took {s(g['wall_s'])}.)"
    )


def remote_text(results: dict) -> str:
    d = need(results, "bench_remote")
    c = d["campaign"]
    rows = [
        [
            "create and transfer the BNN's image (bnn_pr.aci BATCH=25, %s bytes): compile, CURVE session, "
            "LOAD validated and acknowledged" % f"{d['bnn_image_bytes']:,}",
            ms(d["create_transfer_s"]),
            f"{d['create_transfer_vs_seed']:.3f} of the seed's 1.33 s",
        ],
        [
            "  of which compile / session and LOAD",
            f"{ms(d['create_s'])} / {ms(d['transfer_s'])}",
            "",
        ],
        [
            "the same in strict mode (%s bytes)" % f"{d['bnn_strict_image_bytes']:,}",
            ms(d["create_transfer_strict_s"]),
            f"{d['create_transfer_strict_s'] / SEED_CREATE_S:.3f} of the seed's",
        ],
        ["STATUS round trip", f"{d['status_round_trip_s'] * 1e6:,.0f} us", ""],
        [
            "RUN round trip of pipeline.aci less the board's own run time",
            f"{d['protocol_per_run_s'] * 1e6:,.0f} us",
            "protocol cost per run",
        ],
        [
            "pipeline.aci through `--engine remote` (load, inputs, run, trace, memory back)",
            ms(d["remote_run_s"]),
            f"local C engine: {ms(d['local_run_s'])}",
        ],
        [
            f"LOAD of a {d['load_bytes'] / 1e6:.1f} MB image (transfer, validation, preparation)",
            ms(d["load_s"]),
            f"{d['load_mb_per_s']:.1f} MB/s",
        ],
        [
            f"functional BNN, {d['bnn_images']} images: local C engine",
            f"{d['bnn_local_images_per_s']:.1f} images/s",
            "",
        ],
        [
            "  through the daemon, `--engine remote` (all memory back)",
            f"{d['bnn_remote_images_per_s']:.1f} images/s",
            ratio(d["bnn_remote_vs_local"]),
        ],
        [
            "  through the daemon, a session (load, inputs, run, scores back)",
            f"{d['bnn_session_images_per_s']:.1f} images/s",
            ratio(d["bnn_session_vs_local"]),
        ],
    ]
    faults = ", ".join(f"{v:,} {k}" for k, v in sorted(c["faults"].items()))
    return (
        table(["what", "measured", "against"], rows, 3)
        + f"\n\nThe fault campaign: {c['runs']:,} runs of pipeline.aci through the fault-injecting proxy "
        f"in {s(c['seconds'])} (messages: {faults}), the daemon killed with SIGKILL and started again "
        f"{c['kills']} times ({c['restarts_seen']} restarts met by the host, {c['resent']:,} requests sent "
        f"again): {c['ok']:,} runs gave the fault-free result (RunResult, trace and memory), {c['lost']} were "
        f"reported lost, {c['wrong']} gave another result; the daemon's log shows {c['started']:,} runs started "
        f"and {c['duplicated']} started twice in one epoch."
    )


# ---- targets ------------------------------------------------------------------------


def targets(results: dict) -> str:
    lines = []

    def add(target: str, fn):
        try:
            measured, ok = fn()
        except Missing as e:
            lines.append(f"- target: {target}; not measured: {e}")
            return
        lines.append(
            f"- target: {target}; measured: {measured}; "
            + (ok if isinstance(ok, str) else verdict(ok))
        )

    def sched():
        return need(results, "figure5")

    checked = [1, 5, 25, 100, 300]

    def digits_accuracy():
        d = need(results, "bench_import")["digits"]
        engines = d["engines"]
        text = ", ".join(
            f"{e} {100 * v['accuracy']:.2f} %" + ("" if v["exact"] else " (scores differ)")
            for e, v in engines.items()
        )
        ok = all(
            v["accuracy"] >= 0.85 and abs(v["accuracy"] - d["float"]) <= 0.01 and v["exact"]
            for v in engines.values()
        )
        return f"{text} of {d['images']}; float network {100 * d['float']:.2f} %", ok

    def random_exact():
        d = need(results, "bench_import")["random"]
        return ", ".join(
            f"{f}: {v['exact']} of {v['networks']} networks" for f, v in d.items()
        ), all(v["exact"] == v["networks"] for v in d.values())

    def qonnx_same():
        same = need(results, "bench_import")["qonnx_same"]
        return ("same parameters and program" if same else "they differ"), same

    def create():
        return create_target(results)

    def df_never_slower():
        d = sched()
        worst = min((d["dataflow_over_strict"][str(b)], b) for b in checked)
        every = min(d["dataflow_over_strict"].values())
        return (
            f"dataflow faster by {ratio(worst[0], 3)} at the least (at {worst[1]} images per batch; "
            f"{ratio(every, 3)} at the least over the whole Figure 5 sweep)"
        ), every >= 1

    def df_at_25():
        x = sched()["dataflow_over_strict"]["25"]
        return f"{ratio(x, 3)}", x >= 1.5

    def issue17(key):
        """figure5's result, when it has issue 17's figures (else: measured before them)."""
        d = sched()
        if key not in d:
            raise Missing(
                f"figure5's last result predates `{key}`: run bench/run_all.py --only figure5"
            )
        return d

    def auto_targets():
        d = sched()
        got = {r["batch"]: r["s_per_10000"] for r in d["auto"] if r["mode"] == "dataflow"}
        want = {4: 47, 10: 40, 25: 36, 50: 34}
        text = ", ".join(f"{b}: {s(got[b])} (at most {w} s)" for b, w in want.items())
        return text, all(got[b] <= w for b, w in want.items())

    def auto_never_slower():
        d = issue17("auto_before")
        got = {r["batch"]: r["s_per_10000"] for r in d["auto"] if r["mode"] == "dataflow"}
        before = {int(b): v for b, v in d["auto_before"].items()}
        worst = max(before, key=lambda b: got[b] / before[b])
        # before: one decimal, as BENCHMARKS.md printed it
        return (
            f"{len(before)} batch sizes from 1 to 500; the closest: {s(got[worst])} at {worst} images per batch "
            f"against {before[worst]:.1f} s before"
        ), all(round(got[b], 1) <= before[b] for b in before)

    def auto_bound():
        over = {int(b): v for b, v in issue17("auto_over_any_bound")["auto_over_any_bound"].items()}
        from_10 = {b: v for b, v in over.items() if b >= 10}
        worst = max(from_10, key=from_10.get)
        return (
            f"at most {100 * (from_10[worst] - 1):.1f} % over, at {worst} images per batch "
            f"(below 10: up to {100 * (max(over.values()) - 1):.1f} %)"
        ), from_10[worst] <= 1.10

    def auto_compile():
        c = issue17("auto_compile_s")["auto_compile_s"]
        return (
            f"{s(c['now'], 2)} at {c['batch']} images per batch, {c['now'] / c['without_pipelining']:.2f}x "
            f"the compiler without software pipelining ({s(c['without_pipelining'], 2)}, same run)"
        ), c["now"] <= 2 * c["without_pipelining"]

    def bound():
        over = {b: v for b, v in sched()["over_bound"].items() if v is not None}
        worst = max(over.values())
        return (
            ", ".join(f"{b}: {100 * (v - 1):.2f} % over" for b, v in over.items())
        ), worst <= 1.03

    def break_even():
        d = sched()
        ex = d["break_even_exact"]
        if "strict" not in ex or "dataflow" not in ex or "auto_dataflow" not in ex:
            raise Missing("a break-even lies outside the sweep")
        st, df, auto = ex["strict"]["batch"], ex["dataflow"]["batch"], ex["auto_dataflow"]["batch"]
        port = d["port_bound"]
        text = (
            f"strict {st} images per batch (seed's mapping, against static strict); dataflow with acic's "
            f"mapping (bnn_auto.aci) {auto} (against static dataflow): {auto / st:.2f} of strict's. "
            f"With the seed's fixed mapping, dataflow reaches {df}: run batch after batch as written, its "
            f"{port['prs_per_batch']} PRs ({ms(port['pr_ns_per_batch'] / 1e9)} of port time per batch) would "
            f"exceed static's time per batch below {port['batch']} images; software pipelining pays them once "
            f"per group of batches; seed: ~25"
        )
        return text, min(df, auto) <= st / 3

    def numpy_speed():
        d = need(results, "bench_bnn_numpy")
        return (
            f"{d['images_per_s']:.1f} images/s ({d['formulation']}, batch {d['batch']}, one core; "
            f"seed's FPGA {SEED_FPGA_IMAGES_PER_S})"
        ), d["images_per_s"] >= 20

    def sim_speed():
        t = need(results, "bench_run")["timing_only"]
        return f"{s(t['wall_s'], 2)}", t["wall_s"] < 10

    def fw_worst(key, limit):
        d = firmware(results)
        label, worst = max(d[key].items(), key=lambda kv: kv[1])
        return f"{worst:,} in the worst of {len(d[key])} runs ({label})", worst <= limit

    def c_bnn():
        return c_bnn_text(results), firmware(results)["bnn_images_per_s"] >= SEED_FPGA_IMAGES_PER_S

    def fuzz():
        d = firmware(results)
        if "fuzz_executions" not in d:
            raise Missing(
                "bench_firmware.py reports no fuzzing run (`make -C firmware fuzz` runs the libFuzzer "
                "harness for FUZZ_SECONDS)"
            )
        crashes = d.get("fuzz_crashes", 0)
        return f"{d['fuzz_executions']:,} executions, {crashes} crashes", d[
            "fuzz_executions"
        ] >= 10_000_000 and not crashes

    def daemon_fuzz():
        d = need(results, "bench_daemon_fuzz")
        return (
            f"{d['executions']:,} executions in {d['seconds']} s on {d['jobs']} processes, {d['crashes']} crashes",
            d["executions"] >= 10_000_000 and not d["crashes"],
        )

    def linear_one_thread():
        d = need(results, "bench_scaling")
        sr = d["series"][0]
        top = sr["points"][-1]["tasks"]
        return (
            f"{sr['name']}, 10 to {top:,} tasks: time exponent {sr['exponent_time']:.2f}, size exponent "
            f"{sr['exponent_bytes']:.2f}"
        ), sr["exponent_time"] <= 1.1 and sr["exponent_bytes"] <= 1.1

    def linear_other():
        d = need(results, "bench_scaling")
        parts, ok = [], True
        for sr in d["series"][1:]:
            parts.append(
                f"{sr['name']} to {sr['points'][-1]['tasks']:,} tasks: time exponent "
                f"{sr['exponent_time']:.2f} ({sr['local_exponent']:.2f} at the top)"
            )
            ok = ok and sr["exponent_time"] <= 1.1
        return "; ".join(parts), ok

    def throughput():
        d = need(results, "bench_throughput")
        r = d["rows"][0]
        text = f"Python {r['python']['tasks_per_s']:,.0f} tasks/s ({r['mode']})"
        if r["c"]:
            text += f", C {r['c']['tasks_per_s']:,.0f} tasks/s ({ratio(r['c_over_python'], 1)})"
        else:
            text += f"; C not measured: {d['c_missing']}"
        return text, "reported (no threshold set)"

    def repeat():
        d = need(results, "bench_repeat")
        worst = min(d["rows"], key=lambda r: r["host_over_repeat"])
        best = max(d["rows"], key=lambda r: r["host_over_repeat"])
        return (
            f"host-issued batches take {ratio(worst['host_over_repeat'], 3)} ({worst['batch']} images per batch, "
            f"{worst['mode']}) to {ratio(best['host_over_repeat'], 3)} ({best['batch']}, {best['mode']}) the "
            "REPEAT image's time"
        ), worst["host_over_repeat"] >= 1

    def same_size():
        d = need(results, "bench_repeat")
        same = all(r["repeat"]["image_bytes"] == r["repeat"]["image_bytes_3x"] for r in d["rows"])
        most = max(r["repeat"]["image_bytes"] / r["host"]["image_bytes"] for r in d["rows"])
        return (
            "the REPEAT image for 10,000 images and for three times as many have the same size at "
            if same
            else "sizes differ (see the REPEAT table) at "
        ) + (
            f"every batch size, at most {most:.2f}x the one-batch image's (software pipelining "
            "adds one copy of the windows for the batches left over)"
        ), same

    def slots():
        d = need(results, "bench_slots")
        big = max(r["batch"] for r in d["rows"])
        top = max(r["slots"] for r in d["rows"])
        pick = {r["mode"]: r for r in d["rows"] if r["batch"] == big and r["slots"] == top}
        return (
            f"{top} slots over 1 at {big} images per batch: "
            + ", ".join(
                f"{m} {ratio(pick[m]['speedup_over_fewest_slots'])}" for m in ("strict", "dataflow")
            )
        ), "reported (no threshold set)"

    add(
        "creating and transferring the BNN's ACI well under a tenth of the seed's 1.33 s (0.133 s)",
        create,
    )
    add(
        "`acic compile` of the BNN as a whole process, start-up included, under 0.133 s wall, without numpy",
        lambda: cli_target(results),
    )
    add(
        "an image holds loops and repeats, not their unrolling: its size does not grow with the number of images",
        same_size,
    )
    add(
        "scheduler (bnn_pr.aci, 1, 5, 25, 100, 300 images per batch): dataflow never slower than strict",
        df_never_slower,
    )
    add(
        "at 25 images per batch, dataflow at least 1.5x faster than strict (bnn_pr.aci, the seed's mapping)",
        df_at_25,
    )
    add(
        "bnn_auto.aci, dataflow, 10,000 images: at most 47 s at 4 images per batch, 40 s at 10, 36 s at 25, "
        "34 s at 50",
        auto_targets,
    )
    add(
        "bnn_auto.aci, dataflow: never slower than before software pipelining, 1 to 500 images per batch",
        auto_never_slower,
    )
    add(
        "bnn_auto.aci, dataflow: within 10 % of acic schedule's bound for every mapping from 10 images per batch on",
        auto_bound,
    )
    add(
        "compile time of bnn_auto.aci at 500 images per batch (dataflow) at most twice the compiler's before",
        auto_compile,
    )

    def mapping_never_worse():
        d = need(results, "bench_mapping")
        rows = d["rows"]
        best = max(rows, key=lambda r: r["speedup"])
        return (
            f"{len(rows)} points (bnn_auto.aci strict and dataflow, 1 to 100 images per batch, "
            f"examples/uneven.aci); the largest gain {ratio(best['speedup'])} "
            f"({best['program']}, {best['batch'] or '-'} images per batch, {best['mode']}: "
            f"{s(best['uniform_s'], 3 if best['batch'] is None else 1)} to "
            f"{s(best['free_s'], 3 if best['batch'] is None else 1)})"
        ), d["never_worse"]

    def mapping_compile():
        c = need(results, "bench_mapping")["compile_500"]
        return (
            f"{s(c['free'], 2)} at {c['batch']} images per batch ({c['mode']}), {ratio(c['ratio'])} the "
            f"uniform search alone ({s(c['uniform'], 2)}, same run)"
        ), c["ratio"] <= 2

    add(
        "free slot mappings (issue 17.2): never slower than the balancer's uniform shares at any measured point",
        mapping_never_worse,
    )
    add(
        "compile time of bnn_auto.aci at 500 images per batch with free mappings at most twice the uniform "
        "search's",
        mapping_compile,
    )
    add("at 300 images per batch and more, dataflow within 3 % of the lower bound", bound)
    add(
        "the batch size from which PR beats static falls to a third of strict mode's or less in dataflow mode",
        break_even,
    )
    add("numpy BNN at least 20 images/s", numpy_speed)
    add(
        "timing-only simulation of the 10,000-image PR run (bnn_pr.aci -D BATCH=1) under 10 s",
        sim_speed,
    )
    add(
        "firmware: at most 200 callgrind instructions per executed task (inside aci_run)",
        lambda: fw_worst("per_task", 200),
    )
    add(
        "firmware: at most 20 callgrind instructions per validated byte",
        lambda: fw_worst("per_byte", 20),
    )
    add("firmware: C BNN at least 168 images/s (the seed's FPGA)", c_bnn)
    add("firmware: at least 10 million fuzz executions without a crash", fuzz)
    add(
        "board daemon: at least 10 million fuzz executions of its message handling, 0 crashes",
        daemon_fuzz,
    )
    add(
        "compile time and image size linear in program size, 10 to 100,000 tasks (fitted exponent at most 1.1)",
        linear_one_thread,
    )
    add(
        "the same for dataflow compilation and for tasks spread over the threads of a parsec",
        linear_other,
    )
    add("interpreter throughput, timing-only", throughput)
    add("REPEAT no slower than the same batches issued one by one by the host", repeat)
    add("multi-slot scaling of bnn_pr.aci (1 to 8 slots)", slots)
    add(
        "the digits network on the simulated board: at least 85 % of the held-out digits and within 1 point "
        "of the float network, on both engines",
        digits_accuracy,
    )
    add(
        "bnn-fpga and BinaryNet imports bit-exact with the independent float formulation on random parameters",
        random_exact,
    )
    add(
        "QONNX import of the digits network: the same parameters and program as the BinaryNet path",
        qonnx_same,
    )

    def remote():
        return need(results, "bench_remote")

    def remote_create():
        d = remote()
        return (
            f"{ms(d['create_transfer_s'])} for the dataflow image (compile {ms(d['create_s'])}, session and "
            f"LOAD {ms(d['transfer_s'])}), {d['create_transfer_vs_seed']:.3f} of the seed's; strict image "
            f"{ms(d['create_transfer_strict_s'])}"
        ), d["create_transfer_s"] < SEED_CREATE_S / 10

    def remote_protocol():
        d = remote()
        return (
            f"{d['protocol_per_run_s'] * 1e6:,.0f} us per run (STATUS round trip "
            f"{d['status_round_trip_s'] * 1e6:,.0f} us, image load {d['load_mb_per_s']:.1f} MB/s)"
        ), d["protocol_per_run_s"] < 1e-3

    def remote_bnn():
        d = remote()
        return (
            f"{ratio(d['bnn_session_vs_local'])} in a session, {ratio(d['bnn_remote_vs_local'])} through "
            f"`--engine remote` ({d['bnn_session_images_per_s']:.1f} and {d['bnn_remote_images_per_s']:.1f} "
            f"against {d['bnn_local_images_per_s']:.1f} images/s)"
        ), d["bnn_session_vs_local"] >= 0.9

    def campaign():
        c = remote()["campaign"]
        return (
            f"{c['runs']:,} runs, {c['kills']} kills: {c['lost']} lost, {c['duplicated']} duplicated, "
            f"{c['wrong']} wrong"
        ), c["runs"] >= 1000 and c["lost"] == c["duplicated"] == c["wrong"] == 0

    add(
        "creating the BNN's ACI and transferring it to a board that validates and acknowledges it, end to end "
        "over loopback: under a tenth of the seed's 1.33 s",
        remote_create,
    )
    add("the protocol's cost per run against the local C engine: under 1 ms", remote_protocol)
    add(
        "functional BNN through the daemon: at least 90 % of the local C engine's images/s",
        remote_bnn,
    )
    add(
        "fault campaign (at least 1,000 runs, random kills, cuts, delays, drops, duplicates): 0 lost and 0 "
        "duplicated results",
        campaign,
    )

    def system_linear():
        d = need(results, "bench_system")
        worst = min(d["scaling"], key=lambda r: r["over_n_times_one"])
        return (
            f"worst {worst['over_n_times_one']:.4f} x N x one board ({worst['boards']} boards, "
            f'{worst["images_per_s"]:,.1f} images/s); the seed: "almost linearly"'
        ), worst["over_n_times_one"] >= 0.95

    def system_planner():
        d = need(results, "bench_system")
        return (
            "; ".join(
                f"{s['boards']} boards: {s['planner']} ({s['planner_rule']}, best of {s['candidates']} "
                "simulated candidates)"
                for s in d["split"]
            )
        ), all(s["planner_not_worse"] for s in d["split"])

    def fleet_linear():
        d = need(results, "bench_fleet")["fleet"]["scaling"]
        worst = min(d, key=lambda r: r["over_n_times_one"])
        return (
            f"worst {worst['over_n_times_one']:.3f} x N x one board ({worst['boards']} boards, "
            f"{worst['images_per_s']:,.1f} images/s)"
        ), worst["over_n_times_one"] >= 0.9

    def fleet_simulated():
        d = need(results, "bench_fleet")["fleet"]
        rows = [*d["scaling"], d["split"]]
        worst = max(rows, key=lambda r: abs(1 - r["over_simulated"]))
        return (
            f"measured / simulated from {min(r['over_simulated'] for r in rows):.3f} to "
            f"{max(r['over_simulated'] for r in rows):.3f} (worst: {worst['plan']})"
        ), all(abs(1 - r["over_simulated"]) <= 0.05 for r in rows)

    def serve_figures():
        sv = need(results, "bench_fleet")["serve"]
        return (
            "; ".join(
                f"{x['outstanding']} outstanding: {x['requests_per_s']:,.1f} requests/s, p50 "
                f"{ms(x['p50_ms'] / 1000)}, p99 {ms(x['p99_ms'] / 1000)}"
                for x in sv["loads"]
            )
        ), "measured (no goal set)"

    add(
        "simulated, BNN at 100 images per batch, 1 to 8 boards, 10 Gb/s: data-parallel at least 0.95 x N of one "
        "board",
        system_linear,
    )
    add(
        "real paced daemons on loopback, 1 to 4 boards: at least 0.9 x N of one board", fleet_linear
    )
    add(
        "real paced daemons on loopback: throughput within 5% of the system simulator's for the same plan",
        fleet_simulated,
    )
    add(
        "the service on paced boards: requests per second, latency p50 and p99 at a stated load",
        serve_figures,
    )
    add(
        "simulated, 2 and 3 boards: the planner never worse than data-parallel or the BNNsplit splits",
        system_planner,
    )
    return "\n".join(lines)


# ---- rendering ----------------------------------------------------------------------


def render(results: dict, info: dict, total_s: float) -> str:
    def cmd(name):
        return f"`{command(name, results[name].get('args', BENCHMARKS[name][0]))}`"

    def status(r):
        if not r["ok"]:
            return r["why"]
        return f"ok (kept from {r['commit']}, {r['date']})" if r.get("cached") else "ok (this run)"

    walls = table(
        ["benchmark", "status", "wall time"],
        [[f"`bench/{n}.py`", status(r), s(r["wall_s"])] for n, r in results.items()],
        2,
    )
    fields = {
        "machine": (
            f"{info['cpu']}, {info['cores']} cores ({info['arch']}), Python {info['python']}, "
            f"numpy {info['numpy']}; HEAD {info['commit']} (with the working tree as it was), {info['date']}"
        ),
        "total": s(total_s, 0) + f" ({total_s / 60:.1f} min)",
        "walls": walls,
        "targets": targets(results),
        "cmd_compile": cmd("bench_compile"),
        "cmd_cli": cmd("bench_cli"),
        "cmd_figure5": cmd("figure5"),
        "cmd_repeat": cmd("bench_repeat"),
        "cmd_mapping": cmd("bench_mapping"),
        "mapping_text": section(mapping_text, results),
        "cmd_slots": cmd("bench_slots"),
        "cmd_scaling": cmd("bench_scaling"),
        "cmd_run": cmd("bench_run"),
        "cmd_throughput": cmd("bench_throughput"),
        "cmd_numpy": cmd("bench_bnn_numpy"),
        "cmd_firmware": cmd("bench_firmware"),
        "cmd_import": cmd("bench_import"),
        "import_text": section(import_text, results),
        "cmd_system": cmd("bench_system"),
        "system_text": section(system_text, results),
        "cmd_daemon_fuzz": cmd("bench_daemon_fuzz"),
        "daemon_fuzz": section(
            lambda r: (
                lambda d: (
                    f"{d['executions']:,} executions ({d['per_s']:,.0f} per second) "
                    f"in {d['seconds']} s on {d['jobs']} processes, "
                    f"{d['crashes']} crashes."
                )
            )(need(r, "bench_daemon_fuzz")),
            results,
        ),
        "cmd_fleet": cmd("bench_fleet"),
        "fleet_text": section(fleet_text, results),
        "cmd_remote": cmd("bench_remote"),
        "remote_text": section(remote_text, results),
        "compile_table": section(compile_section, results),
        "cli_walls": section(cli_text, results),
        "create": section(lambda r: create_target(r)[0], results),
        "figure5_table": section(figure5_table, results),
        "figure5_seed": section(figure5_seed, results),
        "repeat_table": section(repeat_table, results),
        "slots_table": section(slots_table, results),
        "scaling_table": section(scaling_table, results),
        "scaling_fits": section(scaling_fits, results),
        "interp_table": section(interp_table, results),
        "run_text": section(run_text, results),
        "numpy_table": section(numpy_table, results),
        "firmware": section(firmware_text, results),
    }
    return string.Template(TEMPLATE.read_text()).substitute(fields)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument(
        "--budget",
        type=float,
        default=BUDGET_S,
        help=f"seconds the whole run may take; the firmware fuzzes for what is left (default {BUDGET_S})",
    )
    ap.add_argument(
        "--only",
        help="benchmarks to run, comma-separated (the others: their last results, "
        "from bench/results/)",
    )
    args = ap.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(BENCHMARKS)
    unknown = only - set(BENCHMARKS)
    if unknown:
        ap.error(
            f"unknown benchmarks: {', '.join(sorted(unknown))} (known: {', '.join(BENCHMARKS)})"
        )
    start = time.perf_counter()
    results = {}
    for name, (bench_args, timeout) in BENCHMARKS.items():
        if name not in only:
            results[name] = cached(name)
            continue
        if name in OPTIONAL and not (BENCH / f"{name}.py").exists():
            results[name] = {
                "ok": False,
                "why": f"bench/{name}.py does not exist yet",
                "wall_s": 0.0,
                "absent": True,
            }
            continue
        if name == "bench_firmware":
            seconds = fuzz_seconds(time.perf_counter() - start, args.budget)
            bench_args, timeout = bench_args + ["--fuzz-seconds", str(seconds)], timeout + seconds
        sys.stderr.write(f"run_all: {command(name, bench_args)} ...")
        sys.stderr.flush()
        results[name] = run(name, bench_args, timeout)
        r = results[name]
        if r["ok"]:
            keep(name, r)
        sys.stderr.write(f" {r['wall_s']:.1f} s{'' if r['ok'] else ' FAILED: ' + r['why']}\n")
    total = time.perf_counter() - start
    Path(args.out).write_text(render(results, machine(), total))
    sys.stderr.write(f"run_all: wrote {args.out} in {total:.0f} s\n")
    failed = [n for n, r in results.items() if n in only and not r["ok"] and not r.get("absent")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
