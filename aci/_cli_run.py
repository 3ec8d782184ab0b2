"""``acic run``: simulate a program or an image on the board it was built for.

``add_run_parser(subparsers)`` adds the command to ``acic``'s parser;
``cmd_run(args) -> int`` runs it. A ``.aci`` source is compiled in memory
(:func:`aci.pipeline.compile_file`; its SourceError propagates for the CLI to
render); any other file is read as an image. The run is an engine's
(:mod:`aci.engine`): ``--engine NAME`` picks one from its registry (default: the
Python interpreter, :mod:`aci.run`); the options an engine declares are added to
this command and passed to it, and giving one to another engine is a usage error.

Prints a summary (or ``--json``: one JSON object) on stdout. Exit 0 on a completed
run; 1 with a one-line ``acic: error: ...`` on stderr for a refused image or a
run-time error (file, byte offset, source line when known), and for input errors
(bad ``--set`` data, unknown buffer, unreadable or unwritable file) raised as
:class:`aci.diagnostics.AciError`; ``UsageError`` for malformed flags. Output files
(``--get``, ``--trace``) are written whole or not at all: each goes to a temporary
file in its directory, renamed over the target at the end. The trace is written for
failed runs too (it ends with the ``error`` event); buffers only after a completed
run. A progress bar goes to stderr when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from ._cli_args import UsageError, add_include, parse_defines
from ._io import PendingOutput, ProgressBar, check_output, read_input
from .engine import ENGINES, MODES, open_engine, run_on
from .timing import format_ns

# The engines and the trace views pull in numpy and pyvcd: cmd_run imports them, so
# that adding this command to the parser costs other commands nothing at start-up.
TRACE_FORMATS = ("jsonl", "perfetto", "vcd")


def add_run_parser(subparsers) -> argparse.ArgumentParser:
    c = subparsers.add_parser("run", help="simulate a program or an image on its board")
    c.add_argument("file", metavar="SOURCE.aci|IMAGE.acx")
    c.add_argument(
        "-D",
        dest="define",
        action="append",
        metavar="NAME=VALUE",
        help="override a const (sources only)",
    )
    add_include(c)
    c.add_argument("--program", metavar="NAME", help="the program to run (sources only)")
    c.add_argument("--mode", choices=MODES, help="execution mode (default: the image's own)")
    c.add_argument(
        "--set",
        dest="set",
        action="append",
        default=[],
        metavar="BUF=FILE",
        help="initial contents of a buffer: a .npy array or raw bytes",
    )
    c.add_argument(
        "--get",
        dest="get",
        action="append",
        default=[],
        metavar="BUF=FILE",
        help="write a buffer after the run: .npy (dtype and shape) or raw bytes",
    )
    c.add_argument("--trace", metavar="FILE", help="write the run's trace")
    c.add_argument(
        "--trace-format",
        choices=TRACE_FORMATS,
        help="jsonl (canonical), perfetto or vcd (default: from the extension: "
        ".json perfetto, .vcd vcd, else jsonl)",
    )
    c.add_argument(
        "--timing-only", action="store_true", help="simulate time only, run no core models"
    )
    c.add_argument(
        "--models",
        action="append",
        default=[],
        metavar="FILE.py|LIB.so",
        help="functional models of your own cores: a Python model file (python engine) or a C "
        "model library (firmware engine); repeatable (docs/models.md)",
    )
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.add_argument(
        "--engine",
        choices=list(ENGINES),
        default="python",
        help="what runs the image: "
        + "; ".join(f"{e.name}: the {e.title}" for e in ENGINES.values())
        + " (default: python)",
    )
    for e in ENGINES.values():
        for o in e.options:
            c.add_argument(
                o.flag,
                dest=_option_dest(e.name, o.dest),
                metavar=o.metavar,
                help=f"(--engine {e.name}) {o.help}",
            )
    from ._cli_fleet import add_fleet_options

    add_fleet_options(c)
    c.set_defaults(func=cmd_run)
    return c


def _option_dest(engine: str, dest: str) -> str:
    return f"engine_{engine}_{dest}"


def _engine_options(args) -> dict:
    """The options given for the chosen engine; UsageError for another engine's."""
    out = {}
    for e in ENGINES.values():
        for o in e.options:
            value = getattr(args, _option_dest(e.name, o.dest))
            if value is None:
                continue
            if e.name != args.engine:
                raise UsageError(
                    f"{o.flag} is an option of --engine {e.name}, not of {args.engine}"
                )
            out[o.dest] = value
    return out


