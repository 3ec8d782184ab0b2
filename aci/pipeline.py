"""The pipeline: from a source file to the bytes of an image, stage by stage.

Each stage is a module named for it whose docstring states its whole contract; a
stage reads the previous stage's output and imports no later stage (a test checks
the import graph: the facts every stage shares -- the timing record, the CRC, number
literals -- live below all of them, in aci.timing, aci.format and aci.units).

====  ========  ===============================  ==============================================  ===========
 #    stage     call                             in -> out                                       raises
====  ========  ===============================  ==============================================  ===========
 1    load      ``aci.parse.load(path)``         a .aci file -> ``Loaded``: the ASTs of it and   SourceError
                                                 its imports, and their text
 2    check     ``aci.check.check(loaded, -D)``  ``Loaded`` -> ``Unit``: checked programs        SourceError
                                                 (aci.program): names resolved, constants
                                                 evaluated, ``for`` expanded, every rule held,
                                                 each buffer and bitstream in its memory
 3    place     ``aci.place.place(p)``           a checked program -> the same, every buffer     SourceError
                                                 and bitstream at an address in its memory       (E070-E072)
                                                 (``Buffer.address``)
 4    pipe-     ``aci.pipelining.pipelining``    a placed program -> the same, each eligible     --
      lining    ``(p, m)``                       repeat's iterations grouped, scratch buffers
                                                 renamed (dataflow mode only)
 5    balance   ``aci.balance.balance(p, c, e)`` -> the same, loops split over slots where the   --
                                                 program leaves it to the compiler; ``c``:
                                                 ``aci.balance.estimate``, ``e``: the same
                                                 with ``extrapolate=False``
 6    schedule  ``aci.schedule.schedule(p, m)``  -> every task on a slot, every window's         SourceError
                                                 RECONFs final                                   (E067)
 7    waits     ``aci.waits.waits(p)``           a scheduled program -> the same with every      --
                                                 task's ``waits`` (dataflow mode only)
 8    lower     ``aci.lower.lower(p, m)``        -> an ``aci.image.Image``; it needs stage 3,    --
                                                 a dataflow image stage 7 (ValueError: a bug)
 9    encode    ``aci.encode.encode(img)``       ``Image`` -> bytes (``aci.decode`` mirrors it)  --
====  ========  ===============================  ==============================================  ===========

:data:`STAGES` lists them as data; :func:`compile_file` runs them all for one program
of a file and returns a :class:`Compiled` (the checked program, the scheduled one,
the Image and its bytes); it raises SourceError (diagnostics) only, carrying the
sources read for the CLI to render. Running the stages one by one through the public
API (``aci.load``, ``aci.check``, ...) gives the same bytes (a test holds them equal).
"""

from __future__ import annotations

import attrs

from . import program as P
from .balance import balance, estimate
from .check import Unit, check
from .diagnostics import SourceError, error
from .encode import encode
from .image import Image
from .lower import lower
from .parse import load
from .pipelining import pipelining
from .place import place
from .schedule import schedule
from .waits import waits


@attrs.frozen
class Stage:
    name: str
    module: str  # the module named for the stage, which states its contract
    function: str  # its entry point, exported by the aci package


STAGES = (
    Stage("load", "aci.parse", "load"),
    Stage("check", "aci.check", "check"),
    Stage("place", "aci.place", "place"),
    Stage("pipelining", "aci.pipelining", "pipelining"),
    Stage("balance", "aci.balance", "balance"),
    Stage("schedule", "aci.schedule", "schedule"),
    Stage("waits", "aci.waits", "waits"),
    Stage("lower", "aci.lower", "lower"),
    Stage("encode", "aci.encode", "encode"),
)


@attrs.frozen
class Compiled:
    checked: P.Program  # checked and placed
    scheduled: P.Program
    image: Image
    data: bytes
    sources: dict
    warnings: tuple = ()  # the checker's warnings (W codes) about the source


def pick_program(unit: Unit, name: str | None, path: str) -> P.Program:
    if name is None:
        if len(unit.programs) == 1 and not unit.systems:
            return next(iter(unit.programs.values()))
        which = ", ".join(sorted(unit.programs)) or "none"
        if unit.systems:
            which += "; systems: " + ", ".join(sorted(unit.systems))
        raise SourceError(
            [
                error(
                    "E091",
                    f"`{path}` has {len(unit.programs)} programs ({which}); "
                    "choose one with --program"
                    if unit.programs
                    else f"`{path}` declares no program",
                    None,
                )
            ]
        )
    if name not in unit.programs:
        which = ", ".join(sorted(unit.programs)) or "none"
        if unit.systems:
            which += "; systems: " + ", ".join(sorted(unit.systems))
        raise SourceError(
            [error("E091", f"no program `{name}` in `{path}` (programs: {which})", None)]
        )
    return unit.programs[name]


def check_file(path: str, defines=None) -> tuple:
    """Stages 1 and 2: (loaded, unit); a SourceError carries the sources read."""
    loaded = load(path)
    try:
        return loaded, check(loaded, defines)
    except SourceError as e:
        e.sources = loaded.sources
        raise


def compile_file(
    path: str, defines=None, program: str | None = None, mode: str = "strict", symbols: bool = True
) -> Compiled:
    loaded = load(path)  # 1
    try:
        unit = check(loaded, defines)  # 2
    except SourceError as e:
        e.sources = loaded.sources
        raise
    return compile_checked(loaded, unit, program, mode, symbols, path)


def compile_checked(
    loaded, unit: Unit, program: str | None, mode: str, symbols: bool, path: str
) -> Compiled:
    """Stages 3 to 9 for the program ``program`` of a checked unit."""
    try:
        prog = place(pick_program(unit, program, path))  # 3
        scheduled, img, data = compile_program(prog, mode, symbols)
    except SourceError as e:
        e.sources = loaded.sources
        raise
    return Compiled(prog, scheduled, img, data, loaded.sources, unit.warnings)


def compile_program(
    prog: P.Program, mode: str = "strict", symbols: bool = True
) -> tuple[P.Program, Image, bytes]:
    """Stages 4 to 9 for one placed program: (scheduled program, image, its bytes);
    SourceError (E067) when its slots cannot be assigned."""
    balanced = balance(
        pipelining(prog, mode),
        lambda p: estimate(p, mode),
        lambda p: estimate(p, mode, extrapolate=False),
    )
    scheduled = schedule(balanced, mode)  # 4, 5, 6
    img = lower(
        waits(scheduled) if mode == "dataflow" else scheduled, mode, symbols=symbols
    )  # 7, 8
    return scheduled, img, encode(img)  # 9
