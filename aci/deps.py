"""Dependencies between operations, encoded as dataflow waits.

``waits(program)`` takes a scheduled program (every task on a slot, every window's
RECONFs final) and returns, for each task (keyed by ``id(task)``), its WAIT records
``(slot, lag)``: before the task starts, slot ``slot`` must have completed all but
the last ``lag`` operations issued to it before the task (docs/execution.md). Only
other slots appear: a slot serves its own operations in order.

How: the operations are issued in program order (loops and repeats unrolled) and the
bytes each task reads and writes are tracked; a read depends on the last write of
the bytes it reads (read after write), a write on the last write and every read
since (write after write, write after read), across threads, parsecs, windows and
repeat iterations. For each task and each other slot only the latest operation it
depends on matters (the slot completes in order), and one lag must serve every
instance of the task, so the smallest lag over its instances is kept (waiting for a
later operation of a slot is always safe). Lags over the format's limit are clamped
the same way.

Programs with more than ``EXACT_LIMIT`` operations are analysed with every count cut
to ``SAMPLE`` iterations (cutting only removes operations between two others, so
lags only shrink: still safe), and any pair of tasks on different slots that may
touch the same bytes in a pattern the sample cannot vouch for (strides that differ,
or no conflict seen in the sample) gets a full wait (lag 0).

Cost: the exact analysis is linear in the operations it unrolls times the ranges
each access meets: the distinct byte ranges accessed so far are kept per length,
sorted by start (``aci.overlap.LastAccess``), so an access visits only the ranges
that overlap it, however long other ranges are. The sampled analysis adds the check
of doubtful pairs, which looks up each port of each task in an interval index of the
port hulls of every other slot (``aci.overlap.IntervalIndex``) and examines only
pairs whose hulls meet, the same pairs comparing every pair would find: near-linear
in the number of tasks (of the program text, not unrolled) unless many hulls meet.
"""

from __future__ import annotations

import math

from . import program as P
from .affine import Var
from .format import LIMITS
from .overlap import IntervalIndex, LastAccess, meet

EXACT_LIMIT = 20_000
SAMPLE = 4


def count_operations(prog: P.Program) -> int:
    return sum(P.operations(b) for b in prog.body)


class _Memory:
    """The last write and the reads since, per distinct byte range ever accessed (a
    range keeps its own state: a write to ``[0, 64)`` does not clear ``[0, 32)``)."""

    def __init__(self):
        self.ranges = LastAccess()  # (lo, hi) -> [last write (slot, pos) | None, {slot: pos}]

    def access(self, lo: int, hi: int, write: bool, who: tuple[int, int], deps: dict[int, int]):
        for last_write, reads in self.ranges.overlapping(lo, hi):
            if last_write is not None:
                s, pos = last_write
                if deps.get(s, -1) < pos:
                    deps[s] = pos
            if write:
                for s, pos in reads.items():
                    if deps.get(s, -1) < pos:
                        deps[s] = pos

    def record(self, lo: int, hi: int, write: bool, who: tuple[int, int]):
        key = (lo, hi)
        st = self.ranges.get(key)
        if st is None:
            st = [None, {}]
            self.ranges.add(key, st)
        if write:
            st[0] = who
            st[1] = {}
        else:
            s, pos = who
            if st[1].get(s, -1) < pos:
                st[1][s] = pos


def waits(prog: P.Program, exact: bool | None = None) -> dict[int, tuple[tuple[int, int], ...]]:
    """``exact`` forces the analysis (the balancer estimates a cut-down program with
    the analysis its full program will get); by default it follows EXACT_LIMIT."""
    if exact is None:
        exact = count_operations(prog) <= EXACT_LIMIT
    cut = None if exact else SAMPLE
    best: dict[int, dict[int, int]] = {}  # id(task) -> {slot: smallest lag}
    issued = [0] * prog.target.slots
    values: dict[Var, int] = {}
    # Bytes no task writes (weights, inputs) carry no dependency: they are not tracked.
    written = {r.buffer.name for t in P.walk_tasks(prog) for r in t.writes()}
    memory = {name: _Memory() for name in written}  # buffers never overlap
    plans: dict[int, list] = {}

    def plan(t: P.Task):
        out = []
        for port, r in zip(t.core.ports, t.ports, strict=True):
            if r.buffer.name in written:
                out.append(
                    (
                        memory[r.buffer.name],
                        r.offset.const,
                        r.offset.coeffs,
                        r.length,
                        port.direction == "out",
                    )
                )
        return out

    def count(var: Var) -> int:
        return var.count if cut is None else min(var.count, cut)

    def task(t: P.Task):
        p = plans.get(id(t))
        if p is None:
            p = plans[id(t)] = plan(t)
        slot = t.slot
        assert slot is not None  # scheduled: every task has its slot
        who = (slot, issued[slot])
        deps: dict[int, int] = {}
        ranges = []
        for mem, const, coeffs, length, write in p:
            lo = const
            for v, c in coeffs:
                lo += c * values[v]
            ranges.append((mem, lo, lo + length, write))
            mem.access(lo, lo + length, write, who, deps)
        if deps:
            mine = best.setdefault(id(t), {})
            for s, pos in deps.items():
                if s != slot:
                    lag = issued[s] - (pos + 1)
                    if lag < mine.get(s, math.inf):
                        mine[s] = lag
        for mem, lo, hi, write in ranges:
            mem.record(lo, hi, write, who)
        issued[slot] += 1

    def body(node):
        if isinstance(node, P.Task):
            task(node)
            return
        for i in range(node.var.start, node.var.start + count(node.var)):
            values[node.var] = i
            for b in node.body:
                body(b)

    def window(w: P.Window):
        for r in w.reconfigure:
            issued[r.slot] += 1
        for p in w.parsecs:
            for th in p.threads:
                for b in th.body:
                    body(b)

    for node in prog.body:
        if isinstance(node, P.Window):
            window(node)
        else:
            for i in range(node.var.start, node.var.start + count(node.var)):
                values[node.var] = i
                for w in node.windows:
                    window(w)
    if not exact:
        _doubtful_pairs(prog, best)
    limit = LIMITS["max_wait_lag"]
    return {
        k: tuple(sorted((s, min(lag, limit)) for s, lag in v.items())) for k, v in best.items() if v
    }


