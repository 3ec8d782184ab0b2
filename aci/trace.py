"""The canonical trace of a run, and the views made from it.

The canonical trace (docs/trace.md) is JSON lines: one event per line, in issue
order, each written by :func:`dumps` — keys sorted, no spaces, integers only — so the
Python and C interpreters can be compared byte for byte. :class:`JsonlWriter` is a
``trace`` callback for :func:`aci.run.run_image` that writes those lines to a text
stream; :func:`read_jsonl` reads them back.

Derived views, which sort by time and may use floats:

* :func:`to_perfetto` — Chrome / Perfetto trace-event JSON (``{"traceEvents": [...]}``):
  one track per slot and one for the ICAP with an ``X`` (complete) event per task and
  reconfiguration, window instances as async spans on a ``windows`` track, and
  instants for the image, completion and errors; ``ts``/``dur`` in microseconds.
* :func:`write_vcd` — a VCD waveform (pyvcd, timescale 1 ns): per slot the id of the
  core computing (0 when idle) and a reconfiguring flag, and the ICAP's busy flag.

Both take the events as dicts; they raise ``ValueError`` on events that do not pair
up (a ``*_start`` without its ``*_end``), which a trace written by an interpreter
never has.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import IO

from vcd import VCDWriter

__all__ = ["JsonlWriter", "dumps", "read_jsonl", "spans", "to_perfetto", "write_vcd"]


def dumps(event: Mapping) -> str:
    """One event as its canonical line (without the newline)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"))


class JsonlWriter:
    """A trace callback writing canonical lines to a text stream."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.count = 0

    def __call__(self, event: Mapping) -> None:
        self.stream.write(dumps(event) + "\n")
        self.count += 1


def read_jsonl(lines: str | Iterable[str]) -> list[dict]:
    """The events of a canonical trace (a whole text, or its lines)."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def spans(events: Iterable[Mapping]) -> list[dict]:
    """Tasks, reconfigurations and window instances as spans, in the order they end.

    Each span is ``{"kind": "task" | "pr" | "window", "start", "end", "pc"}`` plus
    ``slot`` and ``core`` (tasks and PRs) and ``ports``, ``params`` (tasks). A run
    stopped by an error leaves its window open: that window ends at the error.
    """
    out: list[dict] = []
    pending: dict[tuple, Mapping] = {}
    stopped = None
    for e in events:
        if e["ev"] == "error":
            stopped = e["t"]
        kind, _, edge = e["ev"].partition("_")
        if edge not in ("start", "end") or kind not in ("task", "pr", "window"):
            continue
        key = (kind, e.get("slot"), e["pc"])
        if edge == "start":
            pending[key] = e
            continue
        start = pending.pop(key, None)
        if start is None:
            raise ValueError(f"a {e['ev']} event at t={e['t']} has no {kind}_start")
        span = {"kind": kind, "start": start["t"], "end": e["t"], "pc": e["pc"]}
        for field in ("slot", "core", "ports", "params"):
            if field in start:
                span[field] = start[field]
        out.append(span)
    for (kind, slot, pc), start in pending.items():
        if kind != "window" or stopped is None:
            raise ValueError(f"a {kind}_start event (slot {slot}, pc {pc}) has no {kind}_end")
        out.append({"kind": kind, "start": start["t"], "end": max(stopped, start["t"]), "pc": pc})
    return out


# ---- Perfetto / Chrome trace events -------------------------------------------------

_PID = 1
_ICAP_TID = 1000
_WINDOWS_TID = 1001
_HOST_TID = 1002


def _us(t: int) -> float:
    return t / 1000


