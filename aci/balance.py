"""Stage 5, balance: how each window's work is spread over slots.

``balance(prog, cost, exact)`` looks for windows whose work is one thread with no
slot named, made of one LOOP whose iterations touch disjoint memory (no iteration
reads or writes what another writes). Such a loop may run as k threads, each on its
own slot. ``cost`` is a function from a candidate program to its simulated time:
few slots keep cores resident and save reconfigurations, many slots divide the work.
Two searches (docs/scheduling.md, "Balance"):

1. uniform shares: each thread takes a contiguous share of the iterations (the
   first threads take one more when they do not divide evenly: their slots are
   configured first), on 1, 2, 4 or all slots per window. With few such windows
   every combination is tried; with more, the search starts from the best uniform
   spread (every window on the same number of slots) and then tries each window's
   count in turn, keeping what helps (coordinate descent, two passes at most);
2. free mappings, from the first search's best, one window at a time (two passes at
   most): any number of slots from 1 to all (the scheduler lets windows share a slot
   through reconfiguration), and loops cut at task granularity in phases when the
   slots do not divide the iterations (``aci.phases``, CP-SAT). A cut is tried only
   where its best case beats the best found so far.

The second search's result is kept only when ``cost`` says it is faster than the
first's and, when ``cost`` finds it faster by less than 1 %, ``exact`` (the whole run
simulated, where ``cost`` extrapolates a long repeat) agrees, so a program is not
made slower than with uniform shares alone. The
second search is skipped when the first's result is within 5 % of the slots' work
(every task's duration over the slots: no mapping does better).

Programs that name their slots, write several threads, or whose loops carry data
from one iteration to the next are left exactly as written.

The cost model lives here too: ``estimate(prog, mode)`` schedules, lowers and
simulates a candidate (the later stages and the machine, run on it), so this stage
sits above them in the import graph.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

from . import deps, record
from . import program as P
from .affine import Affine, Var
from .deps import count_operations
from .diagnostics import SourceError
from .image import Repeat
from .lower import lower
from .machine import simulate
from .phases import applicable, gain_bound, phased, task_duration
from .pipelining import iterations_independent, loop_of
from .schedule import schedule
from .waits import waits

EXHAUSTIVE = 64  # combinations worth trying all of


def _single_loop_window(w: P.Window) -> P.Loop | None:
    """The loop a window's work consists of, when it can be split."""
    loop = loop_of(w)
    if loop is None or loop.var.count < 2:
        return None
    return loop if _independent(loop) else None


def _independent(loop: P.Loop) -> bool:
    """No iteration writes bytes that another iteration reads or writes."""
    accesses = [
        (r.buffer.name, r.address(), r.length, p.direction == "out")
        for t in P.walk_tasks(loop)
        for p, r in zip(t.core.ports, t.ports, strict=True)
    ]
    return iterations_independent(accesses, loop.var, {n.var for n in _loops(loop)})


def _loops(node):
    if isinstance(node, P.Loop):
        yield node
        for b in node.body:
            yield from _loops(b)


def substitute(node, old: Var, new: Var):
    """A window, thread or loop with ``old`` replaced by ``new`` in every port's view."""
    if isinstance(node, P.Window):
        return record.evolve(node, parsecs=tuple(substitute(p, old, new) for p in node.parsecs))
    if isinstance(node, P.Parsec):
        return record.evolve(node, threads=tuple(substitute(t, old, new) for t in node.threads))
    if isinstance(node, (P.Thread, P.Loop)):
        return record.evolve(node, body=tuple(substitute(b, old, new) for b in node.body))
    ports = []
    for r in node.ports:
        c = r.offset.coeff(old)
        off = r.offset
        if c:
            off = Affine.of(off.const, {**{w: k for w, k in off.coeffs if w != old}, new: c})
        ports.append(record.evolve(r, offset=off))
    return record.evolve(node, ports=tuple(ports))


