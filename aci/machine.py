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

from collections.abc import Callable, Iterator

from . import record, timing
from .format import ERROR_BY_NAME, message
from .image import Image, Repeat, Task, Window

PR, TASK, SKIP = 0, 1, 2


@record.frozen
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
    __slots__ = (
        "p",
        "slot",
        "kind",
        "dur",
        "pc",
        "core",
        "name",
        "needs",
        "window",
        "parsec",
        "thread",
        "nth",
        "task",
        "idx",
        "held",
        "end",
    )
    window: _Window | None  # strict: its window instance
    end: int  # set when it starts

    def __init__(
        self,
        p,
        slot,
        kind,
        dur,
        pc,
        core,
        name,
        needs,
        window,
        parsec,
        thread,
        nth,
        task,
        idx,
        held,
    ):
        self.p, self.slot, self.kind, self.dur, self.pc = p, slot, kind, dur, pc
        self.core, self.name, self.needs = core, name, needs
        self.window, self.parsec, self.thread, self.nth = window, parsec, thread, nth
        self.task, self.idx, self.held = task, idx, held  # held: the core the slot holds by then


class _Window:
    """A window instance (strict mode): its pc and what of it is left to complete."""

    __slots__ = ("pc", "left", "reconfs_left", "parsec_left", "thread_done", "begin")

    def __init__(self, node: Window, counts: "_Counts"):
        self.pc = node.offset
        self.reconfs_left = len(node.reconfs)
        self.parsec_left = [counts.total(par) for par in node.parsecs]
        self.left = self.reconfs_left + sum(self.parsec_left)
        self.thread_done: dict[int, int] = {}  # thread -> operations completed
        self.begin = None


class _Counts:
    """Operations per slot of every node of the image (loops and repeats multiplied
    out), computed once: a walk skips a subtree with no operation on its slot in one
    step, so simulating costs what runs, not what is declared."""

    def __init__(self, img: Image):
        self.slots = img.target.slots
        self.of: dict[int, tuple[int, ...]] = {}
        for node in img.body:
            self.count(node)

    def count(self, node) -> tuple[int, ...]:
        c = self.of.get(id(node))
        if c is not None:
            return c
        v = [0] * self.slots
        if isinstance(node, Task):
            v[node.slot] = 1
        elif isinstance(node, Window):
            for r in node.reconfs:
                v[r.slot] += 1
            for par in node.parsecs:
                self._add(v, self.count(par))
        else:  # Loop, Repeat, Parsec, Thread
            n = getattr(node, "count", 1)
            for child in _children(node):
                self._add(v, self.count(child), n)
        c = self.of[id(node)] = tuple(v)
        return c

    @staticmethod
    def _add(v: list[int], c: tuple[int, ...], n: int = 1) -> None:
        for s, k in enumerate(c):
            v[s] += n * k

    def total(self, node) -> int:
        return sum(self.of[id(node)])


def _children(node) -> tuple:
    if isinstance(node, Repeat):
        return node.windows
    if hasattr(node, "threads"):
        return node.threads
    return node.body


