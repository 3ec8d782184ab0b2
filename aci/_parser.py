"""The parser's plumbing: the rules' callbacks that build the AST, and the conversion
of syntax errors into diagnostics (E003, E004, E005), over :mod:`aci._lalr` (which
runs the grammar's tables, generated from ``grammar/aci.lark`` by Lark).

Only :func:`parse_text` is used outside this module.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction

from . import _grammar, _lalr, ast
from ._lalr import Token
from .diagnostics import Diagnostic, SourceError, error
from .span import Span
from .units import number_value

# ---- literals -----------------------------------------------------------------

_QUANTITY = re.compile(r"([0-9][0-9_]*(?:\.[0-9][0-9_]*)?)[ \t]*(\S+)")


@functools.lru_cache(maxsize=None)
def _terminal(name: str) -> re.Pattern:
    return re.compile(_grammar.TERMINALS[name])


def literal(text: str) -> tuple[Fraction, str | None] | None:
    """``text`` as one literal of the language (the grammar's own NUMBER or QUANTITY
    terminal, nothing else: no exponents, only ASCII digits, at most MAX_DIGITS of
    them): (value, unit or None), or None."""
    q = _QUANTITY.fullmatch(text) if _terminal("QUANTITY").fullmatch(text) else None
    if q:
        number, unit = q.group(1), q.group(2)
    elif _terminal("NUMBER").fullmatch(text):
        number, unit = text, None
    else:
        return None
    if len(number.replace("_", "")) > MAX_DIGITS:
        return None
    return number_value(number), unit


def _unquote(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s[1:-1])


def _bin(op: str):
    """The callback of a binary operator's rule."""

    def method(self: _ToAst, meta, c):
        return ast.Binary(op=op, left=c[0], right=c[1], span=self._s(meta))

    return method


