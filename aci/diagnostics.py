"""Diagnostics: every error the front end reports, its stable code, and rendering.

The table :data:`CODES` is the one definition of each code: its title and the
explanation shown in ``docs/language.md`` (generated from it). Stages create
:class:`Diagnostic` values and raise :class:`SourceError` with all of them at once;
only the command line renders them (:func:`render_text`, :func:`render_json`).
"""

from __future__ import annotations

import json
from typing import Iterable, Mapping

import attrs

from .span import Span


@attrs.frozen
class Code:
    code: str
    title: str
    explain: str


# Ordered by code. Numbers are stable: a retired code is never reused.
CODES: dict[str, Code] = {c.code: c for c in [
    Code("E001", "cannot read file",
         "A file named on the command line or in an `import` is missing, is a directory or cannot be read."),
    Code("E002", "not UTF-8 text",
         "A source file must be UTF-8 text; the message gives the first byte that is not."),
    Code("E003", "unexpected character",
         "The lexer met a character that starts no token of the language."),
    Code("E004", "syntax error",
         "A token stands where the grammar does not allow it; the message says what was expected."),
    Code("E005", "unexpected end of file",
         "The file ends inside a declaration or block (often a missing `}`)."),
    Code("E010", "unknown name",
         "A name (const, buffer, core, target, memory region, parameter, loop variable, element type, function) is not declared where it is used."),
    Code("E011", "duplicate name",
         "Two declarations of the same kind share a name, or a core id is used twice."),
    Code("E012", "import cycle",
         "A file imports itself, directly or through other files."),
    Code("E013", "bad `-D` override",
         "`-D NAME=VALUE` names no const, or its value is not an integer."),
    Code("E020", "unit mismatch",
         "A quantity has the wrong unit for where it is used (bytes where a time is expected), or units are combined in a way that has no meaning."),
    Code("E021", "not a constant",
         "An expression must be known at compile time here (a parameter, a slot, a dimension, a loop bound, a const) but uses a loop or repeat variable, or a const is defined in terms of itself."),
    Code("E022", "not a whole number",
         "A value must be an integer but the expression gives a fraction (`2.5` with no unit that makes it whole)."),
    Code("E023", "division by zero",
         "A `/` or `%` divides by zero in a constant expression."),
    Code("E024", "value out of range",
         "A number is outside the range its field allows (a slot count of zero, a negative size, a value that does not fit the image format)."),
    Code("E025", "wrong kind of value",
         "A boolean is used where an integer is expected or the reverse, or a buffer where a number is expected."),
    Code("E026", "missing or repeated field",
         "A `target` or `core` lacks a field it needs (`slots`, `id`, `bitstream`, `cycles`, a timing parameter) or gives one twice."),
    Code("E027", "unknown field",
         "A `target` field, resource kind or parameter type the language does not know."),
    Code("E030", "core does not fit a slot",
         "A core needs more of a resource (LUT, FF, BRAM, DSP) than one slot of the target offers."),
    Code("E031", "bad parameter declaration",
         "A parameter's range is empty, its set is empty or repeats a value, or its range does not fit its type."),
    Code("E040", "parameter missing",
         "A task does not give a value for a parameter of its core."),
    Code("E041", "unknown parameter or port",
         "A task names an argument that is neither a parameter nor a port of its core."),
    Code("E042", "parameter of the wrong type",
         "A task gives an integer to a `bool` parameter or a boolean to an integer one."),
    Code("E043", "parameter out of range",
         "A task's parameter value lies outside the range or set its core declares, or outside its type."),
    Code("E045", "port unbound",
         "A task does not bind a port of its core to a buffer region."),
    Code("E046", "argument given twice",
         "A task binds the same port, or gives the same parameter, twice."),
    Code("E047", "port size mismatch",
         "A port is bound to a region whose size differs from the shape the core expects for the task's parameters; both sizes are given."),
    Code("E048", "port element type mismatch",
         "A port is bound to a buffer whose element type differs from the port's."),
    Code("E049", "port bound to a non-buffer",
         "A port must be bound to a buffer or a region of one (`buf`, `buf[i]`, `buf[a .. b]`), not to a number."),
    Code("E050", "index not affine",
         "An index must be an affine function of loop and repeat variables (such as `4 * i + s`) so that the compiler can derive strides; products of variables, division or remainder of a variable are not."),
    Code("E051", "index out of bounds",
         "An index or slice runs outside its buffer's dimension on some iteration; the message names the iteration."),
    Code("E052", "bad subscript",
         "Too many subscripts, a slice that is not the last subscript, an empty slice, or a region of a `bits` buffer that does not start on a 64-bit word."),
    Code("E053", "buffer used against its role",
         "An `input` buffer (written by the host, only read by the board) is bound to an `out` port, or an `output` buffer (only written by the board) to an `in` port."),
    Code("E060", "two threads on one slot",
         "Two threads of one `parsec` (or a thread and another thread's task) name the same slot."),
    Code("E061", "more threads than slots",
         "A `parsec` has more threads than the target has slots."),
    Code("E062", "slot out of range",
         "A slot index is negative or not below the target's slot count."),
    Code("E063", "slot holds two cores",
         "In one window a slot is asked to hold two different cores (by its tasks, or by its `reconfigure` requests)."),
    Code("E064", "race between threads",
         "Two threads of one `parsec` run concurrently, and one writes memory that the other reads or writes; the message names both tasks and the overlapping bytes."),
    Code("E065", "task slot differs from its thread's",
         "A task names a slot other than the one its thread is on."),
    Code("E067", "cannot assign slots",
         "The scheduler cannot give every thread and task a slot: a window needs more slots (with one core each) than the target has."),
    Code("E070", "buffer does not fit its region",
         "A buffer (or a core's bitstream) is larger than its memory region, or its fixed address puts it partly outside."),
    Code("E071", "buffers overlap",
         "Two buffers (or bitstreams) with fixed addresses share bytes; the overlapping bytes are given."),
    Code("E072", "misaligned address",
         "A fixed address is not a multiple of 8 (every buffer starts on a 64-bit word)."),
    Code("E073", "initial contents file",
         "The file named by `from` cannot be read or does not hold exactly the buffer's bytes."),
    Code("E080", "count out of range",
         "A `loop` or `repeat` runs zero times or more often than the image format allows, or a `for` has an empty or huge range."),
    Code("E081", "nesting too deep",
         "Loops nest deeper than the image format allows, or a `repeat` is nested in another."),
    Code("E090", "statement out of place",
         "A statement stands where the hierarchy does not allow it (a `thread` outside a `parsec`, a `task` outside a `thread`, a `window` inside a `window`)."),
    Code("E091", "no program",
         "`--program` names no program of the file, or the file has none."),
]}