class _Walk:
    """The operations of one slot, in program order, generated as the machine asks for
    them: each carries its program index, what it waits for and, in strict mode, its
    window instance, parsec, thread and place in the thread."""

    def __init__(self, sim: "_Program", slot: int):
        self.sim, self.slot = sim, slot
        self.p = 0  # program index of the next operation, all slots counted
        self.before = [0] * sim.slots  # operations of each slot before that point
        self.inst = 0  # window instance number
        self.held: int | None = None  # the core the slot holds, in its own order
        self.idx: list[int] = []
        self.ops = self._program()

    def _skip(self, node, times: int = 1) -> None:
        c = self.sim.counts.count(node)
        self.p += times * sum(c)
        for s, k in enumerate(c):
            self.before[s] += times * k

    def _program(self):
        s, counts = self.slot, self.sim.counts
        for node in self.sim.img.body:
            if isinstance(node, Window):
                if counts.count(node)[s]:
                    yield from self._window(node)
                else:
                    self._skip(node)
                self.inst += 1
                continue
            if not counts.count(node)[s]:
                self._skip(node)
                self.inst += node.count * len(node.windows)
                continue
            self.idx.append(0)
            for i in range(node.count):
                self.idx[-1] = i
                for w in node.windows:
                    if counts.count(w)[s]:
                        yield from self._window(w)
                    else:
                        self._skip(w)
                    self.inst += 1
            self.idx.pop()

    def _window(self, node: Window):
        sim, s = self.sim, self.slot
        w = sim.window(self.inst, node) if sim.strict else None
        for r in node.reconfs:
            if r.slot == s:
                kind = SKIP if self.held == r.core else PR
                self.held = r.core
                yield _Op(
                    self.p,
                    s,
                    kind,
                    sim.pr_dur[r.core],
                    r.offset,
                    r.core,
                    sim.names[r.core],
                    (),
                    w,
                    -1,
                    -1,
                    0,
                    None,
                    None,
                    None,
                )
            self.p += 1
            self.before[r.slot] += 1
        thread_id = 0
        for j, par in enumerate(node.parsecs):
            for th in par.threads:
                if sim.counts.count(th)[s]:
                    yield from self._body(th.body, w, j, thread_id, self.p)
                else:
                    self._skip(th)
                thread_id += 1

    def _body(self, nodes, w, parsec: int, thread: int, first: int):
        sim, s = self.sim, self.slot
        for n in nodes:
            if isinstance(n, Task):
                if n.slot != s:
                    self._skip(n)
                    continue
                before = self.before
                needs = (
                    ()
                    if sim.strict
                    else tuple(
                        (x.slot, before[x.slot] - x.lag)
                        for x in n.waits
                        if before[x.slot] - x.lag > 0 and x.slot != s
                    )
                )
                yield _Op(
                    self.p,
                    s,
                    TASK,
                    sim.task_dur(n),
                    n.offset,
                    n.core,
                    sim.names[n.core],
                    needs,
                    w,
                    parsec,
                    thread,
                    self.p - first,
                    n,
                    tuple(self.idx) if sim.want_ports else None,
                    self.held,
                )
                self.p += 1
                before[s] += 1
            elif sim.counts.count(n)[s]:
                self.idx.append(0)
                for i in range(n.count):
                    self.idx[-1] = i
                    yield from self._body(n.body, w, parsec, thread, first)
                self.idx.pop()
            else:
                self._skip(n)


class _Program:
    """What the simulation needs of the image, computed once; operations come from one
    :class:`_Walk` per slot, window instances (strict) as they are reached."""

    def __init__(self, img: Image, strict: bool, want_ports: bool):
        tm = img.target.timing
        self.img, self.strict, self.want_ports = img, strict, want_ports
        self.slots = img.target.slots
        self.counts = _Counts(img)
        self.names = {c.id: c.name for c in img.cores}
        self._cores = {c.id: c for c in img.cores}
        self.pr_dur = {c.id: timing.pr_ns(tm, c.bitstream_size) for c in img.cores}
        self._durs: dict[int, int] = {}
        self._windows: dict[int, _Window] = {}  # live window instances (strict)

    def task_dur(self, t: Task) -> int:
        d = self._durs.get(id(t))  # by instruction: images built in memory have no offsets
        if d is None:
            c = self._cores[t.core]
            i, o = timing.port_bytes([x.length for x in t.ports], c.port_dirs)
            d = self._durs[id(t)] = timing.task_ns(
                self.img.target.timing, t.param_words, t.cycles, i, o
            )
        return d

    def window(self, inst: int, node: Window) -> _Window:
        w = self._windows.get(inst)
        if w is None:
            w = self._windows[inst] = _Window(node, self.counts)
        return w

    def instances(self) -> Iterator[_Window]:
        """(instance number, window instance) in program order, each dropped from the
        live ones once the caller moves past it (strict mode)."""
        inst = 0
        for node in self.img.body:
            for _ in range(1 if isinstance(node, Window) else node.count):
                for w in (node,) if isinstance(node, Window) else node.windows:
                    yield self.window(inst, w)
                    self._windows.pop(inst, None)
                    inst += 1