class _ToAst:
    """The callbacks of the grammar's rules (and aliases), by name: each makes the
    rule's AST node from its position (``meta``) and children (``c``)."""

    def __init__(self, file: str):
        self.file = file

    def _s(self, meta) -> Span:
        return Span(self.file, *meta)

    def _id(self, tok: Token) -> ast.Ident:
        return ast.Ident(name=tok.value, span=Span(self.file, *tok.pos))

    # -- expressions
    def number(self, meta, c):
        return ast.Number(value=number_value(str(c[0])), text=str(c[0]), span=self._s(meta))

    def quantity(self, meta, c):
        m = _QUANTITY.fullmatch(str(c[0]))
        return ast.Quantity(
            value=number_value(m.group(1)), unit=m.group(2), text=str(c[0]), span=self._s(meta)
        )

    def true(self, meta, c):
        return ast.Bool(value=True, span=self._s(meta))

    def false(self, meta, c):
        return ast.Bool(value=False, span=self._s(meta))

    def name(self, meta, c):
        return ast.Name(name=str(c[0]), span=self._s(meta))

    def call(self, meta, c):
        return ast.Call(
            func=self._id(c[0]), args=tuple(a for a in c[1:] if a is not None), span=self._s(meta)
        )

    def index(self, meta, c):
        return ast.Index(base=c[0], index=c[1], span=self._s(meta))

    def slice(self, meta, c):
        return ast.Slice(base=c[0], lo=c[1], hi=c[2], span=self._s(meta))

    def neg(self, meta, c):
        return ast.Unary(op="-", operand=c[0], span=self._s(meta))

    def not_(self, meta, c):
        return ast.Unary(op="!", operand=c[0], span=self._s(meta))

    def cond(self, meta, c):
        return ast.Cond(cond=c[0], then=c[1], else_=c[2], span=self._s(meta))

    add, sub, mul, div, mod = _bin("+"), _bin("-"), _bin("*"), _bin("/"), _bin("%")
    eq, ne, lt, le, gt, ge = _bin("=="), _bin("!="), _bin("<"), _bin("<="), _bin(">"), _bin(">=")
    and_, or_ = _bin("&&"), _bin("||")

    # -- declarations
    def start(self, meta, c):
        return tuple(c)

    def import_decl(self, meta, c):
        return ast.Import(path=_unquote(str(c[0])), span=self._s(meta))

    def const_decl(self, meta, c):
        return ast.Const(name=self._id(c[0]), value=c[1], span=self._s(meta))

    def target_decl(self, meta, c):
        return ast.Target(name=self._id(c[0]), items=tuple(c[1:]), span=self._s(meta))

    def target_slots(self, meta, c):
        return ast.TargetSlots(count=c[0], capacity=c[1], span=self._s(meta))

    def target_memory(self, meta, c):
        return ast.TargetMemory(name=self._id(c[0]), base=c[1], size=c[2], span=self._s(meta))

    def target_field(self, meta, c):
        return ast.TargetField(name=self._id(c[0]), value=c[1], span=self._s(meta))

    def resources(self, meta, c):
        return tuple(c)

    def resource(self, meta, c):
        return ast.Resource(name=self._id(c[0]), value=c[1], span=self._s(meta))

    def core_decl(self, meta, c):
        return ast.Core(name=self._id(c[0]), items=tuple(c[1:]), span=self._s(meta))

    def core_id(self, meta, c):
        return ast.CoreId(value=c[0], span=self._s(meta))

    def core_bitstream(self, meta, c):
        return ast.CoreBitstream(
            size=c[0],
            memory=self._id(c[1]) if c[1] is not None else None,
            address=c[2],
            span=self._s(meta),
        )

    def core_resources(self, meta, c):
        return ast.CoreResources(items=c[0], span=self._s(meta))

    def core_param(self, meta, c):
        return ast.CoreParam(
            name=self._id(c[0]), type=self._id(c[1]), domain=c[2], span=self._s(meta)
        )

    def domain_range(self, meta, c):
        return ast.DomainRange(lo=c[0], hi=c[1], span=self._s(meta))

    def domain_set(self, meta, c):
        return ast.DomainSet(values=tuple(c), span=self._s(meta))

    def core_in(self, meta, c):
        return ast.CorePort(direction="in", name=self._id(c[1]), type=c[2], span=self._s(meta))

    def core_out(self, meta, c):
        return ast.CorePort(direction="out", name=self._id(c[0]), type=c[1], span=self._s(meta))

    def port_type(self, meta, c):
        return ast.PortType(tensor=c[0], cond=c[1], otherwise=c[2], span=self._s(meta))

    def tensor_type(self, meta, c):
        return ast.TensorType(elem=self._id(c[0]), dims=tuple(c[1:]), span=self._s(meta))

    def dim(self, meta, c):
        return c[0]

    def core_cycles(self, meta, c):
        return ast.CoreCycles(value=c[0], span=self._s(meta))

    def role_input(self, meta, c):
        return "input"

    def role_output(self, meta, c):
        return "output"

    def buffer_decl(self, meta, c):
        role, name, type_, memory, address, init = c
        return ast.Buffer(
            role=role or "scratch",
            name=self._id(name),
            type=type_,
            memory=self._id(memory) if memory is not None else None,
            address=address,
            init_file=_unquote(str(init)) if init is not None else None,
            init_span=Span(self.file, *init.pos) if init is not None else None,
            span=self._s(meta),
        )

    # -- programs
    def program_decl(self, meta, c):
        return ast.Program(
            name=self._id(c[0]), target=self._id(c[1]), body=c[2], span=self._s(meta)
        )

    def block(self, meta, c):
        return tuple(c)

    def window(self, meta, c):
        return ast.Window(body=c[0], span=self._s(meta))

    def parsec(self, meta, c):
        return ast.Parsec(body=c[0], span=self._s(meta))

    def thread(self, meta, c):
        return ast.Thread(slot=c[0], body=c[1], span=self._s(meta))

    def on_slot(self, meta, c):
        return c[0]

    def loop(self, meta, c):
        return ast.Loop(var=self._id(c[0]), lo=c[1], hi=c[2], body=c[3], span=self._s(meta))

    def repeat(self, meta, c):
        return ast.Repeat(var=self._id(c[0]), lo=c[1], hi=c[2], body=c[3], span=self._s(meta))

    def for_stmt(self, meta, c):
        return ast.For(var=self._id(c[0]), lo=c[1], hi=c[2], body=c[3], span=self._s(meta))

    def task(self, meta, c):
        args = tuple(a for a in c[1:-1] if a is not None)
        return ast.Task(core=self._id(c[0]), args=args, slot=c[-1], span=self._s(meta))

    def arg(self, meta, c):
        return ast.Arg(name=self._id(c[0]), value=c[1], span=self._s(meta))

    def reconfigure(self, meta, c):
        return ast.Reconfigure(slot=c[0], core=self._id(c[1]), span=self._s(meta))

    # -- systems
    def system_decl(self, meta, c):
        return ast.System(name=self._id(c[0]), items=tuple(c[1:]), span=self._s(meta))

    def system_board(self, meta, c):
        return ast.SystemBoard(
            word=self._id(c[0]), name=self._id(c[1]), target=self._id(c[2]), span=self._s(meta)
        )

    def system_link(self, meta, c):
        return ast.SystemLink(
            word=self._id(c[0]),
            a=self._id(c[1]),
            b=self._id(c[3]),
            fields=tuple(c[4:]),
            span=self._s(meta),
        )

    def system_run(self, meta, c):
        return ast.SystemRun(
            word=self._id(c[0]),
            program=self._id(c[1]),
            boards=tuple(self._id(x) for x in c[2:]),
            span=self._s(meta),
        )

    def system_field(self, meta, c):
        return ast.SystemField(name=self._id(c[0]), values=tuple(c[1:]), span=self._s(meta))


