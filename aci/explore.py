"""Design-space exploration: one program compiled and simulated over swept consts.

``combinations(defines_spec) -> list[dict[str, int]]``: the ``-D`` items
``NAME=V1,V2,...`` (one value fixes the const) as every combination of values, in
order: the first const varies slowest, the last fastest. Raises
:class:`SpecSyntaxError` for an item that is not ``NAME=VALUES`` and
:class:`ExploreError` for a value that is not an integer or a const given twice.

``explore(path, sweeps, modes, programs, jobs, progress) -> list[row]``: for every
combination x program x mode (in that order, mode fastest), compiles the program
(:func:`aci.pipeline.compile_file`) and simulates it timing-only
(:func:`aci.machine.simulate`, the engine of ``acic run``), on ``jobs`` processes.
Before the sweep it checks the file once with the first combination: a ``-D``
naming no const (E013) or a ``--program`` the file lacks (E091) is the same for
every combination, so its SourceError propagates. A combination that fails on its
own (its values make the program invalid, or its run stops with a run-time error)
gives a row with ``ok`` false and ``error`` set; the others still run. ``jobs``
defaults to the machine's cores; with one job (or one combination) everything runs
in this process. ``progress(done, total)``, when given, is called as combinations
complete. Raises :class:`ExploreError` for an unknown mode.

A row is a JSON-ready dict: ``defines`` (name -> value), ``program``, ``mode``,
``ok``, ``error``, and for a completed run ``image_bytes``, ``compile_s`` (wall
clock, in the worker), ``images`` (the program's const ``IMAGES``, else None),
``total_ns`` (until the host sees completion), ``ns_per_image``, ``t0_ns``,
``t_end_ns``, ``prs``, ``pr_ns``, ``tasks``, ``slot_busy_ns`` and ``utilisation``
(slot time spent in tasks over ``slots * (t_end - t0)``).

``table(rows) -> str``: the rows as an aligned text table.
``plot(rows, path, title="")``: total time against the first swept const, one curve per
mode/program/other values; PNG or SVG by the extension; written whole or not at
all. Raises :class:`ExploreError` when nothing can be drawn, OutputError when the
file cannot be written.
"""

from __future__ import annotations

import io
import itertools
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

from ._io import write_atomic
from .check import check
from .decode import decode
from .diagnostics import AciError, SourceError
from .format import MODES as _FORMAT_MODES
from .machine import simulate
from .parse import load
from .pipeline import compile_file, pick_program
from .timing import format_ns
from .units import number_value

MODES = tuple(_FORMAT_MODES)
PLOT_FORMATS = ("png", "svg")

Row = dict
Progress = Callable[[int, int], None]


class ExploreError(AciError):
    """Input that cannot be explored: a bad sweep value, nothing to plot."""


class SpecSyntaxError(ExploreError):
    """A ``-D`` item that is not ``NAME=V1,V2,...`` (the CLI treats it as a bad flag)."""


def combinations(defines_spec: Iterable[str]) -> list[dict[str, int]]:
    names: list[str] = []
    values: list[list[int]] = []
    for item in defines_spec:
        name, eq, text = item.partition("=")
        if not eq or not name.isidentifier() or not text:
            raise SpecSyntaxError(f"-D expects NAME=V1,V2,..., got `{item}`")
        if name in names:
            raise ExploreError(
                f"-D {name} is given twice; list its values in one -D {name}=V1,V2,..."
            )
        vals = []
        for v in text.split(","):
            try:
                n = number_value(v.strip())
            except (ValueError, ZeroDivisionError):
                n = None
            if n is None or n.denominator != 1:
                raise ExploreError(f"-D {item}: `{v}` is not an integer")
            vals.append(int(n))
        names.append(name)
        values.append(list(dict.fromkeys(vals)))  # a value listed twice is one point
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


def _precheck(path: str, defines: dict[str, int], programs: Sequence[str | None]) -> None:
    """Raise the SourceError of what fails every combination alike (see the module doc)."""
    loaded = load(path)
    try:
        unit = check(loaded, {k: str(v) for k, v in defines.items()})
        for p in programs:
            pick_program(unit, p, path)
    except SourceError as e:
        shared = [d for d in e.diagnostics if d.code in ("E013", "E091")]
        if shared:
            err = SourceError(shared)
            err.sources = loaded.sources
            raise err from None


def _first_line(e: SourceError) -> str:
    d = e.diagnostics[0]
    more = len(e.diagnostics) - 1
    return f"error[{d.code}]: {d.message}" + (f" (and {more} more)" if more else "")


def _run_one(path: str, defines: dict[str, int], program: str | None, mode: str) -> Row:
    """One combination: compile, simulate timing-only, and measure (a row)."""
    row: Row = {
        "defines": dict(defines),
        "program": program,
        "mode": mode,
        "ok": False,
        "error": None,
    }
    start = time.perf_counter()
    try:
        c = compile_file(path, {k: str(v) for k, v in defines.items()}, program, mode)
    except SourceError as e:
        row["error"] = _first_line(e)
        return row
    compile_s = time.perf_counter() - start
    img = decode(c.data)
    tl = simulate(img, len(c.data), mode)
    row["program"] = c.checked.name
    if tl.error is not None:
        name, t, detail, _task = tl.error
        row["error"] = f"run-time error {name} at t = {t} ns: {detail}"
        return row
    images = c.checked.consts.get("IMAGES")
    total = tl.t_end + img.target.timing.link_latency_ns
    span = tl.t_end - tl.t0
    row.update(
        ok=True,
        image_bytes=len(c.data),
        compile_s=round(compile_s, 4),
        images=images,
        total_ns=total,
        ns_per_image=total / images if images else None,
        t0_ns=tl.t0,
        t_end_ns=tl.t_end,
        prs=tl.prs,
        pr_ns=tl.pr_ns,
        tasks=tl.tasks,
        slot_busy_ns=list(tl.busy),
        utilisation=sum(tl.busy) / (len(tl.busy) * span) if span else 0.0,
    )
    return row


