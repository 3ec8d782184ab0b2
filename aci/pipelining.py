"""Stage 4, pipelining: software pipelining of a ``repeat`` (dataflow mode): consecutive
iterations grouped, their windows ordered stage by stage, scratch buffers renamed one
copy per iteration.

``pipelining(program, mode)`` returns the program with each eligible ``repeat`` of N
iterations rewritten as a repeat of ``q`` groups of ``K`` iterations each (after,
when ``K`` does not divide N, one group of the ``r < K`` iterations left over): within a
group the first window runs for all ``K`` iterations, then the second, and so on, so a
core is configured once per group instead of once per iteration, and the next group's
first stage overlaps this group's last (their copies differ). ``K`` is the largest
that keeps a group within ``GROUP_OPS`` operations and its copies within free memory.

What a repeat must be (docs/scheduling.md, "Software pipelining"):

- every scratch buffer its tasks write is *private to an iteration*: no fixed
  address, no initial contents, the same bytes in every iteration (no term in the
  repeat variable), and every byte an iteration reads was written earlier in the
  same iteration. Such a buffer gets ``K`` copies, one per position in the group; the
  group's last position uses the declared buffer, moved to the end of the copies, so
  after the run it holds exactly what the last iteration wrote;
- every other buffer its tasks write (outputs, say) is touched by different
  iterations at disjoint bytes, so no reordering of iterations can be observed.

Each group is either *merged* — when every window is one loop with no slot named
and every view moves with the repeat variable as the loop's span of that view
(``images[b * BATCH + i]`` over ``i in 0 .. BATCH``), the K loops become one loop
over ``K * BATCH`` iterations, which the balancer then spreads — or *looped*: a
window of one parsec whose tasks all name their slots is kept once, each thread's
body inside a loop over the group's iterations (explicit slots and PR requests kept;
each slot runs what ``K`` copies of the window in a row would, and the image does
not grow with the iterations) — or else *unrolled*: ``K`` copies of the window in a
row (a copy's requests for cores its slots already hold are elided by the
scheduler). Strict mode keeps the seed's window order: nothing changes.
"""

from __future__ import annotations

import bisect
import itertools

import attrs

from . import program as P
from .affine import Affine, Var
from .format import LIMITS
from .overlap import meet

GROUP_OPS = 4_500  # operations of one group at most (500 images of the BNN)
ALIGN = 64  # copies start on a cache line, like every placed buffer


def pipelining(prog: P.Program, mode: str) -> P.Program:
    if mode != "dataflow":
        return prog
    uid = itertools.count(
        1
        + max(
            (v.uid for t in P.walk_tasks(prog) for r in t.ports for v in r.offset.vars), default=0
        )
    )
    moved: dict[str, P.Buffer] = {}
    taken: list = []  # (memory, lo, hi) of every block of copies
    body = []
    for node in prog.body:
        if isinstance(node, P.Repeat):
            got = _group(prog, node, moved, taken, lambda: next(uid))
            if got is not None:
                body.extend(got)
                continue
        body.append(node)
    if not moved:
        return prog
    body = [_rebind(n, moved) for n in body]
    buffers = tuple(moved.get(b.name, b) for b in prog.buffers)
    return attrs.evolve(prog, body=tuple(body), buffers=buffers)


def _rebind(node, moved):
    """The node with every view of a moved buffer pointing at its new placement."""
    if isinstance(node, P.Repeat):
        return attrs.evolve(node, windows=tuple(_rebind(w, moved) for w in node.windows))
    if isinstance(node, P.Window):
        return attrs.evolve(node, parsecs=tuple(_rebind(p, moved) for p in node.parsecs))
    if isinstance(node, P.Parsec):
        return attrs.evolve(node, threads=tuple(_rebind(t, moved) for t in node.threads))
    if isinstance(node, (P.Thread, P.Loop)):
        return attrs.evolve(node, body=tuple(_rebind(b, moved) for b in node.body))
    if not any(r.buffer.name in moved for r in node.ports):
        return node
    return attrs.evolve(
        node,
        ports=tuple(
            attrs.evolve(r, buffer=moved[r.buffer.name]) if r.buffer.name in moved else r
            for r in node.ports
        ),
    )


