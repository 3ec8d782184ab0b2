"""The whole pipeline in one call, for the command line and for tests.

``compile_file(path, defines, program, mode)`` loads, checks, balances (when the
program leaves it to the compiler), schedules and lowers one program and returns a :class:`Compiled` (the checked program, the scheduled one,
the Image and its bytes). Raises SourceError (diagnostics) only.
"""

from __future__ import annotations

import attrs

from . import program as P
from .check import Unit, check
from .balance import balance, estimate
from .diagnostics import SourceError, error
from .encode import encode
from .image import Image
from .lower import lower
from .parse import load
from .schedule import schedule
from .waits import waits


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
    img = lower(waits(scheduled) if mode == "dataflow" else scheduled, mode, symbols=symbols)
    return Compiled(prog, scheduled, img, encode(img), loaded.sources)