def split(w: P.Window, loop: P.Loop, k: int, uid: Callable[[], int]) -> P.Window:
    """The window with its loop run as k threads over contiguous shares."""
    v = loop.var
    threads = []
    for s in range(k):
        lo = v.start + -(-s * v.count // k)
        hi = v.start + -(-(s + 1) * v.count // k)
        nv = Var(v.name, lo, hi - lo, v.kind, uid())
        body = tuple(substitute(b, v, nv) for b in loop.body)
        threads.append(P.Thread(None, (P.Loop(nv, body, loop.span),), w.parsecs[0].threads[0].span))
    return record.evolve(w, parsecs=(P.Parsec(tuple(threads), w.parsecs[0].span),))


def balance(
    prog: P.Program,
    cost: Callable[[P.Program], int],
    exact: Callable[[P.Program], int] | None = None,
) -> P.Program:
    slots = prog.target.slots
    counter = itertools.count(
        1
        + max(
            (v.uid for t in P.walk_tasks(prog) for r in t.ports for v in r.offset.vars), default=0
        )
        + (1 << 20)
    )
    # the splittable windows, by position (top level, or inside the repeat)
    places = []
    for i, node in enumerate(prog.body):
        ws = node.windows if isinstance(node, P.Repeat) else (node,)
        for j, w in enumerate(ws):
            loop = _single_loop_window(w)
            if loop is not None:
                places.append((i, j, w, loop))
    if not places:
        return prog
    keys = [(i, j) for i, j, _, _ in places]
    cut: dict = {}  # (place, k) -> the phased window, or None (computed once)

    def window(place, option) -> P.Window | None:
        i, j, w, loop = place
        kind, k = option
        if kind == "split":
            return w if k == 1 else split(w, loop, k, lambda: next(counter))
        if (i, j, k) not in cut:
            cut[i, j, k] = phased(prog, w, loop, k, lambda: next(counter), substitute)
        return cut[i, j, k]

    def build(choice: dict) -> P.Program | None:
        body = list(prog.body)
        for place in places:
            i, j = place[0], place[1]
            option = choice[(i, j)]
            if option == ("split", 1):
                continue
            w = window(place, option)
            if w is None:
                return None
            node = body[i]
            if isinstance(node, P.Repeat):
                ws = list(node.windows)
                ws[j] = w
                body[i] = record.evolve(node, windows=tuple(ws))
            else:
                body[i] = w
        return record.evolve(prog, body=tuple(body))

    def built(choice: dict) -> P.Program:
        """A chosen mapping's program: it was scored, so it builds."""
        candidate = build(choice)
        assert candidate is not None, "a scored mapping builds"
        return candidate

    scores: dict = {}

    def score(choice: dict) -> int:
        key = tuple(choice[k] for k in keys)
        if key not in scores:
            candidate = build(choice)
            scores[key] = UNSCHEDULABLE if candidate is None else cost(candidate)
        return scores[key]

    old, old_cost = _uniform_search(keys, places, slots, score)
    if old_cost <= NEAR * _work(prog, prog.target.timing) / slots:
        return built(old)  # within NEAR of the slots' work: nothing much left to gain
    # Then free mappings (docs/scheduling.md): every slot count, and loops cut at task
    # granularity, one window at a time from the uniform search's best; the better of
    # the two by the timing model is kept, so this never makes a program slower.
    options = [
        [("split", k) for k in range(1, min(slots, loop.var.count) + 1)]
        + [("phased", k) for k in range(2, slots + 1) if applicable(loop, k)]
        for _, _, _, loop in places
    ]
    best, counts = old_cost, dict(old)
    for _ in range(FREE_PASSES):
        improved = False
        for key, o in zip(keys, options, strict=True):
            for option in o:
                if option == counts[key]:
                    continue
                if option[0] == "phased":
                    # worth a solve only if its best case beats the best so far: the
                    # contiguous shares' time less their last round's idle time
                    place = places[keys.index(key)]
                    node = prog.body[key[0]]
                    reps = node.var.count if isinstance(node, P.Repeat) else 1
                    contiguous = score({**counts, key: ("split", option[1])})
                    if contiguous - reps * gain_bound(prog, place[3], option[1]) >= best:
                        continue
                trial = {**counts, key: option}
                c = score(trial)
                if c < best:
                    best, counts, improved = c, trial, True
        if not improved:
            break
    if best >= old_cost:
        return built(old)
    free, uniform = built(counts), built(old)
    if exact is not None and best * SURE > old_cost and exact(free) >= exact(uniform):
        return uniform  # ``cost`` extrapolates; the whole run says otherwise
    return free


UNSCHEDULABLE = 1 << 62
FREE_PASSES = 2
NEAR = 1.05  # no free search when the uniform shares are this close to the slots' work
SURE = 1.01  # a free mapping ``cost`` finds faster by less than this is checked by ``exact``


def _work(node, tm, times: int = 1) -> int:
    """Every task's duration (ns) under a node, loops and repeats multiplied out."""
    if isinstance(node, P.Task):
        return times * task_duration(node, tm)
    if isinstance(node, P.Program):
        return sum(_work(n, tm, times) for n in node.body)
    if isinstance(node, P.Repeat):
        return sum(_work(w, tm, times * node.var.count) for w in node.windows)
    if isinstance(node, P.Window):
        return sum(_work(th, tm, times) for p in node.parsecs for th in p.threads)
    if isinstance(node, P.Loop):
        return sum(_work(b, tm, times * node.var.count) for b in node.body)
    return sum(_work(b, tm, times) for b in node.body)  # a thread


def _uniform_search(keys, places, slots, score) -> tuple[dict, int]:
    """The balancer's first search: 1, 2, 4 or all slots per window, contiguous shares
    (every combination when few, else the best uniform spread improved one window at
    a time). Returns the choice and its cost."""
    choices = sorted({1, 2, min(4, slots), slots} & set(range(1, slots + 1)))
    options = [[("split", k) for k in choices if k <= loop.var.count] for *_, loop in places]
    if math.prod(len(o) for o in options) <= EXHAUSTIVE:
        # few windows: try every combination (the first, all ones, wins ties)
        scored = [
            (score(dict(zip(keys, combo, strict=True))), n, combo)
            for n, combo in enumerate(itertools.product(*options))
        ]
        c, _, combo = min(scored)
        return dict(zip(keys, combo, strict=True)), c
    # Otherwise start from the best uniform spread (every window on the same number
    # of slots) and improve one window at a time.
    best, counts = None, None
    for k in choices:
        trial = {
            key: ("split", max(x for _, x in o if x <= k))
            for key, o in zip(keys, options, strict=True)
        }
        c = score(trial)
        if best is None or c < best:
            best, counts = c, trial
    assert best is not None and counts is not None  # choices always holds 1
    for _ in range(2):
        improved = False
        for key, o in zip(keys, options, strict=True):
            for option in o:
                if option == counts[key]:
                    continue
                trial = {**counts, key: option}
                c = score(trial)
                if c < best:
                    best, counts, improved = c, trial, True
        if not improved:
            break
    return counts, best


# ---- the cost model ------------------------------------------------------------------

ESTIMATE_REPEATS = 2


def estimate(prog: P.Program, mode: str, extrapolate: bool = True) -> int:
    """Simulated time of a candidate schedule, for the balancer. A long repeat is
    simulated for R and 2R iterations and extrapolated from the difference: its body
    is scheduled the same way in every iteration, so the run settles into a period
    (``extrapolate=False``: the whole run, simulated)."""
    r = ESTIMATE_REPEATS
    counts = [n.var.count for n in prog.body if isinstance(n, P.Repeat)]
    long = extrapolate and bool(counts) and max(counts) > 2 * r
    exact = count_operations(prog) <= deps.EXACT_LIMIT  # as the whole program will be analysed
    if long:
        prog = _first_iterations(prog, 2 * r)
    try:
        scheduled = schedule(prog, mode)
    except SourceError:
        return UNSCHEDULABLE  # not schedulable (too many cores for the slots, say)
    img = lower(waits(scheduled, exact) if mode == "dataflow" else scheduled, mode, symbols=False)
    if not long:
        return simulate(img, 0, mode).t_end

    def upto(k: int) -> int:
        body = tuple(
            record.evolve(n, count=min(n.count, k)) if isinstance(n, Repeat) else n
            for n in img.body
        )
        return simulate(record.evolve(img, body=body), 0, mode).t_end

    once, twice = upto(r), upto(2 * r)
    return twice + (max(counts) - 2 * r) * (twice - once) // r


def _first_iterations(prog: P.Program, n: int) -> P.Program:
    """The program with every repeat cut to its first n iterations."""
    body = []
    for node in prog.body:
        if isinstance(node, P.Repeat) and node.var.count > n:
            var = record.evolve(node.var, count=n)
            node = record.evolve(
                node, var=var, windows=tuple(substitute(w, node.var, var) for w in node.windows)
            )
        body.append(node)
    return record.evolve(prog, body=tuple(body))