def to_perfetto(events: Iterable[Mapping]) -> dict:
    """The trace as Chrome / Perfetto trace-event JSON (load it in ui.perfetto.dev)."""
    events = list(events)
    timed: list[tuple[int, int, dict]] = []  # (t, order among equal times, event)
    slots: set[int] = set()
    for n, s in enumerate(spans(events)):
        common = {"pid": _PID, "ts": _us(s["start"])}
        if s["kind"] == "window":
            name = f"window @{s['pc']}"
            timed.append(
                (
                    s["start"],
                    0,
                    {
                        **common,
                        "ph": "b",
                        "cat": "window",
                        "name": name,
                        "id": n,
                        "tid": _WINDOWS_TID,
                        "args": {"pc": s["pc"]},
                    },
                )
            )
            timed.append(
                (
                    s["end"],
                    0,
                    {
                        "pid": _PID,
                        "ts": _us(s["end"]),
                        "ph": "e",
                        "cat": "window",
                        "name": name,
                        "id": n,
                        "tid": _WINDOWS_TID,
                    },
                )
            )
            continue
        slots.add(s["slot"])
        dur = _us(s["end"] - s["start"])
        if s["kind"] == "task":
            timed.append(
                (
                    s["start"],
                    1,
                    {
                        **common,
                        "ph": "X",
                        "dur": dur,
                        "cat": "task",
                        "name": s["core"],
                        "tid": s["slot"],
                        "args": {"pc": s["pc"], "ports": s["ports"], "params": s["params"]},
                    },
                )
            )
        else:
            timed.append(
                (
                    s["start"],
                    1,
                    {
                        **common,
                        "ph": "X",
                        "dur": dur,
                        "cat": "pr",
                        "name": f"PR {s['core']}",
                        "tid": s["slot"],
                        "args": {"pc": s["pc"]},
                    },
                )
            )
            timed.append(
                (
                    s["start"],
                    1,
                    {
                        **common,
                        "ph": "X",
                        "dur": dur,
                        "cat": "pr",
                        "name": f"slot {s['slot']} <- {s['core']}",
                        "tid": _ICAP_TID,
                        "args": {"pc": s["pc"]},
                    },
                )
            )
    for e in events:
        if e["ev"] in ("image", "done", "error"):
            args = {
                k: e[k] for k in sorted(e) if k not in ("ev", "t")
            }  # key order: the event's, sorted
            name = f"error {e['name']}" if e["ev"] == "error" else e["ev"]
            timed.append(
                (
                    e["t"],
                    2,
                    {
                        "pid": _PID,
                        "tid": _HOST_TID,
                        "ts": _us(e["t"]),
                        "ph": "i",
                        "s": "g",
                        "cat": "host",
                        "name": name,
                        "args": args,
                    },
                )
            )
    tracks = [(s, f"slot {s}") for s in sorted(slots)] + [
        (_ICAP_TID, "ICAP"),
        (_WINDOWS_TID, "windows"),
        (_HOST_TID, "host"),
    ]
    meta = [
        {"pid": _PID, "tid": 0, "ph": "M", "name": "process_name", "args": {"name": "ACI board"}}
    ]
    for order, (tid, name) in enumerate(tracks):
        meta.append(
            {"pid": _PID, "tid": tid, "ph": "M", "name": "thread_name", "args": {"name": name}}
        )
        meta.append(
            {
                "pid": _PID,
                "tid": tid,
                "ph": "M",
                "name": "thread_sort_index",
                "args": {"sort_index": order},
            }
        )
    timed.sort(key=lambda x: (x[0], x[1]))  # stable: issue order among equal keys
    return {"traceEvents": meta + [e for _, _, e in timed], "displayTimeUnit": "ns"}


# ---- VCD -----------------------------------------------------------------------


def write_vcd(
    events: Iterable[Mapping],
    stream: IO[str],
    core_ids: Mapping[str, int] | None = None,
    slots: int | None = None,
) -> None:
    """Write the trace as a VCD waveform.

    Signals (scope ``aci``): ``slotN`` (8 bits) is the id of the core computing a task
    on slot N, 0 when the slot is idle or being reconfigured; ``slotN_pr`` is 1 while
    slot N is reconfigured; ``icap`` is 1 while the configuration port is busy.
    ``core_ids`` maps core names to ids (the image's CORES); without it, cores are
    numbered 1, 2, ... in order of first appearance. ``slots`` defaults to the
    highest slot in the trace plus one.
    """
    events = list(events)
    ids = dict(core_ids or {})
    all_spans = [s for s in spans(events) if s["kind"] != "window"]
    for s in all_spans:
        if s["core"] not in ids:
            ids[s["core"]] = len(ids) + 1
    count = slots if slots is not None else 1 + max((s["slot"] for s in all_spans), default=0)
    # Changes per time: ends first, then starts, so back-to-back operations leave no
    # spurious 0 and each signal gets one value per timestamp.
    changes: dict[int, list[tuple[int, str, int, int]]] = {}
    for s in all_spans:
        sig, on = ("core", ids[s["core"]]) if s["kind"] == "task" else ("pr", 1)
        changes.setdefault(s["start"], []).append((1, sig, s["slot"], on))
        changes.setdefault(s["end"], []).append((0, sig, s["slot"], 0))
        if s["kind"] == "pr":
            changes[s["start"]].append((1, "icap", 0, 1))
            changes[s["end"]].append((0, "icap", 0, 0))
    final = max((e["t"] for e in events), default=0)
    with VCDWriter(stream, timescale="1 ns", date="simulated", version="acic run") as w:
        core = [w.register_var("aci", f"slot{n}", "reg", size=8, init=0) for n in range(count)]
        pr = [w.register_var("aci", f"slot{n}_pr", "wire", size=1, init=0) for n in range(count)]
        icap = w.register_var("aci", "icap", "wire", size=1, init=0)
        for t in sorted(changes):
            values: dict = {}
            for _, sig, slot, value in sorted(changes[t], key=lambda c: c[0]):
                var = core[slot] if sig == "core" else pr[slot] if sig == "pr" else icap
                values[var] = value
            for var, value in values.items():
                w.change(var, t, value)
        w.close(final)
