"""Schedule reports: what ``acic schedule`` prints, from a timing-only run.

``build(image, run, events)`` takes a decoded Image, its RunResult and the trace
events of the run and returns a JSON-ready dict: total time, PR count and time,
per-slot busy / reconfiguring / idle time, per window (grouped by the window
instruction; in strict mode also per instance) the PRs and the threads with their
slots and spans, the critical path and the lower bound of the issue's definition.
``text(report)`` renders it for people; ``gantt(report, events, path)`` draws slots
against time with matplotlib.
"""

from __future__ import annotations

from collections import defaultdict

from . import timing, trace
from .image import Image, Loop, Reconf, Repeat, Task, Thread, Window, children
from .overlap import LastAccess


def _owners(img: Image) -> dict[int, tuple[int, int]]:
    """pc of every RECONF/TASK -> (pc of its window, pc of its thread or -1)."""
    out = {}

    def walk(node, window, thread):
        if isinstance(node, (Task, Reconf)):
            out[node.offset] = (window, thread)
            return
        if isinstance(node, Window):
            window = node.offset
        if isinstance(node, Thread):
            thread = node.offset
        for k in children(node):
            walk(k, window, thread)

    for n in img.body:
        walk(n, -1, -1)
    return out


def _ops(img: Image):
    """Every operation in program order: (kind, slot, duration, waits, pc)."""
    tm = img.target.timing
    cores = {c.id: c for c in img.cores}

    def walk(node):
        if isinstance(node, Reconf):
            yield (
                "pr",
                node.slot,
                timing.pr_ns(tm, cores[node.core].bitstream_size),
                (),
                node.offset,
                node.core,
            )
        elif isinstance(node, Task):
            i, o = timing.port_bytes([p.length for p in node.ports], cores[node.core].port_dirs)
            yield (
                "task",
                node.slot,
                timing.task_ns(tm, node.param_words, node.cycles, i, o),
                node.waits,
                node.offset,
                node.core,
            )
        elif isinstance(node, (Loop, Repeat)):
            kids = children(node)
            for _ in range(node.count):
                for k in kids:
                    yield from walk(k)
        else:
            for k in children(node):
                yield from walk(k)

    for n in img.body:
        yield from walk(n)


