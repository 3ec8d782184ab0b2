"""The whole pipeline in one call, for the command line and for tests.

``compile_file(path, defines, program, mode)`` loads, checks, balances (when the
program leaves it to the compiler), schedules and lowers one program and returns a :class:`Compiled` (the checked program, the scheduled one,
the Image and its bytes). Raises SourceError (diagnostics) only.
"""

from __future__ import annotations

import attrs

from . import program as P
from .check import Unit, check
from .balance import balance, substitute
from . import deps
from .deps import count_operations, waits
from .diagnostics import SourceError, error
from .encode import encode
from .image import Image, Repeat
from .lower import lower
from .machine import simulate
from .parse import load
from .schedule import schedule


@attrs.frozen
class Compiled:
    checked: P.Program
    scheduled: P.Program
    image: Image
    data: bytes
    sources: dict


def pick_program(unit: Unit, name: str | None, path: str) -> P.Program:
    if name is None:
        if len(unit.programs) == 1:
            return next(iter(unit.programs.values()))
        which = ", ".join(sorted(unit.programs)) or "none"
        raise SourceError([error("E091", f"`{path}` has {len(unit.programs)} programs ({which}); "
                                 "choose one with --program" if unit.programs else f"`{path}` declares no program",
                                 None)])
    if name not in unit.programs:
        which = ", ".join(sorted(unit.programs)) or "none"
        raise SourceError([error("E091", f"no program `{name}` in `{path}` (programs: {which})", None)])
    return unit.programs[name]


def compile_file(path: str, defines=None, program: str | None = None, mode: str = "strict",
                 symbols: bool = True) -> Compiled:
    loaded = load(path)
    try:
        unit = check(loaded, defines)
        prog = pick_program(unit, program, path)
        scheduled = schedule(balance(prog, lambda p: estimate(p, mode)), mode)
    except SourceError as e:
        e.sources = loaded.sources
        raise
    img = lower(scheduled, mode, waits(scheduled) if mode == "dataflow" else None, symbols=symbols)
    return Compiled(prog, scheduled, img, encode(img), loaded.sources)


ESTIMATE_REPEATS = 2


def estimate(prog: P.Program, mode: str) -> int:
    """Simulated time of a candidate schedule, for the balancer. A long repeat is
    simulated for R and 2R iterations and extrapolated from the difference: its body
    is scheduled the same way in every iteration, so the run settles into a period."""
    r = ESTIMATE_REPEATS
    counts = [n.var.count for n in prog.body if isinstance(n, P.Repeat)]
    long = bool(counts) and max(counts) > 2 * r
    exact = count_operations(prog) <= deps.EXACT_LIMIT  # as the whole program will be analysed
    if long:
        prog = _first_iterations(prog, 2 * r)
    try:
        scheduled = schedule(prog, mode)
    except SourceError:
        return 1 << 62  # not schedulable (too many cores for the slots, say)
    img = lower(scheduled, mode, deps.waits(scheduled, exact) if mode == "dataflow" else None, symbols=False)
    if not long:
        return simulate(img, 0, mode).t_end

    def upto(k: int) -> int:
        body = tuple(attrs.evolve(n, count=min(n.count, k)) if isinstance(n, Repeat) else n for n in img.body)
        return simulate(attrs.evolve(img, body=body), 0, mode).t_end
    once, twice = upto(r), upto(2 * r)
    return twice + (max(counts) - 2 * r) * (twice - once) // r


def _first_iterations(prog: P.Program, n: int) -> P.Program:
    """The program with every repeat cut to its first n iterations."""
    body = []
    for node in prog.body:
        if isinstance(node, P.Repeat) and node.var.count > n:
            var = attrs.evolve(node.var, count=n)
            node = attrs.evolve(node, var=var,
                                windows=tuple(substitute(w, node.var, var) for w in node.windows))
        body.append(node)
    return attrs.evolve(prog, body=tuple(body))