def simulate(
    img: Image,
    image_bytes: int,
    mode: str,
    emit: Callable[[dict], None] | None = None,
    no_model: Callable | None = None,
    params: Callable | None = None,
) -> Timeline:
    tm = img.target.timing
    t0 = timing.image_transfer_ns(tm, image_bytes)
    strict = mode == "strict"
    slots = img.target.slots
    prog = _Program(img, strict, emit is not None)
    walks = [_Walk(prog, s) for s in range(slots)]
    heads: list[_Op | None] = [next(w.ops, None) for w in walks]  # each slot's next operation
    done = [0] * slots
    busy = [0] * slots
    reconf = [0] * slots
    running: list[_Op | None] = [None] * slots
    icap_free = True
    prs = pr_ns = tasks = 0
    t = t_end = t0
    windows = prog.instances() if strict else iter(())
    current = next(windows, None)  # strict: the window instance that may run
    error = None
    pending = None  # the error event, written once time reaches it
    watchdog = tm.watchdog_ns

    def verdict(op: _Op):
        """(name, t, detail) of a run-time error if this task cannot start now."""
        if op.held != op.core:
            if op.held is None:
                return "wrong_core", t, message("wrong_core_empty", core=op.name, slot=op.slot)
            return (
                "wrong_core",
                t,
                message(
                    "wrong_core",
                    core=op.name,
                    slot=op.slot,
                    held=img.core(op.held).name,
                    held_id=op.held,
                ),
            )
        if watchdog and op.dur > watchdog:
            return (
                "watchdog",
                t + watchdog,
                message("watchdog", duration_ns=op.dur, watchdog_ns=watchdog),
            )
        why = no_model(op.task) if no_model else None
        if why:
            return "no_model", t, why
        return None

    def address(port, op) -> int:
        return port.address + sum(s * i for s, i in zip(port.strides, op.idx, strict=True))

    def begin_windows():
        """Strict: open the current window (and close empty ones) at time t."""
        nonlocal current
        while current is not None:
            w = current
            if w.begin is None:
                w.begin = t
                if emit:
                    emit({"ev": "window_start", "t": t, "pc": w.pc})
            if w.left:
                return
            if emit:
                emit({"ev": "window_end", "t": t, "pc": w.pc})
            current = next(windows, None)

    def ready(op: _Op) -> bool:
        if strict:
            w = op.window
            if w is None or w is not current:
                return False
            if op.kind != TASK:
                return True
            if w.reconfs_left or any(w.parsec_left[j] for j in range(op.parsec)):
                return False
            return w.thread_done.get(op.thread, 0) == op.nth
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
                op = heads[s]
                if running[s] is None and op is not None:
                    if op.kind == PR and not icap_free:
                        continue
                    if (best is None or op.p < best.p) and ready(op):
                        best = op
            if best is None:
                break
            s = best.slot
            heads[s] = next(walks[s].ops, None)
            if best.kind == SKIP:
                _complete(best, done)
                t_end = max(t_end, t)
                if strict:
                    begin_windows()
                continue
            if best.kind == TASK:
                bad = verdict(best)
                if bad is not None:
                    error = bad + (best.task,)
                    pending = {
                        "ev": "error",
                        "t": bad[1],
                        "code": ERROR_BY_NAME[bad[0]].code,
                        "name": bad[0],
                        "pc": best.pc,
                    }
                    break
                busy[s] += best.dur
                if emit:
                    assert params is not None  # a trace shows the parameter words
                    emit(
                        {
                            "ev": "task_start",
                            "t": t,
                            "slot": s,
                            "core": best.name,
                            "pc": best.pc,
                            "ports": [[address(x, best), x.length] for x in best.task.ports],
                            "params": list(params(best.task)),
                        }
                    )
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
                emit(
                    {
                        "ev": "pr_end" if op.kind == PR else "task_end",
                        "t": t,
                        "slot": op.slot,
                        "core": op.name,
                        "pc": op.pc,
                    }
                )
            _complete(op, done)
            t_end = t
        if strict and error is None:
            begin_windows()
    return Timeline(t0, t_end, tuple(busy), tuple(reconf), tuple(done), prs, pr_ns, tasks, error)


def _complete(op: _Op, done: list[int]) -> None:
    done[op.slot] += 1
    w = op.window
    if w is None:  # dataflow: no window bookkeeping
        return
    w.left -= 1
    if op.kind == TASK:
        w.parsec_left[op.parsec] -= 1
        w.thread_done[op.thread] = w.thread_done.get(op.thread, 0) + 1
    else:
        w.reconfs_left -= 1
