"""A loop split over slots at task granularity, in phases (for the balancer).

A window's loop of ``n`` independent iterations, each a chain of ``m`` tasks of one
core, split into ``k`` contiguous shares takes ``ceil(n / k)`` iterations' time when
``k`` does not divide ``n``: some slots idle through the last round. ``phased(...)``
spreads the work more evenly by cutting iterations between their tasks: the window
becomes a few parsecs (phases, one after another), each of at most ``k`` threads; an
iteration's tasks stay in program order (a piece of it in each of one or more
consecutive phases, each piece on one thread), so no two threads of a parsec touch
what the other writes and every mode keeps the program's meaning. Leading whole
iterations, ``n // k - 1`` per thread, go contiguously into a first parsec; the
last ``k + n mod k`` iterations are cut by a small integer program:

- ``x[i, j, p, s]``: task ``j`` of iteration ``i`` runs in phase ``p`` on thread
  ``s``; each task exactly once; an iteration's piece in a phase on one thread; an
  iteration's phases non-decreasing along its tasks;
- minimise the sum over phases of the phase's longest thread (strict mode waits for
  every thread of a parsec before the next one starts), task durations from the
  timing model; threads of a phase ordered by load (they are interchangeable).

It is solved with OR-Tools' CP-SAT, imported only when a window needs it, on one
worker with a fixed seed and a limit in *deterministic* time, so the same program
gives the same split, and the same image, on every run and machine with the same
OR-Tools. The balancer keeps the result only when the timing model says it is
faster than the contiguous shares.
"""

from __future__ import annotations

from . import program as P
from . import record
from .affine import Affine, Var
from .timing import Timing, port_bytes, task_ns

PHASES = 3  # parsecs the cut iterations may spread over
SOLVER_SECONDS = 0.25  # CP-SAT's deterministic time limit (not wall clock: results repeat)
SOLVER_SEED = 0
GAP = 0.002  # CP-SAT stops within 0.2 % of its bound


def applicable(loop: P.Loop, k: int) -> bool:
    """Whether cutting iterations could beat contiguous shares on ``k`` slots: a body
    of at least two tasks of one core (no nested loop), more iterations than slots,
    and ``k`` not dividing them."""
    body = loop.body
    n = loop.var.count
    return (
        2 <= k < n
        and n % k != 0
        and len(body) >= 2
        and len({t.core.name for t in _tasks(loop)}) == 1
    )


def _tasks(loop: P.Loop) -> list[P.Task]:
    """The loop's body if it is tasks only, else an empty list (not applicable)."""
    tasks = [t for t in loop.body if isinstance(t, P.Task)]
    return tasks if len(tasks) == len(loop.body) else []


def task_duration(t: P.Task, tm: Timing) -> int:
    """A task's duration (ns), from the timing model (the same in every iteration of
    its loops: lengths, parameters and cycles do not depend on the iteration)."""
    rd, wr = port_bytes((r.length for r in t.ports), (p.direction for p in t.core.ports))
    return task_ns(tm, len(t.params), t.cycles, rd, wr)


def durations(prog: P.Program, loop: P.Loop) -> list[int]:
    """Each body task's duration (ns)."""
    return [task_duration(t, prog.target.timing) for t in _tasks(loop)]


