"""Stage 1, load (the parser): files to ASTs.

``load(path)`` reads a source file and, transitively, every file it imports (paths
relative to the importing file), and returns the modules in dependency order (each
module after the modules it imports) together with the text of every file read, for
rendering diagnostics. Raises :class:`SourceError` with E001 (unreadable file), E002
(not UTF-8), E003-E005 (lexical and syntax errors) and E012 (import cycle); every
diagnostic of every file is collected before raising.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from . import ast
from ._io import note_input
from ._parser import parse_text
from .diagnostics import Diagnostic, Note, SourceError, error
from .span import Span


@attrs.frozen
class Loaded:
    modules: tuple[ast.Module, ...]
    sources: dict[str, str]


def display_name(path: Path) -> str:
    """How a file is named in messages: relative to the working directory if inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _line_col(data: bytes, pos: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, pos) + 1
    col = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    return line, col


def read_source(path: Path, name: str, where: Span | None) -> str:
    """The text of a source file, or SourceError E001/E002."""
    try:
        data = path.read_bytes()
        note_input(path)
    except IsADirectoryError:
        raise SourceError([error("E001", f"cannot read `{name}`: it is a directory", where)])
    except FileNotFoundError:
        raise SourceError([error("E001", f"cannot read `{name}`: no such file", where)])
    except OSError as e:
        raise SourceError([error("E001", f"cannot read `{name}`: {e.strerror or e}", where)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = _line_col(data, e.start)
        span = Span(name, line, col, line, col + 1, e.start, e.start + 1)
        raise SourceError([error(
            "E002", f"`{name}` is not UTF-8 text: byte 0x{data[e.start]:02x} at offset {e.start}",
            span)])


def load_text(text: str, name: str, base_dir: Path | None = None) -> Loaded:
    """Like :func:`load` for text that is not (or not yet) in a file."""
    loader = _Loader()
    loader.visit_text(text, name, (base_dir or Path.cwd()).resolve() / name, [])
    return loader.finish()


def load(path: str | os.PathLike) -> Loaded:
    loader = _Loader()
    p = Path(path)
    loader.visit(p.resolve() if p.exists() else p, display_name(p), None, [])
    return loader.finish()


class _Loader:
    def __init__(self):
        self.modules: list[ast.Module] = []
        self.sources: dict[str, str] = {}
        self.done: dict[Path, str] = {}
        self.diags: list[Diagnostic] = []

    def finish(self) -> Loaded:
        if self.diags:
            raise SourceError(self.diags)
        return Loaded(tuple(self.modules), self.sources)

    def visit(self, path: Path, name: str, where: Span | None, stack: list[tuple[Path, Span | None]]):
        try:
            text = read_source(path, name, where)
        except SourceError as e:
            self.diags.extend(e.diagnostics)
            return
        self.visit_text(text, name, path, stack, where)

    def visit_text(self, text: str, name: str, path: Path, stack, where: Span | None = None):
        self.done[path] = name
        self.sources[name] = text
        try:
            module = parse_text(text, name)
        except SourceError as e:
            self.diags.extend(e.diagnostics)
            return
        stack = stack + [(path, where)]
        for decl in module.decls:
            if isinstance(decl, ast.Import):
                self._import(decl, path, stack)
        self.modules.append(module)

    def _import(self, imp: ast.Import, importer: Path, stack):
        try:
            target = (importer.parent / imp.path).resolve()
        except (OSError, ValueError) as e:  # a NUL byte, a path too long to resolve
            self.diags.append(error("E001", f"cannot read `{imp.path}`: {getattr(e, 'strerror', None) or e}",
                                    imp.span))
            return
        on_stack = [p for p, _ in stack]
        if target in on_stack:
            chain = on_stack[on_stack.index(target):]
            names = [self.done[p] for p in chain] + [self.done[target]]
            notes = [Note(f"`{self.done[p]}` is imported here", w)
                     for p, w in stack[on_stack.index(target) + 1:] if w is not None]
            self.diags.append(error("E012", "import cycle: " + " -> ".join(names), imp.span, *notes))
            return
        if target in self.done:
            return
        self.visit(target, display_name(target), imp.span, stack)