@attrs.frozen
class Note:
    message: str
    span: Span | None = None


@attrs.frozen
class Diagnostic:
    code: str
    message: str
    span: Span | None
    notes: tuple[Note, ...] = ()
    severity: str = "error"

    def sort_key(self):
        s = self.span
        return (0, "", 0, 0, self.code) if s is None else (1, s.file, s.line, s.column, self.code)


class AciError(Exception):
    """Base of every error acic reports to a user (never a crash)."""


class SourceError(AciError):
    """The front end's error: one or more diagnostics about source text."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(f"{d.code}: {d.message}" for d in self.diagnostics))


def error(code: str, message: str, span: Span | None, *notes: Note) -> Diagnostic:
    assert code in CODES, code
    return Diagnostic(code, message, span, tuple(notes))


# ---- rendering --------------------------------------------------------------------

_RED, _BLUE, _BOLD, _RESET = "\x1b[31m", "\x1b[34m", "\x1b[1m", "\x1b[0m"


def _excerpt(span: Span, sources: Mapping[str, str], colour: bool, mark: str) -> list[str]:
    text = sources.get(span.file)
    if text is None:
        return []
    lines = text.split("\n")
    if not 1 <= span.line <= len(lines):
        return []
    line = lines[span.line - 1].replace("\t", " ")
    width = len(str(span.line))
    end = span.end_column if span.end_line == span.line else len(line) + 1
    start = max(span.column, 1)
    carets = mark * max(1, end - start)
    bar = " " * width + " |"
    blue = (lambda s: _BLUE + s + _RESET) if colour else (lambda s: s)
    red = (lambda s: _RED + _BOLD + s + _RESET) if colour else (lambda s: s)
    return [blue(bar), blue(f"{span.line} |") + " " + line,
            blue(bar) + " " + " " * (start - 1) + red(carets)]


def render_text(diags: Iterable[Diagnostic], sources: Mapping[str, str], colour: bool = False) -> str:
    out: list[str] = []
    for d in diags:
        head = f"{d.severity}[{d.code}]"
        if colour:
            head = _RED + _BOLD + head + _RESET + _BOLD
        out.append(f"{head}: {d.message}" + (_RESET if colour else ""))
        if d.span is not None:
            out.append(f"  --> {d.span}")
            out.extend(_excerpt(d.span, sources, colour, "^"))
        else:
            out.append("  --> <command line>")
        for n in d.notes:
            out.append(f"note: {n.message}")
            if n.span is not None:
                out.append(f"  --> {n.span}")
                out.extend(_excerpt(n.span, sources, colour, "-"))
        out.append("")
    return "\n".join(out)


def _span_json(s: Span | None) -> dict:
    if s is None:
        return {"file": None}
    return {"file": s.file, "line": s.line, "column": s.column,
            "end_line": s.end_line, "end_column": s.end_column}


def to_json(d: Diagnostic) -> dict:
    return {"severity": d.severity, "code": d.code, "title": CODES[d.code].title,
            "message": d.message, **_span_json(d.span),
            "notes": [{"message": n.message, **_span_json(n.span)} for n in d.notes]}


def render_json(diags: Iterable[Diagnostic]) -> str:
    return json.dumps({"diagnostics": [to_json(d) for d in diags]}, indent=2)