def gain_bound(prog: P.Program, loop: P.Loop, k: int) -> int:
    """At most how much sooner (ns) the loop's ``k`` threads can finish cut in phases
    than in contiguous shares: the last round's idle time, ``ceil(n / k)``
    iterations' time against the work spread evenly (or one iteration's time)."""
    n, t = loop.var.count, sum(durations(prog, loop))
    return -(-n // k) * t - max(t, n * t // k)


def solve(
    chains: int, d: list[int], k: int, phases: int = PHASES
) -> list[list[tuple[int, int]]] | None:
    """For ``chains`` iterations of tasks of durations ``d`` on ``k`` threads: per
    iteration, per task, its (phase, thread); None if the solver found none in its
    time (it starts from the contiguous shares, all in phase 0, as a hint)."""
    try:
        from ortools.sat.python import cp_model  # lazily: only programs that need it pay
    except ImportError as e:  # a dependency of acic (pyproject.toml): an incomplete install
        raise RuntimeError(
            "the balancer's task-granular split needs OR-Tools: `make setup` or "
            "`pip install ortools` installs it"
        ) from e

    m = len(d)
    md = cp_model.CpModel()
    weighted = cp_model.LinearExpr.weighted_sum
    x = {
        (i, j, p, s): md.new_bool_var(f"x{i}_{j}_{p}_{s}")
        for i in range(chains)
        for j in range(m)
        for p in range(phases)
        for s in range(k)
    }
    y = {
        (i, p, s): md.new_bool_var(f"y{i}_{p}_{s}")
        for i in range(chains)
        for p in range(phases)
        for s in range(k)
    }
    total = sum(d) * chains
    span = [md.new_int_var(0, total, f"span{p}") for p in range(phases)]
    ps = [(p, s) for p in range(phases) for s in range(k)]
    for i in range(chains):
        phase = []
        for j in range(m):
            md.add_exactly_one(x[i, j, p, s] for p, s in ps)
            for p, s in ps:
                md.add_implication(x[i, j, p, s], y[i, p, s])
            phase.append(weighted([x[i, j, p, s] for p, s in ps], [p for p, _ in ps]))
        for j in range(1, m):
            md.add(phase[j - 1] <= phase[j])
        for p in range(phases):
            md.add_at_most_one(y[i, p, s] for s in range(k))
    cells = [(i, j) for i in range(chains) for j in range(m)]
    for p in range(phases):
        loads = [
            weighted([x[i, j, p, s] for i, j in cells], [d[j] for _, j in cells]) for s in range(k)
        ]
        for s in range(k):
            md.add(loads[s] <= span[p])
            if s:
                md.add(loads[s] <= loads[s - 1])
    # the lowest it can be: the work spread evenly
    md.add(sum(span) * k >= total)
    md.minimize(sum(span))
    for (i, _, p, s), var in x.items():  # contiguous shares, all in phase 0
        md.add_hint(var, p == 0 and s == i % k)
    for (i, p, s), var in y.items():
        md.add_hint(var, p == 0 and s == i % k)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = SOLVER_SEED
    solver.parameters.max_deterministic_time = SOLVER_SECONDS
    solver.parameters.relative_gap_limit = GAP  # near the even spread is good enough
    status = solver.solve(md)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return [
        [
            next(
                (p, s)
                for p in range(phases)
                for s in range(k)
                if solver.boolean_value(x[i, j, p, s])
            )
            for j in range(m)
        ]
        for i in range(chains)
    ]


def _at(t: P.Task, v: Var, value: int) -> P.Task:
    """The task of iteration ``value`` of the loop over ``v``."""
    values = {v: Affine.of(value)}
    return record.evolve(
        t, ports=tuple(record.evolve(r, offset=r.offset.substitute(values)) for r in t.ports)
    )


def phased(
    prog: P.Program, w: P.Window, loop: P.Loop, k: int, uid, substitute, force: bool = False
) -> P.Window | None:
    """The window with its loop cut over ``k`` threads in phases (module doc), or None
    when the solver's split is no better than contiguous shares by its own measure
    (unless ``force``: the tests cut loops whatever the durations)."""
    v, n = loop.var, loop.var.count
    d = durations(prog, loop)
    q = n // k
    lead = max(0, q - 1)  # whole iterations per thread in the first parsec
    chains = n - lead * k
    cut = solve(chains, d, k)
    if cut is None:
        return None
    phases = max(p for c in cut for p, _ in c) + 1
    loads = [[0] * k for _ in range(phases)]
    for c in cut:
        for j, (p, s) in enumerate(c):
            loads[p][s] += d[j]
    if not force and sum(max(row) for row in loads) >= -(-chains // k) * sum(d):
        return None  # no better than contiguous shares
    th0 = w.parsecs[0].threads[0]
    parsecs = []
    if lead:
        threads = []
        for s in range(k):
            nv = Var(v.name, v.start + s * lead, lead, v.kind, uid())
            body = tuple(substitute(b, v, nv) for b in loop.body)
            threads.append(P.Thread(None, (P.Loop(nv, body, loop.span),), th0.span))
        parsecs.append(P.Parsec(tuple(threads), w.parsecs[0].span))
    first = v.start + lead * k
    for p in range(phases):
        threads = []
        for s in range(k):
            body = tuple(
                _at(t, v, first + i)
                for i, c in enumerate(cut)
                for t, (tp, ts) in zip(_tasks(loop), c, strict=True)
                if (tp, ts) == (p, s)
            )
            if body:
                threads.append(P.Thread(None, body, th0.span))
        if threads:
            parsecs.append(P.Parsec(tuple(threads), w.parsecs[0].span))
    return record.evolve(w, parsecs=tuple(parsecs))