def lower_bound(img: Image) -> dict:
    """A time (from t0) that no run of this image's work can beat, whatever the mapping
    of its tasks to slots, its PR requests and the order of its work: the largest of

    - the slots' work: every task's duration plus one PR of every core the tasks use
      (slots start empty, so any mapping loads each core at least once), over the
      slots;
    - the configuration port: those PRs, one after another;
    - the longest chain: tasks that read what an earlier task wrote (the last writer
      of some byte they read: true dependencies, which no renaming removes) run one
      after the other, the first after a PR of its core.

    ``mapping`` holds :func:`mapping_bound`, the bound for the image's own mapping."""
    tm = img.target.timing
    pr = {c.id: timing.pr_ns(tm, c.bitstream_size) for c in img.cores}
    used: set[int] = set()
    work = longest = 0
    writers = (
        LastAccess()
    )  # (lo, hi) written -> [program position of the last writer, its chain end]
    seq = 0
    for core, dur, ports in _task_instances(img):
        used.add(core)
        work += dur
        start = pr[core]
        for lo, hi, out in ports:
            if out:
                continue
            last = max(writers.overlapping(lo, hi), default=None)  # the latest writer meeting it
            if last is not None and last[1] > start:
                start = last[1]
        end = start + dur
        longest = max(longest, end)
        for lo, hi, out in ports:
            if out:
                st = writers.get((lo, hi))
                if st is None:
                    writers.add((lo, hi), [seq, end])
                else:
                    st[0], st[1] = seq, end
        seq += 1
    icap = sum(pr[c] for c in used)
    spread = -(-(work + icap) // img.target.slots)
    return {
        "work_over_slots_ns": spread,
        "icap_busy_ns": icap,
        "longest_chain_ns": longest,
        "bound_ns": max(spread, icap, longest),
        "cores": len(used),
        "mapping": mapping_bound(img),
    }


def _task_instances(img: Image):
    """Every task instance in program order: (core id, duration, [(lo, hi, is output)])."""
    tm = img.target.timing
    cores = {c.id: c for c in img.cores}
    durs: dict[int, int] = {}
    idx: list[int] = []

    def walk(node):
        if isinstance(node, Task):
            d = durs.get(id(node))
            c = cores[node.core]
            if d is None:
                i, o = timing.port_bytes([p.length for p in node.ports], c.port_dirs)
                d = durs[id(node)] = timing.task_ns(tm, node.param_words, node.cycles, i, o)
            ports = []
            for p, direction in zip(node.ports, c.port_dirs, strict=True):
                lo = p.address + sum(s * i for s, i in zip(p.strides, idx, strict=True))
                ports.append((lo, lo + p.length, direction == "out"))
            yield node.core, d, ports
        elif isinstance(node, (Loop, Repeat)):
            kids = children(node)
            idx.append(0)
            for i in range(node.count):
                idx[-1] = i
                for k in kids:
                    yield from walk(k)
            idx.pop()
        elif not isinstance(node, Reconf):
            for k in children(node):
                yield from walk(k)

    for n in img.body:
        yield from walk(n)


def mapping_bound(img: Image) -> dict:
    """The bound for this image's own mapping and PR requests: the largest of all
    work (tasks and performed RECONFs) over the slots, the ICAP's busy time, the
    longest chain of dependent work (dataflow waits, and each task after the RECONF
    that loads its slot; resources ignored). Skipped RECONFs count as no work."""
    slots = img.target.slots
    held: dict[int, int] = {}
    work = icap = 0
    ends: list[list[int]] = [[] for _ in range(slots)]  # chain ends of each slot's operations
    loaded = [0] * slots  # chain end of the RECONF that loaded each slot
    longest = 0
    for kind, slot, dur, waits, _pc, core in _ops(img):
        if kind == "pr":
            if held.get(slot) == core:
                ends[slot].append(loaded[slot])
                continue
            held[slot] = core
            work += dur
            icap += dur
            loaded[slot] = dur
            ends[slot].append(dur)
        else:
            start = loaded[slot]
            for w in waits:
                k = len(ends[w.slot]) - w.lag - 1
                if k >= 0:
                    start = max(start, ends[w.slot][k])
            end = start + dur
            work += dur
            ends[slot].append(end)
            longest = max(longest, end)
    spread = -(-work // slots)
    bound = max(spread, icap, longest)
    return {
        "work_over_slots_ns": spread,
        "icap_busy_ns": icap,
        "longest_chain_ns": longest,
        "bound_ns": bound,
    }


def _operations(events: list[dict]) -> list[dict]:
    """Tasks and performed PRs as spans (the trace's starts paired with their ends)."""
    return [op for op in trace.spans(events) if op["kind"] in ("task", "pr")]


def _critical_path(events: list[dict]) -> list[dict]:
    """Walk back from the last completion: each step takes the operation that ended
    exactly when this one started, preferring the same slot, then the ICAP."""
    spans = _operations(events)
    if not spans:
        return []
    by_end = defaultdict(list)
    for s in spans:
        by_end[s["end"]].append(s)
    cur = max(spans, key=lambda s: (s["end"], s["start"]))
    path = [cur]
    while True:
        cands = by_end.get(cur["start"], [])
        if not cands:
            break
        same = [c for c in cands if c["slot"] == cur["slot"]]
        icap = [c for c in cands if c["kind"] == "pr"] if cur["kind"] == "pr" else []
        cur = (same or icap or cands)[-1]
        path.append(cur)
        if len(path) > 1_000_000:
            break
    path.reverse()
    return path


def build(img: Image, run, events: list[dict]) -> dict:
    owners = _owners(img)
    windows: dict[int, dict] = {}
    for e in events:
        ev = e.get("ev")
        if ev not in ("task_start", "task_end", "pr_start", "pr_end"):
            continue
        wpc, tpc = owners.get(e["pc"], (-1, -1))
        w = windows.setdefault(
            wpc,
            {
                "pc": wpc,
                "prs": 0,
                "pr_ns": 0,
                "tasks": 0,
                "start": None,
                "end": None,
                "threads": {},
                "first_prs": [],
            },
        )
        t = e["t"]
        if ev.endswith("_start"):
            w["start"] = t if w["start"] is None else min(w["start"], t)
        else:
            w["end"] = t if w["end"] is None else max(w["end"], t)
        if ev == "pr_start":
            w["prs"] += 1
            if len(w["first_prs"]) < 16:
                w["first_prs"].append({"slot": e["slot"], "core": e["core"], "start": t})
        elif ev == "pr_end":
            for p in w["first_prs"]:
                if p["slot"] == e["slot"] and "end" not in p:
                    p["end"] = t
                    w["pr_ns"] += t - p["start"]
                    break
        elif ev.startswith("task"):
            th = w["threads"].setdefault(
                tpc, {"pc": tpc, "slots": set(), "start": None, "end": None, "tasks": 0}
            )
            th["slots"].add(e["slot"])
            if ev == "task_start":
                w["tasks"] += 1
                th["tasks"] += 1
                th["start"] = t if th["start"] is None else min(th["start"], t)
            else:
                th["end"] = t if th["end"] is None else max(th["end"], t)
    for w in windows.values():
        w["threads"] = [dict(th, slots=sorted(th["slots"])) for th in w["threads"].values()]
    instances = [{"pc": e["pc"], "start": e["t"]} for e in events if e.get("ev") == "window_start"]
    ends = [e["t"] for e in events if e.get("ev") == "window_end"]
    # a run that stopped inside a window has no end for that window's start
    for inst, end in zip(instances, ends, strict=False):
        inst["end"] = end
    path = _critical_path(events)
    path_summary: defaultdict[str, dict[str, int]] = defaultdict(lambda: {"count": 0, "ns": 0})
    for s in path:
        k = f"{s['kind']} {s['core']}"
        path_summary[k]["count"] += 1
        path_summary[k]["ns"] += s["end"] - s["start"]
    bound = lower_bound(img)
    return {
        "mode": run.mode,
        "total_ns": run.total_ns,
        "t0": run.t0,
        "t_end": run.t_end,
        "pr_count": run.pr_count,
        "pr_ns": run.pr_ns,
        "tasks": run.tasks,
        "slots": [
            {
                "slot": s,
                "busy_ns": u.busy_ns,
                "reconfiguring_ns": u.reconfiguring_ns,
                "idle_ns": u.idle_ns,
            }
            for s, u in enumerate(run.slots)
        ],
        "windows": sorted(windows.values(), key=lambda w: w["pc"]),
        "window_instances": instances,
        "critical_path": {
            "operations": len(path),
            "ns": sum(s["end"] - s["start"] for s in path),
            "by_kind": dict(path_summary),
            "first": path[:10],
            "last": path[-10:],
        },
        "lower_bound": bound,
        "error": None
        if run.error is None
        else {"code": run.error.code, "name": run.error.name, "offset": run.error.offset},
    }


def fmt_ns(ns: int) -> str:
    for unit, scale in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if abs(ns) >= scale:
            return f"{ns / scale:.3f} {unit}"
    return f"{ns} ns"


def text(r: dict, max_windows: int = 12) -> str:
    out = [
        f"mode {r['mode']}: total {fmt_ns(r['total_ns'])} ({r['total_ns']} ns), "
        f"{r['tasks']} tasks, {r['pr_count']} PRs taking {fmt_ns(r['pr_ns'])}"
    ]
    lb = r["lower_bound"]
    ran = r["t_end"] - r["t0"]
    out.append(
        f"lower bound, any mapping {fmt_ns(lb['bound_ns'])} (work and {lb['cores']} PRs/slots "
        f"{fmt_ns(lb['work_over_slots_ns'])}, ICAP {fmt_ns(lb['icap_busy_ns'])}, chain "
        f"{fmt_ns(lb['longest_chain_ns'])}); run/bound {ran and ran / max(lb['bound_ns'], 1):.3f}"
    )
    mb = lb["mapping"]
    out.append(
        f"lower bound, this mapping {fmt_ns(mb['bound_ns'])} (work/slots {fmt_ns(mb['work_over_slots_ns'])}, "
        f"ICAP {fmt_ns(mb['icap_busy_ns'])}, chain {fmt_ns(mb['longest_chain_ns'])}); "
        f"run/bound {ran and ran / max(mb['bound_ns'], 1):.3f}"
    )
    out.append("")
    out.append("slot  busy            reconfiguring   idle")
    for s in r["slots"]:
        out.append(
            f"{s['slot']:>4}  {fmt_ns(s['busy_ns']):<15} {fmt_ns(s['reconfiguring_ns']):<15} {fmt_ns(s['idle_ns'])}"
        )
    out.append("")
    for w in r["windows"][:max_windows]:
        span = f"{fmt_ns(w['start'] or 0)} .. {fmt_ns(w['end'] or 0)}"
        out.append(
            f"window @0x{w['pc']:x}: {span}, {w['prs']} PRs ({fmt_ns(w['pr_ns'])} in the first {len(w['first_prs'])}), "
            f"{w['tasks']} tasks"
        )
        for p in w["first_prs"][:8]:
            out.append(
                f"    PR slot {p['slot']} <- {p['core']}: {fmt_ns(p['start'])} .. {fmt_ns(p.get('end', p['start']))}"
            )
        for th in w["threads"]:
            out.append(
                f"    thread @0x{th['pc']:x} on slot {','.join(map(str, th['slots']))}: "
                f"{th['tasks']} tasks, {fmt_ns(th['start'] or 0)} .. {fmt_ns(th['end'] or 0)}"
            )
    if len(r["windows"]) > max_windows:
        out.append(f"... {len(r['windows']) - max_windows} more windows (--json has them all)")
    cp = r["critical_path"]
    out.append("")
    out.append(f"critical path: {cp['operations']} operations, {fmt_ns(cp['ns'])} of work")
    for k, v in sorted(cp["by_kind"].items(), key=lambda kv: -kv[1]["ns"]):
        out.append(f"    {k}: {v['count']} x, {fmt_ns(v['ns'])}")
    if r["error"]:
        out.append(
            f"error: {r['error']['name']} (code {r['error']['code']}) at offset {r['error']['offset']}"
        )
    return "\n".join(out) + "\n"


def gantt(events: list[dict], slots: int, path: str, title: str = "") -> None:
    """Slots (and the ICAP) against time; PRs hatched, tasks coloured by core;
    window boundaries (strict mode) as vertical lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    bars = defaultdict(list)  # (row, core, kind) -> [(start, width)]
    for op in _operations(events):
        span = (op["start"] / 1e6, (op["end"] - op["start"]) / 1e6)
        bars[(op["slot"], op["core"], op["kind"])].append(span)
        if op["kind"] == "pr":
            bars[(slots, op["core"], "pr")].append(span)
    cores = sorted({k[1] for k in bars})
    colours = {c: plt.cm.tab10(i % 10) for i, c in enumerate(cores)}
    fig, ax = plt.subplots(figsize=(12, 1 + 0.6 * (slots + 1)))
    for (row, core, kind), spans in bars.items():
        ax.broken_barh(
            spans,
            (row - 0.4, 0.8),
            facecolors=colours[core],
            hatch="///" if kind == "pr" else None,
            edgecolor="black" if kind == "pr" else "none",
            linewidth=0.3,
        )
    for e in events:
        if e.get("ev") == "window_start":
            ax.axvline(e["t"] / 1e6, color="grey", linewidth=0.4, linestyle=":")
    ax.set_yticks(range(slots + 1), [f"slot {s}" for s in range(slots)] + ["ICAP"])
    ax.set_xlabel("simulated time (ms)")
    ax.set_title(title)
    handles = [Patch(facecolor=colours[c], label=c) for c in cores] + [
        Patch(facecolor="white", hatch="///", edgecolor="black", label="PR")
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
