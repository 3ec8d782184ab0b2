"""The machine's timing: the discrete-event simulation of docs/execution.md.

``simulate(img, image_bytes, mode, emit=None, no_model=None, params=None) -> Timeline``

In: a decoded (valid) Image, its size, ``"strict"`` or ``"dataflow"``, an optional
``emit(event_dict)`` for trace events (written in time order, exactly the canonical
trace's lines after ``image`` and before ``done``; ``params(task)`` gives the
parameter words a ``task_start`` shows), and an optional ``no_model(task) -> str |
None`` naming why a simulator cannot run a task functionally (a ``no_model`` error).
``wrong_core`` and ``watchdog`` are the machine's own checks.

Out: a :class:`Timeline`: t0, t_end, per-slot busy and reconfiguring time and
completed operations, PR count and time, tasks completed, and the run-time error
that stopped the run (if any). Raises nothing on a valid image.

Slots run their operations in program order; the ICAP serves ready RECONFs in
program order; strict mode adds the window, parsec and thread barriers, dataflow the
WAITs. Operations are generated once, in program order, into per-slot queues.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import attrs

from . import timing
from .format import ERROR_BY_NAME, message
from .image import Image, Repeat, Task, Window

PR, TASK, SKIP = 0, 1, 2


@attrs.frozen
class Timeline:
    t0: int
    t_end: int
    busy: tuple[int, ...]
    reconfiguring: tuple[int, ...]
    done: tuple[int, ...]  # operations completed per slot (SYNC slot_doneN)
    prs: int
    pr_ns: int
    tasks: int
    error: tuple | None  # (name, t, detail, task) of a run-time error


class _Op:
    __slots__ = ("p", "slot", "kind", "dur", "pc", "core", "name", "needs", "window", "parsec", "thread",
                 "nth", "task", "idx", "held", "end")

    def __init__(self, p, slot, kind, dur, pc, core, name, needs, window, parsec, thread, nth, task, idx, held):
        self.p, self.slot, self.kind, self.dur, self.pc = p, slot, kind, dur, pc
        self.core, self.name, self.needs = core, name, needs
        self.window, self.parsec, self.thread, self.nth = window, parsec, thread, nth
        self.task, self.idx, self.held = task, idx, held  # held: the core the slot holds by then


class _Window:
    """A window instance: its pc, its operations left, and per parsec what is left."""
    __slots__ = ("pc", "left", "reconfs_left", "parsec_left", "begin", "started")

    def __init__(self, pc: int):
        self.pc, self.left, self.reconfs_left, self.parsec_left = pc, 0, 0, []
        self.begin = None
        self.started = False


def _generate(img: Image, strict: bool, want_ports: bool):
    """Every operation in program order, with what it waits for; and the window instances."""
    tm = img.target.timing
    cores = {c.id: c for c in img.cores}
    pr_dur = {c.id: timing.pr_ns(tm, c.bitstream_size) for c in img.cores}
    slots = img.target.slots
    before = [0] * slots
    queues = [deque() for _ in range(slots)]
    windows: list[_Window] = []
    durs: dict[int, int] = {}
    idx: list[int] = []
    holds: list[int | None] = [None] * slots  # the core each slot holds, in its own order
    p = 0

    def task_dur(t: Task) -> int:
        d = durs.get(id(t))  # by instruction: images built in memory have no offsets
        if d is None:
            c = cores[t.core]
            i, o = timing.port_bytes([x.length for x in t.ports], c.port_dirs)
            d = durs[id(t)] = timing.task_ns(tm, t.param_words, t.cycles, i, o)
        return d

    def add(op: _Op, w: _Window):
        nonlocal p
        queues[op.slot].append(op)
        before[op.slot] += 1
        w.left += 1
        p += 1

    def body(nodes, w: _Window, parsec: int, thread: int, nth: list):
        for n in nodes:
            if isinstance(n, Task):
                if strict:
                    needs = ()
                else:
                    needs = tuple((x.slot, before[x.slot] - x.lag) for x in n.waits
                                  if before[x.slot] - x.lag > 0 and x.slot != n.slot)
                add(_Op(p, n.slot, TASK, task_dur(n), n.offset, n.core, cores[n.core].name, needs, w, parsec,
                        thread, nth[0], n, tuple(idx) if want_ports else None, holds[n.slot]), w)
                nth[0] += 1
                if strict:
                    w.parsec_left[parsec] += 1
            else:
                idx.append(0)
                for i in range(n.count):
                    idx[-1] = i
                    body(n.body, w, parsec, thread, nth)
                idx.pop()

    def window(node: Window):
        w = _Window(node.offset)
        windows.append(w)
        for r in node.reconfs:
            kind = SKIP if holds[r.slot] == r.core else PR
            holds[r.slot] = r.core
            add(_Op(p, r.slot, kind, pr_dur[r.core], r.offset, r.core, cores[r.core].name, (), w, -1, -1, 0,
                    None, None, None), w)
            w.reconfs_left += 1
        thread_id = 0
        for j, par in enumerate(node.parsecs):
            w.parsec_left.append(0)
            for th in par.threads:
                body(th.body, w, j, thread_id, [0])
                thread_id += 1

    for node in img.body:
        if isinstance(node, Repeat):
            idx.append(0)
            for i in range(node.count):
                idx[-1] = i
                for w in node.windows:
                    window(w)
            idx.pop()
        else:
            window(node)
    return queues, windows


def simulate(img: Image, image_bytes: int, mode: str, emit: Callable[[dict], None] | None = None,
             no_model: Callable | None = None, params: Callable | None = None) -> Timeline:
    tm = img.target.timing
    t0 = timing.image_transfer_ns(tm, image_bytes)
    strict = mode == "strict"
    slots = img.target.slots
    queues, windows = _generate(img, strict, emit is not None)
    done = [0] * slots
    busy = [0] * slots
    reconf = [0] * slots
    running: list[_Op | None] = [None] * slots
    icap_free = True
    prs = pr_ns = tasks = 0
    t = t_end = t0
    thread_done: dict[tuple[int, int], int] = {}  # (window instance, thread) -> ops completed
    cur = 0  # strict: the window instance that may run
    error = None
    pending = None  # the error event, written once time reaches it
    watchdog = tm.watchdog_ns

    def verdict(op: _Op):
        """(name, t, detail) of a run-time error if this task cannot start now."""
        if op.held != op.core:
            if op.held is None:
                return "wrong_core", t, message("wrong_core_empty", core=op.name, slot=op.slot)
            return "wrong_core", t, message("wrong_core", core=op.name, slot=op.slot, held=img.core(op.held).name,
                                            held_id=op.held)
        if watchdog and op.dur > watchdog:
            return "watchdog", t + watchdog, message("watchdog", duration_ns=op.dur, watchdog_ns=watchdog)
        why = no_model(op.task) if no_model else None
        if why:
            return "no_model", t, why
        return None

    def address(port, op) -> int:
        return port.address + sum(s * i for s, i in zip(port.strides, op.idx))

    def begin_windows():
        """Strict: open the current window (and close empty ones) at time t."""
        nonlocal cur
        while cur < len(windows):
            w = windows[cur]
            if w.begin is None:
                w.begin = t
                if emit:
                    emit({"ev": "window_start", "t": t, "pc": w.pc})
            if w.left:
                return
            if emit:
                emit({"ev": "window_end", "t": t, "pc": w.pc})
            cur += 1

    def ready(op: _Op) -> bool:
        if strict:
            w = op.window
            if w is not windows[cur] if cur < len(windows) else True:
                return False
            if op.kind != TASK:
                return True
            if w.reconfs_left or any(w.parsec_left[j] for j in range(op.parsec)):
                return False
            return thread_done.get((id(w), op.thread), 0) == op.nth
        for s, need in op.needs:
            if done[s] < need:
                return False
        return True

    if strict:
        begin_windows()
    while True:
        # start what can start now, smallest program index first
        while error is None:
            best = None
            for s in range(slots):
                if running[s] is None and queues[s]:
                    op = queues[s][0]
                    if op.kind == PR and not icap_free:
                        continue
                    if (best is None or op.p < best.p) and ready(op):
                        best = op
            if best is None:
                break
            s = best.slot
            queues[s].popleft()
            if best.kind == SKIP:
                _complete(best, done, thread_done, strict)
                t_end = max(t_end, t)
                if strict:
                    begin_windows()
                continue
            if best.kind == TASK:
                bad = verdict(best)
                if bad is not None:
                    error = bad + (best.task,)
                    pending = {"ev": "error", "t": bad[1], "code": ERROR_BY_NAME[bad[0]].code, "name": bad[0],
                               "pc": best.pc}
                    break
                busy[s] += best.dur
                if emit:
                    emit({"ev": "task_start", "t": t, "slot": s, "core": best.name, "pc": best.pc,
                          "ports": [[address(x, best), x.length] for x in best.task.ports],
                          "params": list(params(best.task))})
            else:
                icap_free = False
                prs += 1
                pr_ns += best.dur
                reconf[s] += best.dur
                if emit:
                    emit({"ev": "pr_start", "t": t, "slot": s, "core": best.name, "pc": best.pc})
            best.end = t + best.dur
            running[s] = best
        active = [op for op in running if op is not None]
        if pending is not None and (not active or min(op.end for op in active) > pending["t"]):
            if emit:
                emit(pending)
            pending = None
        if not active:
            break
        t = min(op.end for op in active)
        for op in sorted((op for op in active if op.end == t), key=lambda o: o.p):
            running[op.slot] = None
            if op.kind == PR:
                icap_free = True
            else:
                tasks += 1
            if emit:
                emit({"ev": "pr_end" if op.kind == PR else "task_end", "t": t, "slot": op.slot, "core": op.name,
                      "pc": op.pc})
            _complete(op, done, thread_done, strict)
            t_end = t
        if strict and error is None:
            begin_windows()
    return Timeline(t0, t_end, tuple(busy), tuple(reconf), tuple(done), prs, pr_ns, tasks, error)


def _complete(op: _Op, done: list[int], thread_done: dict, strict: bool) -> None:
    done[op.slot] += 1
    w = op.window
    w.left -= 1
    if op.kind == TASK:
        if strict:
            w.parsec_left[op.parsec] -= 1
            key = (id(w), op.thread)
            thread_done[key] = thread_done.get(key, 0) + 1
    else:
        w.reconfs_left -= 1
