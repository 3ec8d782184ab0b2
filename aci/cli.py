"""The command line: ``acic check | compile | asm | disasm | dump | schedule | run | explore | import``
(``acic --version``; docs/cli.md documents every command and option).

Only this module renders diagnostics and chooses exit codes: 0 success, 1 errors in
the input (source, image, data files), 2 usage errors (bad flags), 3 an internal
error (a bug in acic, reported without a traceback unless ACIC_DEBUG is set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import import_module

from ._cli_args import UsageError, add_include, parse_defines
from ._io import OutputError, read_input, write_atomic
from .diagnostics import AciError, SourceError, render_json, render_text
from .format import MODES

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _colour(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _counts(diags) -> str:
    errors = sum(d.severity == "error" for d in diags)
    warnings = len(diags) - errors
    parts = [f"{errors} error{'s' if errors != 1 else ''}"] if errors else []
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts)


def report(err: SourceError, sources: dict[str, str], fmt: str) -> None:
    if fmt == "json":
        print(render_json(err.diagnostics))
    else:
        sys.stderr.write(render_text(err.diagnostics, sources, _colour(sys.stderr)))
        sys.stderr.write(_counts(err.diagnostics) + "\n")


def report_warnings(warnings, sources: dict[str, str]) -> None:
    """Warnings of an input that is used anyway (text, to stderr)."""
    if warnings:
        sys.stderr.write(render_text(warnings, sources, _colour(sys.stderr)))
        sys.stderr.write(_counts(warnings) + "\n")


def load_and_check(path: str, defines: dict[str, str]):
    """(unit, sources), every program of the unit checked and placed; raises
    SourceError carrying the sources it read."""
    from .check import check
    from .parse import load
    from .place import place

    sources: dict[str, str] = {}
    try:
        loaded = load(path)
        sources = loaded.sources
        unit = check(loaded, defines)
        placement: list = []  # every program's placement errors
        for program in unit.programs.values():
            try:
                place(program)
            except SourceError as e:
                placement.extend(e.diagnostics)
        if placement:
            raise SourceError(dict.fromkeys(placement))
        return unit, sources
    except SourceError as e:
        e.sources = getattr(e, "sources", None) or sources or _sources_of(e)
        raise


def _sources_of(e: SourceError) -> dict[str, str]:
    out = {}
    for d in e.diagnostics:
        for s in [d.span] + [n.span for n in d.notes]:
            if s is not None and s.file not in out:
                try:
                    with open(s.file, encoding="utf-8") as f:
                        out[s.file] = f.read()
                except (OSError, UnicodeDecodeError):
                    pass
    return out


# ---- commands ----------------------------------------------------------------


def cmd_check(args) -> int:
    """Every file is checked on its own; each clean one gets its ok line (text) and
    every file its entry (JSON), whatever the others hold."""
    from .diagnostics import Diagnostic, to_json

    defines = parse_defines(args.define)
    all_diags, sources, results = [], {}, []
    for path in args.files:
        try:
            unit, src = load_and_check(path, defines)
            sources.update(src)
            diags = list(unit.warnings)
            results.append(
                {
                    "file": path,
                    "ok": True,
                    "programs": sorted(unit.programs),
                    "systems": sorted(unit.systems),
                }
            )
        except SourceError as e:
            diags = list(e.diagnostics)
            sources.update(getattr(e, "sources", {}) or {})
            results.append({"file": path, "ok": False, "programs": [], "systems": []})
        results[-1]["diagnostics"] = [to_json(d) for d in diags]
        all_diags.extend(diags)
    all_diags.sort(key=Diagnostic.sort_key)
    failed = any(d.severity == "error" for d in all_diags)
    if args.format == "json":
        print(
            json.dumps({"diagnostics": [to_json(d) for d in all_diags], "files": results}, indent=2)
        )
    else:
        if all_diags:
            sys.stderr.write(render_text(all_diags, sources, _colour(sys.stderr)))
        for r in results:
            if r["ok"]:
                progs = ", ".join(r["programs"]) or "no programs"
                if r["systems"]:
                    progs += "; " + ", ".join(f"system {s}" for s in r["systems"])
                print(f"{r['file']}: ok ({progs})")
        sys.stdout.flush()
        if all_diags:
            sys.stderr.write(_counts(all_diags) + "\n")
    return EXIT_ERRORS if failed else EXIT_OK


def _system_of(unit, name: str | None) -> str | None:
    """The system ``--program`` names, or the file's only one when none is named."""
    if name is not None:
        return name if name in unit.systems else None
    return next(iter(unit.systems)) if len(unit.systems) == 1 else None


