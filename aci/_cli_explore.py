"""``acic explore``: compile and simulate a program over every combination of consts.

``add_explore_parser(subparsers)`` adds the command to ``acic``'s parser;
``cmd_explore(args) -> int`` runs it with :func:`aci.explore.explore`.

    acic explore FILE.aci -D NAME=V1,V2,... [-D ...] [--mode strict,dataflow]
                 [--program P,...] [--jobs N] [--json] [--plot OUT.png|OUT.svg]
    acic explore FILE.aci --boards N,... [-D BATCH=B] [-D NAME=V ...] [--program P] [--json]

With ``--boards`` it sweeps the number of boards instead: the planner's best plan for
each (``acic plan --boards N,...``, :mod:`aci._cli_system`), one row per number.
Otherwise it prints the table (or ``--json``: ``{"file": ..., "rows": [...]}``, the rows of
:mod:`aci.explore`) on stdout; ``--plot`` draws total time against the first
swept const. A progress bar goes to stderr when stderr is a terminal.

Exit 0 when every combination ran; 1 when one failed (its row says why; the others
still ran and are printed), for a sweep value that is not an integer, and for what
fails every combination alike (a ``-D`` naming no const, an unknown ``--program``:
the checker's SourceError, which the CLI renders); ``UsageError`` (exit 2) for bad
flags: a ``-D`` that is not ``NAME=VALUES``, an unknown mode, ``--jobs`` under 1,
a ``--plot`` file that is neither ``.png`` nor ``.svg``, or without a ``-D``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ._cli_args import UsageError, add_include
from ._io import OutputError, ProgressBar
from .format import MODES as _FORMAT_MODES

MODES = tuple(_FORMAT_MODES)


def add_explore_parser(subparsers) -> argparse.ArgumentParser:
    c = subparsers.add_parser("explore", help="compile and simulate a program over swept consts")
    c.add_argument("file", metavar="FILE.aci")
    c.add_argument(
        "-D",
        dest="define",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="values of a const to sweep (one value fixes it); repeatable",
    )
    add_include(c)
    c.add_argument(
        "--mode",
        default="strict",
        metavar="strict,dataflow",
        help="execution modes, comma-separated (default: strict)",
    )
    c.add_argument("--program", metavar="P,...", help="programs of the file, comma-separated")
    c.add_argument(
        "--jobs", type=int, metavar="N", help="worker processes (default: the machine's cores)"
    )
    c.add_argument("--json", action="store_true", help="print the rows as JSON")
    c.add_argument(
        "--plot", metavar="OUT.png|OUT.svg", help="draw total time against the first swept const"
    )
    c.add_argument(
        "--boards",
        metavar="N,...",
        help="sweep the number of boards instead: the best plan for each (as acic plan --boards); "
        "-D BATCH=B sets images per batch (default 100), other -D fix consts",
    )
    c.set_defaults(func=cmd_explore)
    return c


def explore_boards(args) -> int:
    """``--boards``: the planner's sweep over the number of boards (docs/system.md)."""
    from ._cli_system import cmd_plan

    fixed, batch = [], 100
    for d in args.define:
        name, _, values = d.partition("=")
        if "," in values:
            raise UsageError(f"with --boards, -D fixes a const (one value), not `{d}`")
        if name == "BATCH":
            try:
                batch = int(values)
            except ValueError:
                raise UsageError(f"-D BATCH expects a whole number, got `{values}`") from None
        else:
            fixed.append(d)
    if args.plot or args.mode != "strict" or (args.program and "," in args.program):
        raise UsageError("--boards takes neither --plot, --mode nor several --program")
    plan = argparse.Namespace(
        file=args.file,
        boards=args.boards,
        sweep=True,  # one row per number of boards, even for one
        batch=batch,
        batches=None,
        link_gbps=10.0,
        latency_us=20.0,
        program=args.program,
        define=fixed,
        json=args.json,
        perfetto=None,
        bundle=None,
        output=None,
    )
    return cmd_plan(plan)


def _list(text: str, flag: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise UsageError(f"{flag} expects a comma-separated list, got `{text}`")
    return list(dict.fromkeys(items))


def cmd_explore(args) -> int:
    from .explore import PLOT_FORMATS, SpecSyntaxError, combinations, explore, plot, table

    if args.boards:
        return explore_boards(args)
    modes = _list(args.mode, "--mode")
    for m in modes:
        if m not in MODES:
            raise UsageError(f"--mode: unknown mode `{m}` (modes: {', '.join(MODES)})")
    programs = _list(args.program, "--program") if args.program else [None]
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.plot:
        if not args.define:
            raise UsageError("--plot needs a const to put on the x axis: -D NAME=V1,V2,...")
        if os.path.splitext(args.plot)[1].lower().lstrip(".") not in PLOT_FORMATS:
            raise UsageError(f"--plot writes .png or .svg, not `{args.plot}`")
        directory = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(directory):  # found out before the sweep, not after it
            raise OutputError(f"cannot write plot `{args.plot}`: no directory `{directory}`")
    try:
        sweeps = combinations(args.define)
    except SpecSyntaxError as e:
        raise UsageError(str(e)) from None
    bar = ProgressBar(sys.stderr, "combinations") if sys.stderr.isatty() else None
    try:
        rows = explore(args.file, sweeps, modes, programs, args.jobs, bar)
    finally:
        if bar:
            bar.clear()
    if args.json:
        print(json.dumps({"file": args.file, "rows": rows}, indent=1))
    else:
        sys.stdout.write(table(rows))
    failed = sum(not r["ok"] for r in rows)
    if args.plot and failed < len(rows):
        plot(rows, args.plot, os.path.basename(args.file))
    if failed:
        sys.stderr.write(
            f"acic: error: {failed} of {len(rows)} combination{'s' if len(rows) != 1 else ''} "
            "failed (see their rows)\n"
        )
        return 1
    return 0