def _pairs(items: list[str], flag: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, eq, path = item.partition("=")
        if not eq or not name or not path:
            raise UsageError(f"{flag} expects BUF=FILE, got `{item}`")
        out.append((name, path))
    return out


def _trace_format(args) -> str:
    if args.trace_format:
        return args.trace_format
    if args.trace.endswith(".json"):
        return "perfetto"
    if args.trace.endswith(".vcd"):
        return "vcd"
    return "jsonl"


def error_message(path: str, r) -> str:
    """The one-line message for a failed run (an aci.engine.RunResult with an error)."""
    e = r.error
    if not e.runtime:
        return f"{path}: invalid image: {e.name} (code {e.code}) at offset {e.offset}: {e.detail}"
    where = f" ({e.source})" if e.source else ""
    return (
        f"{path}: run-time error {e.name} (code {e.code}) at offset {e.offset}{where}, "
        f"t = {e.t} ns: {e.detail}"
    )


def summary(path: str, r, engine: str = "python") -> str:
    """The text summary of a completed run (an aci.engine.RunResult)."""
    img = r.image
    lines = [
        f"{path}: {r.mode} mode, {r.image_bytes:,}-byte image, {img.target.slots} slots, "
        f"{len(img.cores)} core{'s' if len(img.cores) != 1 else ''}"
        + ("" if engine == "python" else f", run by the {ENGINES[engine].title}"),
        f"total       {format_ns(r.total_ns)} (image received at {format_ns(r.t0)}, "
        f"last operation ended at {format_ns(r.t_end)})",
        f"PR          {r.pr_count:,} reconfiguration{'s' if r.pr_count != 1 else ''}, "
        f"{format_ns(r.pr_ns)} of ICAP time",
        f"tasks       {r.tasks:,}",
        f"{'slot':<6}{'busy':>16}{'reconfiguring':>16}{'idle':>16}{'operations':>12}",
    ]
    for s, u in enumerate(r.slots):
        lines.append(
            f"{s:<6}{format_ns(u.busy_ns):>16}{format_ns(u.reconfiguring_ns):>16}"
            f"{format_ns(u.idle_ns):>16}{u.operations:>12,}"
        )
    return "\n".join(lines) + "\n"


def _program(args) -> bytes:
    if args.file.endswith(".aci"):
        from .pipeline import compile_file

        return compile_file(
            args.file, parse_defines(args.define), args.program, args.mode or "strict"
        ).data
    if args.define or args.program:
        raise UsageError("-D and --program apply to a .aci source, not to an image")
    return read_input(args.file, "image")


def _warn(args, data: bytes, gets) -> None:
    """Warnings of a run that goes ahead: what the user asked may not mean what they think."""
    from . import format as F

    if gets and args.timing_only:
        sys.stderr.write(
            "acic: warning: --get under --timing-only: no core computes, so the buffers written "
            "hold what they held before the run (zeros, a `from` file or --set)\n"
        )
    if (
        args.mode == "dataflow"
        and len(data) >= F.HEADER.size
        and data[:4] == F.MAGIC
        and not F.HEADER.unpack(data)["flags"] & 1
    ):
        sys.stderr.write(
            f"acic: warning: {args.file} was scheduled for strict mode (it has no waits): run in "
            "dataflow mode, its threads may race and its memory is not defined\n"
        )


def cmd_run(args) -> int:
    if args.boards is not None:
        from ._cli_fleet import run_fleet

        return run_fleet(args, _pairs)
    for flag in ("batch", "cuts", "replicas"):
        if getattr(args, flag) is not None:
            raise UsageError(f"--{flag} is an option of a run on --boards")
    engine = open_engine(
        args.engine, **_engine_options(args)
    )  # a missing engine, before any compiling
    try:
        return _run(args, engine)
    finally:
        engine.close()


def _run(args, engine) -> int:
    if args.models:
        if not hasattr(engine, "models"):
            raise UsageError(
                f"--models: the {args.engine} engine runs no user models (python and firmware do)"
            )
        engine.models = tuple(args.models)
    from .board import DataError
    from .trace import JsonlWriter, to_perfetto, write_vcd

    sets, gets = _pairs(args.set, "--set"), _pairs(args.get, "--get")
    data = _program(args)
    _warn(args, data, gets)
    for _, path in gets:
        check_output(path, "buffer file")
    trace_file = PendingOutput(args.trace, "trace", text=True) if args.trace else None
    fmt = _trace_format(args) if args.trace else None
    events: list[Mapping] = []
    # An engine that reports nothing until the run ends never draws the bar.
    bar = ProgressBar(sys.stderr, "operations") if sys.stderr.isatty() else None
    try:
        tracer: Callable[[Mapping], None] | None = None
        if trace_file is not None:
            tracer = JsonlWriter(trace_file.stream) if fmt == "jsonl" else events.append
        try:
            result = run_on(
                engine,
                data,
                args.mode,
                inputs={name: Path(p) for name, p in sets},
                outputs=[name for name, _ in gets],
                timing_only=args.timing_only,
                trace=tracer,
                progress=bar,
            )
        except DataError as e:
            raise DataError(f"{args.file}: {e}", e.buffer) from None
        finally:
            if bar:
                bar.clear()
        if trace_file is not None and fmt == "perfetto":
            json.dump(to_perfetto(events), trace_file.stream)
        elif trace_file is not None and fmt == "vcd":
            img = result.image
            write_vcd(
                events,
                trace_file.stream,
                {c.name: c.id for c in img.cores} if img else None,
                img.target.slots if img else None,
            )
    except BaseException:
        if trace_file:
            trace_file.discard()
        raise
    if trace_file:
        trace_file.commit()
    if args.json:
        print(json.dumps({"file": args.file, "engine": args.engine, **result.to_json()}, indent=1))
    if result.error is not None:
        sys.stderr.write(f"acic: error: {error_message(args.file, result)}\n")
        return 1
    for name, path in gets:
        assert result.board is not None  # --get makes the run functional: it has its board
        result.board.save(name, path)
    if not args.json:
        sys.stdout.write(summary(args.file, result, args.engine))
    return 0