def _compile_system(args, loaded, unit, name: str):
    from .system import compile_system

    try:
        return compile_system(unit, name, args.mode, symbols=not getattr(args, "strip", False))
    except SourceError as e:
        e.sources = loaded.sources
        raise


def cmd_compile(args) -> int:
    from .pipeline import check_file, compile_checked

    loaded, unit = check_file(args.file, parse_defines(args.define))
    system = _system_of(unit, args.program)
    if system is not None:
        return _write_bundle(args, loaded, unit, system)
    c = compile_checked(loaded, unit, args.program, args.mode, not args.strip, args.file)
    report_warnings(c.warnings, c.sources)
    out: bytes | str
    if args.emit == "image":
        out = c.data
    elif args.emit == "asm":
        from .asm import disassemble

        out = disassemble(c.image)
    else:
        from .image import as_json

        out = json.dumps(as_json(c.image), indent=1) + "\n"
    if args.output == "-" or (args.output is None and args.emit != "image"):
        sys.stdout.write(out) if isinstance(out, str) else sys.stdout.buffer.write(out)
    else:
        path = args.output or os.path.splitext(os.path.basename(args.file))[0] + ".acx"
        write_atomic(path, out)
        if args.emit == "image":
            sys.stderr.write(f"wrote {path}: {len(out)} bytes\n")
    return EXIT_OK


def _write_bundle(args, loaded, unit, name: str) -> int:
    """``acic compile`` of a system: its bundle (or its listing, or JSON)."""
    from . import bundle

    report_warnings(unit.warnings, loaded.sources)
    data = bundle.encode(_compile_system(args, loaded, unit, name))
    if args.emit == "image":
        out: bytes | str = data
    elif args.emit == "asm":
        out = bundle.listing(bundle.decode(data))
    else:
        out = json.dumps(bundle.to_json(bundle.decode(data)), indent=1) + "\n"
    if args.output == "-" or (args.output is None and args.emit != "image"):
        sys.stdout.write(out) if isinstance(out, str) else sys.stdout.buffer.write(out)
    else:
        path = args.output or os.path.splitext(os.path.basename(args.file))[0] + ".acb"
        write_atomic(path, out)
        if args.emit == "image":
            sys.stderr.write(f"wrote {path}: {len(out)} bytes (bundle of system `{name}`)\n")
    return EXIT_OK


def cmd_asm(args) -> int:
    from .asm import assemble
    from .decode import decode
    from .encode import encode

    text = read_input(args.file, "assembly file").decode("utf-8", errors="replace")
    img = assemble(text, args.file)
    try:
        data = encode(img)
    except (ValueError, OverflowError) as e:
        raise OutputError(f"{args.file}: cannot encode: {e}") from None
    decode(data)  # an assembled image must pass the same validation as any other
    write_atomic(args.output, data)
    return EXIT_OK


def cmd_disasm(args) -> int:
    from .asm import disassemble, listing

    data = read_input(args.image, "image")
    from .bundle import is_bundle

    if is_bundle(data):
        from . import bundle

        if args.annotate:
            raise UsageError("--annotate takes an image, not a bundle")
        sys.stdout.write(bundle.listing(bundle.decode(data)))
        return EXIT_OK
    from .decode import decode

    img = decode(data)
    if args.annotate:
        sources = {}
        for f in img.symbols.files if img.symbols else ():
            try:
                with open(f, encoding="utf-8") as fh:
                    sources[f] = fh.read().split("\n")
            except (OSError, UnicodeDecodeError):
                pass
        sys.stdout.write(listing(data, img, sources))
    else:
        sys.stdout.write(disassemble(img))
    return EXIT_OK


def cmd_dump(args) -> int:
    from .bundle import is_bundle

    data = read_input(args.image, "image")
    if is_bundle(data):
        from . import bundle

        print(json.dumps(bundle.to_json(bundle.decode(data)), indent=1))
        return EXIT_OK
    from .decode import decode
    from .image import as_json

    print(json.dumps(as_json(decode(data)), indent=1))
    return EXIT_OK


