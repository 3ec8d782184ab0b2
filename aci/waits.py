"""Stage 7, waits: the dataflow dependencies of a scheduled program, on the program.

``waits(program, exact=None) -> Program``

In: a scheduled program (every task on a slot, every window's RECONFs final, from
:func:`aci.schedule.schedule`). Out: the same program with every task's ``waits``
set: its WAIT records ``(slot, lag)``, before the task starts slot ``slot`` must
have completed all but the last ``lag`` operations issued to it before the task
(docs/execution.md); a task with no dependency on another slot gets ``()``. The
analysis is :func:`aci.deps.waits` (read after write, write after write and after
read, across threads, windows and repeat iterations; exact below
``aci.deps.EXACT_LIMIT`` operations, sampled above unless ``exact`` says otherwise).
Raises nothing on a program the checker and the scheduler accepted.

The dependencies travel on the program, so that :func:`aci.lower.lower` cannot build
a dataflow image from a program that has not been through this stage.
"""

from __future__ import annotations

from . import deps, record
from . import program as P


def waits(prog: P.Program, exact: bool | None = None) -> P.Program:
    found = deps.waits(prog, exact)

    def body(node):
        if isinstance(node, P.Task):
            return record.evolve(node, waits=found.get(id(node), ()))
        return record.evolve(node, body=tuple(body(b) for b in node.body))

    def window(w: P.Window) -> P.Window:
        return record.evolve(
            w,
            parsecs=tuple(
                record.evolve(
                    p,
                    threads=tuple(
                        record.evolve(th, body=tuple(body(b) for b in th.body)) for th in p.threads
                    ),
                )
                for p in w.parsecs
            ),
        )

    return record.evolve(
        prog,
        body=tuple(
            window(n)
            if isinstance(n, P.Window)
            else record.evolve(n, windows=tuple(window(w) for w in n.windows))
            for n in prog.body
        ),
    )