def _levels(prog: P.Program) -> dict[int, tuple[tuple[Var, ...], int]]:
    """id(task) -> (the counted levels around it, outermost first; its program position)."""
    out = {}
    position = iter(range(1 << 62))

    def walk(node, levels):
        if isinstance(node, P.Task):
            out[id(node)] = (levels, next(position))
        elif isinstance(node, P.Loop):
            for b in node.body:
                walk(b, levels + (node.var,))
        elif isinstance(node, P.Repeat):
            for w in node.windows:
                walk(w, levels + (node.var,))
        elif isinstance(node, P.Window):
            for p in node.parsecs:
                for th in p.threads:
                    walk(th, levels)
        else:
            for b in node.body:
                walk(b, levels)

    for n in prog.body:
        walk(n, ())
    return out


def _depends(
    a, alen: int, b, blen: int, shared: tuple[Var, ...], a_first: bool
) -> tuple[bool, bool]:
    """(whether some instance of b may depend on an earlier instance of a, whether such
    a pair can lie farther apart than the sample sees).

    b's instance is later when, at the first counted level around both where their
    iterations differ, b's is the larger, or when they agree on every level and a
    comes first in program order: one question to the overlap oracle
    (``aci.overlap.meet``) per level. Whether the pair can lie farther apart than the
    sample sees is answered exactly where the conflicts depend only on the distance
    between the iterations (one shared level, in which both views move by the same
    stride): never when they do not move (the nearest instance, which the sample
    sees, is the one waited for), else when b's iteration can be ``SAMPLE`` or more
    ahead of a's. Otherwise any dependency counts as far (the conservative answer).
    """
    may = any(meet(a, alen, b, blen, same=shared[:j], later=v) for j, v in enumerate(shared)) or (
        a_first and meet(a, alen, b, blen, same=shared)
    )
    if not may:
        return False, False
    if len(shared) != 1 or a.coeff(shared[0]) != b.coeff(shared[0]):
        return True, True
    if a.coeff(shared[0]) == 0:
        return True, False
    return True, bool(meet(a, alen, b, blen, later=shared[0], gap=SAMPLE))


def _doubtful_pairs(prog: P.Program, best: dict[int, dict[int, int]]) -> None:
    """Full waits where the sampled analysis cannot vouch for the lag (see module doc).

    Task b gets a full wait on slot s when some task a on s and some pair of their
    ports, one writing, may conflict (:func:`_depends`) farther apart than the
    sample sees, or at all when the sample found no dependency of b on s. Ports can
    conflict only when their hulls (every byte they may cover) meet, so each port of
    b looks up, in an :class:`IntervalIndex` of every slot's port hulls, the ports
    whose hulls meet its own and only those are examined: near-linear in the tasks
    unless many hulls meet, where comparing every pair was quadratic.
    """
    tasks = list(P.walk_tasks(prog))
    slots = sorted({t.slot for t in tasks})
    if len(slots) < 2:
        return  # a slot serves its own operations in order
    where = _levels(prog)
    ports = []  # per task in walk order: [(address, length, writes, hull lo, hull hi)]
    hulls: dict[int, tuple[list, list]] = {
        s: ([], []) for s in slots
    }  # slot -> (writing ports, all)
    for ti, t in enumerate(tasks):
        mine = []
        for k, (p, r) in enumerate(zip(t.core.ports, t.ports, strict=True)):
            addr, w = r.address(), p.direction == "out"
            (lo, _), (hi, _) = addr.extremes()
            mine.append((addr, r.length, w, lo, hi + r.length))
            writes, every = hulls[t.slot]
            every.append((lo, hi + r.length, (ti, k)))
            if w:
                writes.append((lo, hi + r.length, (ti, k)))
        ports.append(mine)
    index = {s: (IntervalIndex(w), IntervalIndex(e)) for s, (w, e) in hulls.items()}
    for bi, b in enumerate(tasks):
        lb, pb = where[id(b)]
        found = dict(best.get(id(b), {}))  # the sample's lags: b's dependencies it saw
        for s in slots:
            if s == b.slot or found.get(s) == 0:
                continue  # a full wait already
            if _doubtful(b, ports[bi], lb, pb, index[s], tasks, ports, where, s in found):
                best.setdefault(id(b), {})[s] = 0


def _doubtful(b, bports, lb, pb, index, tasks, ports, where, sampled: bool) -> bool:
    """Whether some task of one slot (its ports in ``index``) and b may conflict in a
    way the sample cannot vouch for (``sampled``: the sample found b depending on it)."""
    for baddr, blen, bw, blo, bhi in bports:
        # A write meets every access, a read only writes.
        for ai, k in index[1 if bw else 0].overlapping(blo, bhi):
            a = tasks[ai]
            aaddr, alen = ports[ai][k][:2]
            la, pa = where[id(a)]
            shared = tuple(v for v in la if v in lb and v.count > 1)  # one iteration: no distance
            may, far = _depends(aaddr, alen, baddr, blen, shared, pa < pb)
            if may and (far or not sampled):
                return True
    return False
