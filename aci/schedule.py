"""Stage 6, schedule: give every task a slot and every window its PR requests.

``schedule(program, mode)`` returns the same :class:`aci.program.Program` with every
task's ``slot`` set and every window's ``reconfigure`` list final: the explicit
requests of the source, then the inferred ones in order of first use; a request is
dropped where the slot is known to hold the core already (elision). Inside a
``repeat`` a request is kept unless the slot holds the core on entry to every
iteration (the board also skips a RECONF for a slot that holds its core). Raises
SourceError E067 when a window needs more slots than the target has.

This is the simplest correct assignment: threads take slots that already hold
their core, then free slots, lowest first.
"""

from __future__ import annotations

from . import program as P
from . import record
from .diagnostics import Diagnostic, SourceError, error

State = dict[int, str]  # slot -> name of the core it holds


def schedule(prog: P.Program, mode: str = "strict") -> P.Program:
    diags: list[Diagnostic] = []
    state: State = {}
    body: list[P.Window | P.Repeat] = []
    for node in prog.body:
        if isinstance(node, P.Window):
            w, changed = _window(prog, node, [state], diags)
            state = {**state, **changed}
            body.append(w)
        else:
            # The state entering iteration 2 and later is what one iteration leaves.
            _, after_one = _windows(prog, node.windows, [state], [])
            windows, state = _windows(prog, node.windows, [state, after_one], diags)
            body.append(record.evolve(node, windows=tuple(windows)))
    if diags:
        raise SourceError(diags)
    return record.evolve(prog, body=tuple(body))


def _windows(prog, windows, entries: list[State], diags):
    out = []
    for w in windows:
        w, last = _window(prog, w, entries, diags)
        entries = [{**e, **last} for e in entries]
        out.append(w)
    return out, entries[-1]


def _window(prog: P.Program, w: P.Window, entries: list[State], diags) -> tuple[P.Window, State]:
    """The window with slots and requests, and the cores it puts on its slots."""
    slots = prog.target.slots
    prefer = entries[-1]
    mapping: dict[int, P.Core] = {r.slot: r.core for r in w.reconfigure}
    first_use: list[int] = []
    for t in (t for p in w.parsecs for t in P.walk_tasks(p)):
        if t.slot is not None:
            mapping.setdefault(t.slot, t.core)
    parsecs = []
    for p in w.parsecs:
        owned = {}  # slot -> index of the thread that uses it
        for k, th in enumerate(p.threads):
            for t in P.walk_tasks(th):
                if t.slot is not None:
                    owned[t.slot] = k
        threads = []
        for k, th in enumerate(p.threads):
            chosen: dict[str, int] = {}

            # this thread's k, choices and the parsec's owners, bound now (B023)
            def assign(
                task: P.Task,
                *,
                k: int = k,
                chosen: dict[str, int] = chosen,
                owned: dict[int, int] = owned,
            ) -> P.Task:
                if task.slot is not None:
                    return task
                c = task.core
                if c.name not in chosen:
                    free = [s for s in range(slots) if owned.get(s, k) == k]
                    ranked = (
                        [s for s in free if s in mapping and mapping[s].name == c.name]
                        + [s for s in free if s not in mapping and prefer.get(s) == c.name]
                        + [s for s in free if s not in mapping and s not in prefer]
                        + [s for s in free if s not in mapping]
                    )
                    if not ranked:
                        diags.append(
                            error(
                                "E067",
                                f"no slot is left for `{c.name}`: this window already uses "
                                f"all {slots} slots of `{prog.target.name}` for other cores",
                                task.span,
                            )
                        )
                        chosen[c.name] = 0
                        return record.evolve(task, slot=0)
                    chosen[c.name] = ranked[0]
                    mapping[ranked[0]] = c
                    owned[ranked[0]] = k
                return record.evolve(task, slot=chosen[c.name])

            threads.append(_map_tasks(th, assign))
        parsecs.append(record.evolve(p, threads=tuple(threads)))
    for t in (t for p in parsecs for t in P.walk_tasks(p)):
        if t.slot not in first_use:
            first_use.append(t.slot)

    def held(s: int, core: P.Core) -> bool:
        return all(e.get(s) == core.name for e in entries)

    requests = [r for r in w.reconfigure if not held(r.slot, r.core)]
    explicit = {r.slot for r in w.reconfigure}
    for s in first_use:
        if s not in explicit and not held(s, mapping[s]):
            requests.append(P.Reconfigure(s, mapping[s], w.span))
    state = {s: c.name for s, c in mapping.items()}
    return record.evolve(w, reconfigure=tuple(requests), parsecs=tuple(parsecs)), state


def _map_tasks(node, f):
    if isinstance(node, P.Task):
        return f(node)
    return record.evolve(node, body=tuple(_map_tasks(b, f) for b in node.body))
