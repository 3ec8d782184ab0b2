"""Stage 1, load (the parser): files to ASTs.

``load(path)`` reads a source file and, transitively, every file it imports, and
returns the modules in dependency order (each module after the modules it imports)
together with the text of every file read, for rendering diagnostics. Raises
:class:`SourceError` with E001 (unreadable file), E002 (not UTF-8), E003-E007
(lexical and syntax errors, inputs over the bounds) and E012 (import cycle); every
diagnostic of every file is collected before raising.

An import's path is looked up relative to the importing file first, then in each
directory of the search path (:func:`search_path`): the ``-I`` directories of the
command line (:func:`set_include_dirs`), those of the environment variable
``ACIC_PATH`` (separated by ``os.pathsep``) and last the shipped library
(:func:`aci.resources.library_dir`), so ``import "targets/zcu102.aci"`` works from
anywhere.

Inputs are bounded: only a regular file is read (a FIFO or a device such as
``/dev/zero`` is refused without blocking), at most ``MAX_SOURCE_BYTES`` of it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from . import ast, record
from ._io import note_input
from ._parser import parse_text
from .diagnostics import Diagnostic, Note, SourceError, error
from .span import Span

MAX_SOURCE_BYTES = 1 << 20  # one source file; a larger one is E006

_include: list[Path] = []


def set_include_dirs(dirs) -> None:
    """The ``-I`` directories of this command, searched before ``ACIC_PATH``."""
    _include[:] = [Path(d) for d in dirs or ()]


def search_path() -> list[Path]:
    """Where an import not found beside its importer is looked up, in order."""
    from .resources import library_dir

    env = [Path(d) for d in os.environ.get("ACIC_PATH", "").split(os.pathsep) if d]
    return [*_include, *env, library_dir()]


@record.frozen
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
    """The text of a source file, or SourceError E001/E002/E006."""

    def fail(code: str, why: str):
        raise SourceError([error(code, f"cannot read `{name}`: {why}", where)])

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO nobody writes must not block
    except IsADirectoryError:
        fail("E001", "it is a directory")
    except FileNotFoundError:
        fail("E001", "no such file")
    except (OSError, ValueError) as e:
        fail("E001", getattr(e, "strerror", None) or str(e))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            fail("E001", "it is a directory")
        if not stat.S_ISREG(st.st_mode):
            fail("E001", "it is not a regular file (a device, a FIFO or a socket)")
        if st.st_size > MAX_SOURCE_BYTES:
            fail(
                "E006",
                f"it holds {st.st_size} bytes, over the limit of {MAX_SOURCE_BYTES} bytes for a source file",
            )
        chunks, size = [], 0
        while size <= MAX_SOURCE_BYTES:
            try:
                chunk = os.read(fd, MAX_SOURCE_BYTES + 1 - size)
            except OSError as e:
                fail("E001", e.strerror or str(e))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_SOURCE_BYTES:
            fail("E006", f"it holds over {MAX_SOURCE_BYTES} bytes, the limit for a source file")
        data = b"".join(chunks)
        note_input(fd)
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = _line_col(data, e.start)
        span = Span(name, line, col, line, col + 1, e.start, e.start + 1)
        raise SourceError(
            [
                error(
                    "E002",
                    f"`{name}` is not UTF-8 text: byte 0x{data[e.start]:02x} at offset {e.start}",
                    span,
                )
            ]
        ) from None


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

    def visit(
        self, path: Path, name: str, where: Span | None, stack: list[tuple[Path, Span | None]]
    ):
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
            target = self._find(imp.path, importer)
        except (
            OSError,
            ValueError,
            RuntimeError,
        ) as e:  # a NUL byte, a path too long, a symlink loop
            self.diags.append(
                error(
                    "E001",
                    f"cannot read `{imp.path}`: {getattr(e, 'strerror', None) or e}",
                    imp.span,
                )
            )
            return
        on_stack = [p for p, _ in stack]
        if target in on_stack:
            chain = on_stack[on_stack.index(target) :]
            names = [self.done[p] for p in chain] + [self.done[target]]
            notes = [
                Note(f"`{self.done[p]}` is imported here", w)
                for p, w in stack[on_stack.index(target) + 1 :]
                if w is not None
            ]
            self.diags.append(
                error("E012", "import cycle: " + " -> ".join(names), imp.span, *notes)
            )
            return
        if target in self.done:
            return
        if not os.path.lexists(target) and not Path(imp.path).is_absolute():
            places = ", ".join(f"`{display_name(d)}`" for d in search_path())
            self.diags.append(
                error(
                    "E001",
                    f"cannot find `{imp.path}`: it is neither beside "
                    f"`{self.done.get(importer, display_name(importer))}` nor in the search path "
                    f"({places}; add directories with -I or ACIC_PATH)",
                    imp.span,
                )
            )
            return
        self.visit(target, display_name(target), imp.span, stack)

    @staticmethod
    def _find(name: str, importer: Path) -> Path:
        """Beside the importer, else the first directory of the search path holding
        it; where none does, the path beside the importer (whose reading fails)."""
        beside = (importer.parent / name).resolve()
        if beside.exists() or Path(name).is_absolute():
            return beside
        for d in search_path():
            candidate = d / name
            if candidate.exists():
                return candidate.resolve()
        return beside