# ---- errors in words -------------------------------------------------------------

_REGEX_WORDS = {
    "PORT_IN": "`in`",
    "NAME": "a name",
    "NUMBER": "a number",
    "QUANTITY": "a number with a unit",
    "STRING": "a string in quotes",
}
# When every member of a group is expected, the group's word replaces them.
_GROUPS = [
    ("a declaration", {"IMPORT", "TARGET", "CORE", "CONST", "BUFFER", "PROGRAM", "SYSTEM"}),
    ("a statement", {"WINDOW", "PARSEC", "THREAD", "LOOP", "REPEAT", "FOR", "TASK", "RECONFIGURE"}),
    ("an expression", {"NUMBER", "QUANTITY", "NAME", "LPAR", "MINUS", "BANG", "TRUE", "FALSE"}),
    ("an operator", {"PLUS", "MINUS", "STAR", "SLASH", "PERCENT"}),
    ("a comparison", {"EQEQ", "NOTEQ", "LESSTHAN", "LE", "MORETHAN", "GE"}),
    ("a core item", {"ID", "BITSTREAM", "RESOURCES", "PARAM", "PORT_IN", "OUT", "CYCLES"}),
    ("a target field", {"SLOTS", "MEMORY", "NAME"}),
]


@functools.lru_cache(maxsize=1)
def _terminal_words() -> dict[str, str]:
    words = {}
    for name in _grammar.TERMINALS:
        if name in _grammar.STRINGS:
            words[name] = f"`{_grammar.STRINGS[name]}`"
        else:
            words[name] = _REGEX_WORDS.get(name, name.lower())
    words["$END"] = "end of file"
    return words


