"""The schedule's safety property, checked on a run's trace: every two task instances
on different slots that touch the same bytes, one of them writing, ran one after the
other in program order. Shared by the scheduler's, pipelining's and the free
mappings' property tests."""

from __future__ import annotations

from aci.image import Task, children


def task_instances(img) -> list[tuple]:
    """Task instances of an image in program order: (slot, ranges [(lo, hi, is_write)])."""
    out = []

    def walk(n, idx):
        if isinstance(n, Task):
            regs = []
            for p, d in zip(n.ports, ("in", "out"), strict=True):
                lo = p.address + sum(s * i for s, i in zip(p.strides, idx, strict=True))
                regs.append((lo, lo + p.length, d == "out"))
            out.append((n.slot, regs))
        elif type(n).__name__ in ("Loop", "Repeat"):
            for i in range(n.count):
                for k in children(n):
                    walk(k, idx + (i,))
        else:
            for k in children(n):
                walk(k, idx)

    for n in img.body:
        walk(n, ())
    return out


def task_times(inst: list[tuple], events: list) -> dict[int, list]:
    """Each instance's [start, end] from a trace. A slot runs one operation at a time,
    in program order: its k-th task_start is its k-th task instance, and its next
    task_end closes it."""
    per_slot: dict[int, list[int]] = {}
    for k, (slot, _) in enumerate(inst):
        per_slot.setdefault(slot, []).append(k)
    times: dict[int, list] = {}
    seen: dict[int, int] = {}
    running: dict[int, int] = {}
    for e in events:
        if e["ev"] == "task_start":
            n = seen.get(e["slot"], 0)
            seen[e["slot"]] = n + 1
            running[e["slot"]] = per_slot[e["slot"]][n]
            times[running[e["slot"]]] = [e["t"], None]
        elif e["ev"] == "task_end":
            times[running.pop(e["slot"])][1] = e["t"]
    return times


def assert_conflicts_ordered(inst: list[tuple], times: dict[int, list], *context) -> None:
    """Every conflicting pair on different slots ran in program order; a failure
    names the pair (and ``context``)."""
    for y in range(len(inst)):
        for x in range(y):
            if inst[x][0] == inst[y][0]:
                continue
            if any(
                a_lo < b_hi and b_lo < a_hi and (aw or bw)
                for a_lo, a_hi, aw in inst[x][1]
                for b_lo, b_hi, bw in inst[y][1]
            ):
                assert times[x][1] <= times[y][0], (x, y, *context)