def loop_of(w: P.Window) -> P.Loop | None:
    """The loop a window's work is, when it is one loop on one thread with no slot
    and no PR request named."""
    if w.reconfigure or len(w.parsecs) != 1 or len(w.parsecs[0].threads) != 1:
        return None
    th = w.parsecs[0].threads[0]
    if th.slot is not None or len(th.body) != 1 or not isinstance(th.body[0], P.Loop):
        return None
    loop = th.body[0]
    return None if any(t.slot is not None for t in P.walk_tasks(loop)) else loop


def iterations_independent(accesses, v: Var, inner: set[Var]) -> bool:
    """Whether no two instances of these ``(buffer, address, length, writes)``
    accesses in different iterations of ``v`` meet where one of them writes (the
    overlap oracle, for every ordered pair: the variables in ``inner`` run
    independently in each instance, the others have one value)."""
    for (abuf, a, alen, aw), (bbuf, b, blen, bw) in itertools.product(accesses, repeat=2):
        if abuf != bbuf or not (aw or bw):  # buffers never overlap
            continue
        outer = (set(a.vars) | set(b.vars)) - inner
        if meet(a, alen, b, blen, same=outer, later=v):
            return False
    return True


def _ops(rep: P.Repeat) -> int:
    """Operations of one iteration of the repeat."""
    return sum(P.operations(w) for w in rep.windows)