def describe_expected(names) -> str:
    names = set(names)
    words = _terminal_words()
    parts: list[str] = []
    for word, group in _GROUPS:
        if group <= names:
            names -= group
            parts.append(word)
    # Optional operators after a complete expression are noise in a message about
    # what must come next; they are only listed when nothing else is expected.
    noise = {
        "PLUS",
        "MINUS",
        "STAR",
        "SLASH",
        "PERCENT",
        "EQEQ",
        "NOTEQ",
        "LESSTHAN",
        "LE",
        "MORETHAN",
        "GE",
        "QMARK",
        "OROR",
        "ANDAND",
        "LSQB",
    }
    if parts or names - noise:
        names -= noise
        parts = [p for p in parts if p not in ("an operator", "a comparison")]
    punct = sorted(words.get(n, n) for n in names)
    items = punct + parts
    if not items:
        return "nothing more"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def _found(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    v = str(tok)
    if len(v) > 20:
        v = v[:20] + "..."
    word = _REGEX_WORDS.get(tok.type)
    return f"{word} `{v}`" if word and tok.type != "NAME" else f"`{v}`"


def _point_span(file: str, text: str, pos: int, line: int, column: int, length: int = 1) -> Span:
    return Span(file, line, column, line, column + length, pos, pos + length)


def _eof_span(file: str, text: str) -> Span:
    line = text.count("\n") + 1
    col = len(text) - (text.rfind("\n") + 1) + 1
    return Span(file, line, col, line, col + 1, len(text), len(text))


_COMPARISON = re.compile(r"==|!=|<=|>=|<(?!-)|>")
_EXPRESSION_START = re.compile(r",|\{|\}|\(|\?|:|&&|\|\||\n\s*\n")


def _chained(text: str, pos: int) -> bool:
    """Whether the comparison at ``pos`` follows another in the same expression."""
    before = text[max(0, pos - 400) : pos]
    starts = [m.end() for m in _EXPRESSION_START.finditer(before)]
    return bool(_COMPARISON.search(before[starts[-1] if starts else 0 :]))


def _convert(e: _lalr.UnexpectedInput, file: str, text: str) -> Diagnostic:
    if isinstance(e, _lalr.UnexpectedCharacters):
        pos = e.pos_in_stream
        if text.startswith("/*", pos):
            return error(
                "E003",
                "unterminated comment: this `/*` has no `*/` before the end of the file",
                _point_span(file, text, pos, e.line, e.column, 2),
            )
        if text.startswith("\ufeff", pos):
            return error(
                "E003",
                "a UTF-8 byte-order mark (U+FEFF): save the file as UTF-8 without one",
                _point_span(file, text, pos, e.line, e.column),
            )
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        if ch.isdigit():
            return error(
                "E003",
                f"`{ch}` is not an ASCII digit: numbers are written with 0-9",
                _point_span(file, text, pos, e.line, e.column),
            )
        shown = repr(ch)[1:-1] if not ch.isprintable() or ch.isspace() else ch
        msg = f"unexpected character `{shown}`"
        if e.allowed:
            msg += f", expected {describe_expected(e.allowed)}"
        return error("E003", msg, _point_span(file, text, e.pos_in_stream, e.line, e.column))
    if isinstance(e, _lalr.UnexpectedToken):
        tok = e.token
        expected = describe_expected(e.accepts or e.expected)
        if tok.type == "$END":
            return error(
                "E005", f"unexpected end of file, expected {expected}", _eof_span(file, text)
            )
        span = Span(file, *tok.pos)
        if tok.type in ("EQEQ", "NOTEQ", "LESSTHAN", "LE", "MORETHAN", "GE") and _chained(
            text, tok.start_pos
        ):
            return error(
                "E004",
                f"comparisons do not chain: `a < b {tok} c` means nothing; write "
                f"`a < b && b {tok} c`",
                span,
            )
        return error("E004", f"expected {expected}, found {_found(tok)}", span)
    raise e  # an error that is not about the input is a bug in acic


# ---- bounds, before the parser -------------------------------------------------------

MAX_EXPR_OPERATORS = 10_000  # operators in one expression
MAX_NESTING = 1024  # ( [ { open at once
MAX_DIGITS = 256  # digits of one number literal

_TOKEN = re.compile(
    r'//[^\n]*|/\*.*?\*/|(?P<unclosed>/\*)|"(?:[^"\\\n]|\\.)*"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)'
    r"|(?P<num>0[xX][0-9A-Fa-f_]*|0[bB][01_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!?])|(?P<open>[(\[{])|(?P<close>[)\]}])|(?P<sep>,)"
    r"|\s+|.",
    re.S,
)
_KEYWORDS = frozenset(
    "import const target core buffer program window parsec thread loop repeat for task "
    "reconfigure param in out id bitstream resources cycles slots memory at size from on slot "
    "capacity input output system".split()
)


def _bounds(text: str, file: str) -> list[Diagnostic]:
    """E006 (an expression or a literal too long) and E007 (nesting too deep), found
    by one pass of a regular expression before the parser, which would spend
    memory and time on them (a flat sum of a million terms)."""

    def at(pos: int, length: int = 1) -> Span:
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        return Span(file, line, col, line, col + length, pos, pos + length)

    depth, ops, start = 0, 0, None
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        if kind == "unclosed":
            return [
                error(
                    "E003",
                    "unterminated comment: this `/*` has no `*/` before the end of the file",
                    at(m.start(), 2),
                )
            ]
        if kind == "op":
            if start is None:
                start = m.start()
            ops += 1
            if ops > MAX_EXPR_OPERATORS:
                return [
                    error(
                        "E006",
                        f"this expression has more than {MAX_EXPR_OPERATORS:,} operators: split it "
                        "(into consts, say)",
                        at(start),
                    )
                ]
        elif kind == "num":
            digits = len(m.group().replace("_", "")) - (
                2 if m.group()[:2].lower() in ("0x", "0b") else 0
            )
            if digits > MAX_DIGITS:
                return [
                    error(
                        "E006",
                        f"a number of {digits} digits, over the limit of {MAX_DIGITS}",
                        at(m.start(), len(m.group())),
                    )
                ]
        elif kind == "open":
            depth += 1
            if depth > MAX_NESTING:
                return [
                    error(
                        "E007",
                        f"parentheses, brackets and braces nest more than {MAX_NESTING} deep here",
                        at(m.start()),
                    )
                ]
        elif kind == "close":
            depth = max(depth - 1, 0)
        if (
            kind in ("sep", "open", "close")
            and m.group() in ",{}"
            or kind == "name"
            and m.group() in _KEYWORDS
        ):
            ops, start = 0, None
    return []


def parse_text(text: str, file: str) -> ast.Module:
    """Parse one file's text into a Module; raises SourceError (E003-E007)."""
    bad = _bounds(text, file)
    if bad:
        raise SourceError(bad)
    to_ast = _ToAst(file)
    try:
        decls = _lalr.parse(text, {name: getattr(to_ast, name) for name in _lalr.CALLBACKS})
    except _lalr.UnexpectedInput as e:
        raise SourceError([_convert(e, file, text)]) from None
    return ast.Module(path=file, decls=decls)