def cmd_schedule(args) -> int:
    from . import report
    from .decode import decode
    from .pipeline import check_file, compile_checked
    from .run import run_image

    loaded, unit = check_file(args.file, parse_defines(args.define))
    system = _system_of(unit, args.program)
    if system is not None:
        from ._cli_system import schedule_system

        if args.gantt:
            raise UsageError(
                "--gantt draws one board's slots; a system's trace: acic plan --perfetto"
            )
        return schedule_system(args, _compile_system(args, loaded, unit, system))
    c = compile_checked(loaded, unit, args.program, args.mode, True, args.file)
    events: list[dict] = []
    result = run_image(c.data, args.mode, timing_only=True, trace=events.append)
    img = decode(c.data)
    rep = report.build(img, result, events)
    if args.gantt:
        report.gantt(events, img.target.slots, args.gantt, f"{c.checked.name} ({args.mode})")
    if args.json:
        print(json.dumps(rep, indent=1))
    else:
        sys.stdout.write(report.text(rep))
    return EXIT_ERRORS if result.error else EXIT_OK


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


# Each command's sub-parser, built by "module:function" (one function may add several
# commands), in the order `acic --help` lists them. A command imports only its own
# module: `acic compile` does not import what `acic run` or `acic board` needs.
COMMANDS = {
    "check": "aci.cli:_add_check",
    "compile": "aci.cli:_add_compile",
    "schedule": "aci.cli:_add_schedule",
    "asm": "aci.cli:_add_asm",
    "disasm": "aci.cli:_add_disasm",
    "dump": "aci.cli:_add_dump",
    "run": "aci._cli_run:add_run_parser",
    "explore": "aci._cli_explore:add_explore_parser",
    "import": "aci._cli_import:add_import_parser",
    "plan": "aci._cli_system:add_plan_parser",
    "serve": "aci._cli_serve:add_serve_parser",
    "keygen": "aci._cli_board:add_board_parsers",
    "board": "aci._cli_board:add_board_parsers",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of ``command`` (what running it needs)."""
    from . import __version__

    p = _Parser(prog="acic", description="The toolchain for ACI programs.")
    p.add_argument(
        "--version",
        action="version",
        version=f"acic {__version__}",
        help="print acic's version and exit",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    built = set()
    for name, where in COMMANDS.items():
        if (command is None or name == command) and where not in built:
            built.add(where)
            module, function = where.split(":")
            getattr(import_module(module), function)(sub)
    return p


def _add_check(sub) -> None:
    c = sub.add_parser("check", help="check .aci files and report every error")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument(
        "-D", dest="define", action="append", metavar="NAME=VALUE", help="override a const"
    )
    add_include(c)
    c.add_argument("--format", choices=["text", "json"], default="text")
    c.set_defaults(func=cmd_check)


def _add_compile(sub) -> None:
    c = sub.add_parser("compile", help="compile a program to an ACI image")
    c.add_argument("file", metavar="FILE.aci")
    c.add_argument(
        "-o", "--output", metavar="OUT", help="output file (default: FILE.acx; `-` for stdout)"
    )
    c.add_argument("--program", metavar="NAME")
    c.add_argument(
        "-D", dest="define", action="append", metavar="NAME=VALUE", help="override a const"
    )
    add_include(c)
    c.add_argument("--mode", choices=tuple(MODES), default="strict")
    c.add_argument("--emit", choices=["image", "asm", "json"], default="image")
    c.add_argument("--strip", action="store_true", help="leave out the SYMBOLS section")
    c.set_defaults(func=cmd_compile)


def _add_schedule(sub) -> None:
    c = sub.add_parser("schedule", help="schedule a program and report its timing")
    c.add_argument("file", metavar="FILE.aci")
    c.add_argument("--program", metavar="NAME")
    c.add_argument(
        "-D", dest="define", action="append", metavar="NAME=VALUE", help="override a const"
    )
    add_include(c)
    c.add_argument("--mode", choices=tuple(MODES), default="strict")
    c.add_argument("--json", action="store_true", help="the report as JSON")
    c.add_argument("--gantt", metavar="OUT.png|OUT.svg", help="draw slots against time")
    c.set_defaults(func=cmd_schedule)


def _add_asm(sub) -> None:
    c = sub.add_parser("asm", help="assemble .acs text into an image")
    c.add_argument("file", metavar="FILE.acs")
    c.add_argument("-o", "--output", metavar="OUT.acx", required=True)
    c.set_defaults(func=cmd_asm)


def _add_disasm(sub) -> None:
    c = sub.add_parser("disasm", help="print an image (or a bundle) as assembly text")
    c.add_argument("image", metavar="IMAGE|BUNDLE")
    c.add_argument("--annotate", action="store_true", help="offsets, bytes and source lines")
    c.set_defaults(func=cmd_disasm)


def _add_dump(sub) -> None:
    c = sub.add_parser("dump", help="print every section of an image (or record of a bundle)")
    c.add_argument("image", metavar="IMAGE|BUNDLE")
    c.add_argument("--json", action="store_true", required=True, help="as JSON (the only form)")
    c.set_defaults(func=cmd_dump)


def _with_deep_stack(fn, *args):
    """Run fn in a thread with a large stack and recursion limit: the checker walks
    expressions recursively, and generated sources can nest thousands deep."""
    import threading

    result: dict = {}

    def target():
        try:
            result["value"] = fn(*args)
        except BaseException as e:  # re-raised in the calling thread
            result["error"] = e

    old_limit, old_size = sys.getrecursionlimit(), threading.stack_size()
    sys.setrecursionlimit(max(old_limit, 50_000))
    threading.stack_size(512 * 1024 * 1024)
    try:
        t = threading.Thread(target=target, daemon=True)
        t.start()
    finally:
        threading.stack_size(old_size)
    t.join()
    sys.setrecursionlimit(old_limit)
    if "error" in result:
        raise result["error"]
    return result["value"]


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like SIGINT's KeyboardInterrupt."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def main(argv: list[str] | None = None) -> int:
    import signal

    if argv is None:
        argv = sys.argv[1:]
    # A command named first needs only its own parser; anything else (--help,
    # --version, a mistyped command) gets the parser of every command.
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    handles_signals = _in_main_thread()  # signal handlers can only be set there
    if handles_signals:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(parser, argv)
    except KeyboardInterrupt as e:  # a signal outside _main's own handler
        return _interrupted(e, handles_signals)
    finally:
        if handles_signals:
            signal.signal(signal.SIGTERM, previous)


def _interrupted(e: KeyboardInterrupt, handles_signals: bool) -> int:
    """SIGINT or SIGTERM: undo what is in progress (temporary files, child processes),
    say so, and exit as a shell expects (128 + the signal's number)."""
    import signal

    from ._io import abandon

    if handles_signals:  # a second signal must not cut the clean-up short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        abandon()
    finally:
        if handles_signals:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    terminated = isinstance(e, _Terminated)
    sys.stderr.write(f"acic: {'terminated' if terminated else 'interrupted'}\n")
    return 128 + (signal.SIGTERM if terminated else signal.SIGINT)


def _main(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    from .parse import set_include_dirs

    try:
        args = parser.parse_args(argv)
        set_include_dirs(getattr(args, "include", None))
        return _with_deep_stack(args.func, args)
    except RecursionError:
        sys.stderr.write(
            "acic: error: the input nests too deeply to process (over 50,000 levels)\n"
        )
        return EXIT_ERRORS
    except UsageError as e:
        sys.stderr.write(f"acic: error: {e}\n{parser.format_usage()}")
        return EXIT_USAGE
    except SourceError as e:
        report(e, getattr(e, "sources", {}) or {}, getattr(locals().get("args"), "format", "text"))
        return EXIT_ERRORS
    except AciError as e:
        sys.stderr.write(f"acic: error: {e}\n")
        return EXIT_ERRORS
    except KeyboardInterrupt as e:
        return _interrupted(e, _in_main_thread())
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # a bug in acic: say so plainly, without a traceback
        if os.environ.get("ACIC_DEBUG"):
            raise
        sys.stderr.write(
            f"acic: internal error: {type(e).__name__}: {e}\n"
            "This is a bug in acic; set ACIC_DEBUG=1 for a traceback.\n"
        )
        return EXIT_INTERNAL