def explore(
    path: str,
    sweeps: Sequence[dict[str, int]],
    modes: Sequence[str] = ("strict",),
    programs: Sequence[str | None] = (None,),
    jobs: int | None = None,
    progress: Progress | None = None,
) -> list[Row]:
    sweeps = list(sweeps) or [{}]
    for m in modes:
        if m not in MODES:
            raise ExploreError(f"unknown mode `{m}` (modes: {', '.join(MODES)})")
    _precheck(path, sweeps[0], programs)
    work = [(path, d, p, m) for d in sweeps for p in programs for m in modes]
    rows: list[Row | None] = [None] * len(work)
    jobs = min(jobs or os.cpu_count() or 1, len(work))
    if jobs == 1:  # no pool: nothing to gain, and it keeps small sweeps quick
        for i, w in enumerate(work):
            rows[i] = _run_one(*w)
            if progress:
                progress(i + 1, len(work))
        return [r for r in rows if r is not None]
    with ProcessPoolExecutor(jobs) as pool:
        futures = {pool.submit(_run_one, *w): i for i, w in enumerate(work)}
        for done, f in enumerate(as_completed(futures), 1):
            rows[futures[f]] = f.result()
            if progress:
                progress(done, len(work))
    return [r for r in rows if r is not None]  # every one, filled above


def _names(rows: Sequence[Row]) -> list[str]:
    """The consts given with -D, in their order."""
    return list(rows[0]["defines"]) if rows else []


def table(rows: Sequence[Row]) -> str:
    names = _names(rows)
    show_program = len({r["program"] for r in rows if r["program"]}) > 1
    per_image = any(r.get("images") for r in rows)
    head = (
        names
        + (["program"] if show_program else [])
        + ["mode", "total"]
        + (["per image"] if per_image else [])
        + ["PRs", "PR time", "util", "image"]
    )
    lines = []
    for r in rows:
        cells = (
            [f"{r['defines'][n]:,}" for n in names]
            + ([r["program"] or "-"] if show_program else [])
            + [r["mode"]]
        )
        if not r["ok"]:
            lines.append((cells, r["error"]))
            continue
        cells += [format_ns(r["total_ns"])]
        if per_image:
            cells += [format_ns(round(r["ns_per_image"])) if r["ns_per_image"] is not None else "-"]
        cells += [
            f"{r['prs']:,}",
            format_ns(r["pr_ns"]),
            f"{100 * r['utilisation']:.1f}%",
            f"{r['image_bytes']:,} B",
        ]
        lines.append((cells, None))
    width = [len(h) for h in head]
    for cells, _ in lines:
        for i, c in enumerate(cells):
            width[i] = max(width[i], len(c))
    text_cols = len(names) + show_program + 1  # consts, program, mode: left-aligned

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(width[i]) if i < text_cols else c.rjust(width[i]) for i, c in enumerate(cells)
        ).rstrip()

    out = [fmt(head)]
    for cells, err in lines:
        out.append(
            fmt(cells)
            if err is None
            else "  ".join(c.ljust(width[i]) for i, c in enumerate(cells)) + f"  failed: {err}"
        )
    return "\n".join(out) + "\n"


def plot(rows: Sequence[Row], path: str, title: str = "") -> None:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        raise ExploreError(f"--plot writes .png or .svg, not `{path}`")
    ok = [r for r in rows if r["ok"]]
    names = _names(rows)
    if not names:
        raise ExploreError("nothing to plot: sweep a const with -D NAME=V1,V2,...")
    if not ok:
        raise ExploreError("nothing to plot: every combination failed")
    varying = [n for n in names if len({r["defines"][n] for r in rows}) > 1]
    x = (varying or names)[0]
    show_program = len({r["program"] for r in rows if r["program"]}) > 1
    curves: dict[tuple, list[tuple[int, float]]] = {}
    for r in ok:
        others = tuple(f"{n}={r['defines'][n]:,}" for n in varying if n != x)
        key = ((r["program"],) if show_program else ()) + (r["mode"],) + others
        curves.setdefault(key, []).append((r["defines"][x], r["total_ns"] / 1e9))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for key, points in curves.items():
        points.sort()
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker="o",
            markersize=3,
            label=", ".join(key),
        )
    xs = [r["defines"][x] for r in ok]
    ys = [r["total_ns"] for r in ok]
    # A log axis only where the values span decades: a sweep of 1..500 reads best that way.
    if min(xs) > 0 and max(xs) >= 20 * min(xs):
        ax.set_xscale("log")
    if min(ys) > 0 and max(ys) >= 20 * min(ys):
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel("total time (s, simulated)")
    ax.set_title(title)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=ext, dpi=120)
    plt.close(fig)
    write_atomic(path, buf.getvalue())
