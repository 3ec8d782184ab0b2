"""The command line: ``acic check | compile | asm | disasm | dump | schedule | run``.

Only this module renders diagnostics and chooses exit codes: 0 success, 1 errors in
the input (source, image, data files), 2 usage errors (bad flags), 3 an internal
error (a bug in acic, reported without a traceback unless ACIC_DEBUG is set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .diagnostics import AciError, SourceError, render_json, render_text

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    pass


def _colour(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def parse_defines(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, eq, value = item.partition("=")
        if not eq or not name.isidentifier() or not value:
            raise UsageError(f"-D expects NAME=VALUE, got `{item}`")
        out[name] = value
    return out


def report(err: SourceError, sources: dict[str, str], fmt: str) -> None:
    if fmt == "json":
        print(render_json(err.diagnostics))
    else:
        sys.stderr.write(render_text(err.diagnostics, sources, _colour(sys.stderr)))
        n = len(err.diagnostics)
        sys.stderr.write(f"{n} error{'s' if n != 1 else ''}\n")


def load_and_check(path: str, defines: dict[str, str]):
    """(unit, sources); raises SourceError carrying the sources it read."""
    from .check import check
    from .parse import load
    sources: dict[str, str] = {}
    try:
        loaded = load(path)
        sources = loaded.sources
        return check(loaded, defines), sources
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
    defines = parse_defines(args.define)
    all_diags, sources, results = [], {}, []
    for path in args.files:
        try:
            unit, src = load_and_check(path, defines)
            sources.update(src)
            results.append({"file": path, "programs": sorted(unit.programs)})
        except SourceError as e:
            all_diags.extend(e.diagnostics)
            sources.update(getattr(e, "sources", {}) or {})
    if all_diags:
        report(SourceError(all_diags), sources, args.format)
        return EXIT_ERRORS
    if args.format == "json":
        print(json.dumps({"diagnostics": [], "files": results}, indent=2))
    else:
        for r in results:
            progs = ", ".join(r["programs"]) or "no programs"
            print(f"{r['file']}: ok ({progs})")
    return EXIT_OK


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="acic", description="The toolchain for ACI programs.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    c = sub.add_parser("check", help="check .aci files and report every error")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("-D", dest="define", action="append", metavar="NAME=VALUE",
                   help="override a const")
    c.add_argument("--format", choices=["text", "json"], default="text")
    c.set_defaults(func=cmd_check)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except UsageError as e:
        sys.stderr.write(f"acic: error: {e}\n{parser.format_usage()}")
        return EXIT_USAGE
    except SourceError as e:
        report(e, getattr(e, "sources", {}) or {}, getattr(locals().get("args"), "format", "text"))
        return EXIT_ERRORS
    except AciError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_ERRORS
    except KeyboardInterrupt:
        sys.stderr.write("acic: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # a bug in acic: say so plainly, without a traceback
        if os.environ.get("ACIC_DEBUG"):
            raise
        sys.stderr.write(f"acic: internal error: {type(e).__name__}: {e}\n"
                         "This is a bug in acic; set ACIC_DEBUG=1 for a traceback.\n")
        return EXIT_INTERNAL