def _group(prog: P.Program, rep: P.Repeat, moved: dict, taken: list, uid) -> list | None:
    """The repeat as [one group of the iterations left over,] repeat of groups; or
    None when it is not eligible (module doc) or too large to group."""
    b, n = rep.var, rep.var.count
    kmax = min(n, GROUP_OPS // max(1, _ops(rep)))
    if kmax < 2:
        return None
    written = {r.buffer.name: r.buffer for t in P.walk_tasks(rep) for r in t.writes()}
    private = {name: buf for name, buf in written.items() if _private(rep, buf)}
    if any(name in moved for name in private):
        return None  # renamed by an earlier repeat already
    inner = {v for t in P.walk_tasks(rep) for r in t.ports for v in r.offset.vars} - {b}
    shared = [
        (r.buffer.name, r.address(), r.length, p.direction == "out")
        for t in P.walk_tasks(rep)
        for p, r in zip(t.core.ports, t.ports, strict=True)
        if r.buffer.name in written and r.buffer.name not in private
    ]
    if not iterations_independent(shared, b, inner):
        return None
    merged = _merged_strides(rep, private)
    stride = (
        merged
        if merged is not None
        else {name: -(-buf.size // 8) * 8 for name, buf in private.items()}
    )
    groups = -(-n // kmax)
    k = n // groups
    blocks = _place(prog, private, stride, k, moved, taken)
    while blocks is None and k >= 4:
        k //= 2
        blocks = _place(prog, private, stride, k, moved, taken)
    if blocks is None or k < 2:
        return None
    groups, left = divmod(n, k)
    for name, base in blocks.items():
        moved[name] = attrs.evolve(private[name], address=base + (k - 1) * stride[name])
        taken.append((private[name].memory, base, base + k * stride[name]))
    out = []
    if left:  # the iterations left over: one smaller group first, on copies 0 .. left - 1
        first = Var(b.name, 0, 1, b.kind, uid())
        out.append(_groups(rep, first, Affine.of(b.start), left, k, merged, stride, uid))
    var = Var(b.name, 0, groups, b.kind, uid())
    out.append(
        _groups(
            rep,
            var,
            Affine.of(b.start + left) + Affine.var(var).scale(k),
            k,
            k,
            merged,
            stride,
            uid,
        )
    )
    return out


def _groups(
    rep: P.Repeat, var: Var, base: Affine, size: int, k: int, merged, stride: dict, uid
) -> P.Repeat:
    """A repeat over ``var`` of groups of ``size`` iterations, the first iteration of
    each at ``base``; iteration j of a group uses copy j of each private buffer (the
    declared buffer is copy ``k - 1``)."""
    if merged is not None:
        windows = tuple(_merge(w, rep.var, base, size, k, stride, uid) for w in rep.windows)
    else:
        windows = tuple(
            x
            for w in rep.windows
            for x in (
                (_wrap(w, rep.var, base, size, k, stride, uid),)
                if _wrappable(w)
                else (
                    _substitute(
                        w,
                        {rep.var: base + Affine.of(j)},
                        {x: Affine.of((j - (k - 1)) * stride[x]) for x in stride},
                        uid,
                    )
                    for j in range(size)
                )
            )
        )
    return P.Repeat(var, windows, rep.span)


def _wrappable(w: P.Window) -> bool:
    """Whether a group's copies of this window can be one window whose threads each
    loop over the copies: one parsec (so each slot sees its operations in the copies'
    order), every task on a slot the source names (so every copy's tasks run where
    the first copy's do, as in the copies), and a loop level left for the copies."""
    if len(w.parsecs) != 1:
        return False
    threads = w.parsecs[0].threads
    return all(t.slot is not None for th in threads for t in P.walk_tasks(th)) and all(
        _depth(x) < LIMITS["max_loop_depth"] for th in threads for x in th.body
    )


def _depth(node) -> int:
    return 0 if isinstance(node, P.Task) else 1 + max((_depth(x) for x in node.body), default=0)


def _wrap(w: P.Window, b: Var, base: Affine, size: int, k: int, stride: dict, uid) -> P.Window:
    """The ``size`` copies of a window in a row as one window: each thread's body in a
    loop over the copies (copy j: iteration ``base + j``, private buffers' copy j of
    k). Each slot runs the same operations in the same order as the copies in a row
    would, and the image holds the window once instead of ``size`` times."""

    def thread(th: P.Thread) -> P.Thread:
        j = Var(b.name, 0, size, "loop", uid())
        values = {b: base + Affine.var(j)}
        shift = {x: Affine.var(j).scale(stride[x]) - Affine.of((k - 1) * stride[x]) for x in stride}
        inner = _substitute_body(th.body, values, shift, uid)
        return attrs.evolve(th, body=(P.Loop(j, inner, th.span),))

    return attrs.evolve(
        w,
        parsecs=tuple(
            attrs.evolve(p, threads=tuple(thread(th) for th in p.threads)) for p in w.parsecs
        ),
    )


def _private(rep: P.Repeat, buf: P.Buffer) -> bool:
    """Whether every iteration writes this scratch buffer before reading it, at the
    same bytes (module doc): checked on the first iteration, loops unrolled."""
    if buf.role != "scratch" or buf.init_file is not None or buf.fixed:
        return False
    views = [r for t in P.walk_tasks(rep) for r in t.ports if r.buffer.name == buf.name]
    if any(r.offset.coeff(rep.var) for r in views):
        return False
    covered: list[tuple[int, int]] = []  # disjoint [lo, hi) written so far, sorted
    values = {rep.var: rep.var.start}

    def task(t: P.Task) -> bool:
        mine = [
            (p.direction == "out", r.offset.at(values), r.length)
            for p, r in zip(t.core.ports, t.ports, strict=True)
            if r.buffer.name == buf.name
        ]
        for w, lo, length in mine:
            if not w:
                k = bisect.bisect_right(covered, (lo, float("inf"))) - 1
                if k < 0 or covered[k][1] < lo + length:
                    return False
        for w, lo, length in mine:
            if w:
                _cover(covered, lo, lo + length)
        return True

    def walk(node) -> bool:
        if isinstance(node, P.Task):
            return task(node)
        for i in range(node.var.start, node.var.start + node.var.count):
            values[node.var] = i
            if not all(walk(x) for x in node.body):
                return False
        return True

    return all(walk(x) for w in rep.windows for p in w.parsecs for th in p.threads for x in th.body)


def _cover(covered: list, lo: int, hi: int) -> None:
    """Add [lo, hi) to a sorted list of disjoint intervals, merging."""
    k = bisect.bisect_left(covered, (lo, lo))
    if k and covered[k - 1][1] >= lo:
        k -= 1
        lo = covered[k][0]
    end = k
    while end < len(covered) and covered[end][0] <= hi:
        hi = max(hi, covered[end][1])
        end += 1
    covered[k:end] = [(lo, hi)]


def _merged_strides(rep: P.Repeat, private: dict) -> dict | None:
    """The copy stride of each private buffer when every window can merge its K loops
    into one (module doc), else None."""
    stride: dict[str, int] = {}
    for w in rep.windows:
        loop = loop_of(w)
        if loop is None:
            return None
        i, count = loop.var, loop.var.count
        for t in P.walk_tasks(loop):
            for r in t.ports:
                span = r.offset.coeff(i) * count
                if r.buffer.name in private:
                    if (
                        stride.setdefault(r.buffer.name, span) != span
                        or span < r.buffer.size
                        or span % 8
                    ):
                        return None
                elif r.offset.coeff(rep.var) != span:
                    return None
    return {name: stride.get(name, -(-buf.size // 8) * 8) for name, buf in private.items()}


def _merge(w: P.Window, b: Var, base: Affine, size: int, k: int, stride: dict, uid) -> P.Window:
    """One window of a merged group: its loop over the ``size`` iterations' shares at
    once (private buffers: copies 0 .. size - 1 of k)."""
    loop = loop_of(w)
    assert loop is not None  # the caller merges only windows that are one loop
    i = loop.var
    wide = Var(i.name, 0, size * i.count, i.kind, uid())
    values = {b: base, i: Affine.of(i.start) + Affine.var(wide)}

    def task(t: P.Task) -> P.Task:
        ports = tuple(
            attrs.evolve(
                r,
                offset=r.offset.substitute(values) - Affine.of((k - 1) * stride[r.buffer.name])
                if r.buffer.name in stride
                else r.offset.substitute(values),
            )
            for r in t.ports
        )
        return attrs.evolve(t, ports=ports)

    th = w.parsecs[0].threads[0]
    body = (P.Loop(wide, tuple(_map(x, task) for x in loop.body), loop.span),)
    return attrs.evolve(
        w, parsecs=(attrs.evolve(w.parsecs[0], threads=(attrs.evolve(th, body=body),)),)
    )


def _substitute(w: P.Window, values: dict, shift: dict, uid) -> P.Window:
    """A copy of a window: ``values`` substituted in every view, private buffers
    shifted by ``shift`` (affine, in bytes), every loop with a variable of its own."""
    parsecs = tuple(
        attrs.evolve(
            p,
            threads=tuple(
                attrs.evolve(th, body=_substitute_body(th.body, values, shift, uid))
                for th in p.threads
            ),
        )
        for p in w.parsecs
    )
    return attrs.evolve(w, parsecs=parsecs)


def _substitute_body(body: tuple, values: dict, shift: dict, uid) -> tuple:
    """A thread's body with ``values`` substituted and ``shift`` added (as
    :func:`_substitute`)."""

    def node(x, values):
        if isinstance(x, P.Task):
            return attrs.evolve(
                x,
                ports=tuple(
                    attrs.evolve(
                        r,
                        offset=r.offset.substitute(values) + shift[r.buffer.name]
                        if r.buffer.name in shift
                        else r.offset.substitute(values),
                    )
                    for r in x.ports
                ),
            )
        fresh = attrs.evolve(x.var, uid=uid())
        inner = {**values, x.var: Affine.var(fresh)}
        return attrs.evolve(x, var=fresh, body=tuple(node(y, inner) for y in x.body))

    return tuple(node(x, values) for x in body)


def _map(node, f):
    if isinstance(node, P.Task):
        return f(node)
    return attrs.evolve(node, body=tuple(_map(x, f) for x in node.body))


def _place(
    prog: P.Program, private: dict, stride: dict, k: int, moved: dict, taken: list
) -> dict | None:
    """First-fit addresses for each private buffer's K copies, in its own memory, or
    None when they do not all fit (``taken``: copies of earlier repeats)."""
    used: dict[str, list] = {}
    for buf in prog.buffers:
        b = moved.get(buf.name, buf)
        used.setdefault(b.memory, []).append((b.placed_at, b.placed_at + b.size))
    for bs in prog.bitstreams:
        used.setdefault(bs.memory, []).append((bs.placed_at, bs.placed_at + bs.size))
    for memory, lo, hi in taken:
        used.setdefault(memory, []).append((lo, hi))
    out = {}
    for name, buf in sorted(private.items()):
        mem = prog.target.memory(buf.memory)
        assert mem is not None  # the checker resolved every buffer's memory
        size = k * stride[name]
        a = -(-mem.base // ALIGN) * ALIGN
        for s, e in sorted(used.setdefault(buf.memory, [])):
            if a + size <= s:
                break
            if e > a:
                a = -(-e // ALIGN) * ALIGN
        if a + size > mem.end:
            return None
        used[buf.memory].append((a, a + size))
        out[name] = a
    return out
