"""The parser's engine: a contextual lexer and an LALR(1) parser that run the tables
of :mod:`aci._grammar` (generated from ``grammar/aci.lark`` by Lark; see
aci/_generate_grammar.py), building values the way Lark's tree builder with
``propagate_positions`` and ``maybe_placeholders`` builds trees, so that a callback
sees the children and positions a Lark ``Transformer`` would. Lark itself is not
imported: its import and analysis cost more than the whole parse of the BNN.

``parse(text, callbacks)``: ``callbacks[name](meta, children)`` makes the value of a
rule (or alias) ``name``; ``meta`` is the rule's stretch of text as the tuple
``(line, column, end_line, end_column, start, end)`` (what :class:`aci.span.Span`
takes after the file), or None when the rule matched no text; ``children`` are the
values and :class:`Token` s the rule keeps, None for an absent ``[optional]`` item.
A ``?rule`` with one child gives that child; a ``_rule`` is spliced into its parent.

Errors are Lark's, with what a message needs: :class:`UnexpectedCharacters` (no
terminal allowed here matches; ``allowed``) and :class:`UnexpectedToken` (a token
the grammar does not allow here, or one the lexer only knows elsewhere; ``expected``
and ``accepts``, the terminals that would have let the parser advance).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from . import _grammar as G

Pos = tuple  # (line, column, end_line, end_column, start, end)


class Token:
    """A terminal of the input: its type (the grammar's name), text and position."""

    __slots__ = ("type", "value", "pos")

    def __init__(self, type: str, value: str, pos: Pos):
        self.type = type
        self.value = value
        self.pos = pos

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r}, {self.pos!r})"

    @property
    def line(self) -> int:
        return self.pos[0]

    @property
    def column(self) -> int:
        return self.pos[1]

    @property
    def start_pos(self) -> int:
        return self.pos[4]


class UnexpectedInput(Exception):
    """The input does not follow the grammar."""


class UnexpectedCharacters(UnexpectedInput):
    def __init__(self, pos: int, line: int, column: int, allowed: frozenset[str]):
        super().__init__(f"no terminal matches at line {line} column {column}")
        self.pos_in_stream, self.line, self.column, self.allowed = pos, line, column, allowed


class UnexpectedToken(UnexpectedInput):
    def __init__(self, token: Token, expected: set[str], accepts: set[str]):
        super().__init__(f"unexpected {token!r}")
        self.token, self.expected, self.accepts = token, expected, accepts


class _Lexer:
    """One parser state's lexer: Lark's alternation of its terminals (compiled when
    first used), the keywords it reads through a regular terminal (``import`` through
    NAME), and the terminals it allows."""

    __slots__ = ("patterns", "keywords", "allowed", "_compiled")

    def __init__(self, patterns: tuple[str, ...], keywords: dict, allowed: tuple[str, ...]):
        self.patterns, self.keywords, self.allowed = patterns, keywords, frozenset(allowed)
        self._compiled: list[re.Pattern] | None = None

    def compiled(self) -> list[re.Pattern]:
        if self._compiled is None:
            self._compiled = [re.compile(p) for p in self.patterns]
        return self._compiled


_LEXERS = [_Lexer(*lx) for lx in G.LEXERS]
_ROOT = _Lexer(*G.ROOT_LEXER)
_STATE_LEXER = [_LEXERS[k] for k in G.STATE_LEXER]


class _Scanner:
    """Where the lexer is in the text (Lark's LineCounter)."""

    __slots__ = ("text", "pos", "line", "line_start")

    def __init__(self, text: str):
        self.text, self.pos, self.line, self.line_start = text, 0, 1, 0

    def next(self, lexer: _Lexer) -> Token | None:
        """The next token by ``lexer`` (ignored terminals skipped), None at the end."""
        text, end = self.text, len(self.text)
        ignore, newline = G.IGNORE, G.NEWLINE
        while self.pos < end:
            pos = self.pos
            for mre in lexer.compiled():
                m = mre.match(text, pos)
                if m:
                    break
            else:
                raise UnexpectedCharacters(pos, self.line, pos - self.line_start + 1, lexer.allowed)
            value, kind = m.group(0), m.lastgroup
            assert kind is not None
            line, column = self.line, pos - self.line_start + 1
            if kind in newline:
                n = value.count("\n")
                if n:
                    self.line += n
                    self.line_start = pos + value.rindex("\n") + 1
            self.pos = pos + len(value)
            if kind in ignore:
                continue
            words = lexer.keywords.get(kind)
            if words:
                kind = words.get(value, kind)
            return Token(
                kind,
                value,
                (line, column, self.line, self.pos - self.line_start + 1, pos, self.pos),
            )
        return None


# rules: (name, children, callback, kind, kept, Nones after), kind one of
_UNIT, _SINGLE, _TREE = 0, 1, 2  # its only child as it is; ?rule; a value or a splice
_RULES = [
    (
        name,
        size,
        callback,
        _UNIT
        if single and size == 1 and kept == ((0, False, 0),) and not tail
        else _SINGLE
        if single
        else _TREE,
        kept,
        tail,
    )
    for name, size, callback, single, kept, tail in G.RULES
]


# the callbacks parse() may call (a ?rule that always has one child never calls its own)
CALLBACKS = frozenset(
    callback
    for _, _, callback, form, kept, tail in _RULES
    if callback is not None and (form == _TREE or len(kept) + sum(k[2] for k in kept) + tail != 1)
)


class _Splice(list):
    """The children of a ``_rule``, to be spliced into its parent's."""


def _span(metas: list) -> tuple[Pos, Pos] | None:
    """The (own, container) stretch of a rule with these children's metas."""
    first = next((m for m in metas if m is not None), None)
    if first is None:
        return None
    last = next(m for m in reversed(metas) if m is not None)
    a, b = first[1], last[1]
    own = (a[0], a[1], b[2], b[3], a[4], b[5])
    return own, own


def _feeds(stack: list[int], kind: str) -> bool:
    """Whether the parser in ``stack`` would take a token of ``kind`` (Lark's
    ``accepts``: reductions as needed, then a shift, or the end of the input)."""
    states = G.STATES
    while True:
        action = states[stack[-1]].get(kind)
        if action is None:
            return False
        if action >= 0:
            return True
        name, size = G.RULES[~action][:2]
        if size:
            del stack[-size:]
        stack.append(states[stack[-1]][name])
        if kind == "$END" and stack[-1] == G.END:
            return True


def _accepts(stack: list[int]) -> set[str]:
    return {k for k in G.STATES[stack[-1]] if k.isupper() and _feeds(list(stack), k)}


def parse(text: str, callbacks: Mapping[str, Callable[[Any, list], Any]]) -> Any:
    """The value of the start rule for ``text``; raises UnexpectedInput."""
    states, rules = G.STATES, _RULES
    stack: list[int] = [G.START]
    values: list = []
    metas: list = []  # per value: (own, container) positions, None for no text
    scanner = _Scanner(text)
    last: Token | None = None
    while True:
        try:
            token = scanner.next(_STATE_LEXER[stack[-1]])
        except UnexpectedCharacters as e:
            # a terminal of another context: word it as an unexpected token (as Lark)
            try:
                token = scanner.next(_ROOT)
            except UnexpectedCharacters:
                raise e from None
            assert token is not None
            raise UnexpectedToken(token, set(e.allowed), _accepts(stack)) from None
        at_end = token is None
        if token is None:
            token = Token("$END", "", last.pos if last else (1, 1, None, None, 0, None))
        last = token
        kind = token.type
        while True:  # reductions, then the shift
            action = states[stack[-1]].get(kind)
            if action is None:
                expected = {k for k in states[stack[-1]] if k.isupper()}
                raise UnexpectedToken(token, expected, _accepts(stack))
            if action >= 0:
                assert not at_end
                stack.append(action)
                values.append(token)
                metas.append((token.pos, token.pos))
                break
            name, size, callback, form, kept, tail = rules[~action]
            if form == _UNIT:  # value and position unchanged
                stack[-1] = states[stack[-2]][name]
                if at_end and stack[-1] == G.END:
                    return values[-1]
                continue
            if size:
                raw, raw_metas = values[-size:], metas[-size:]
                del stack[-size:], values[-size:], metas[-size:]
            else:
                raw, raw_metas = [], []
            children: list = []
            for i, splice, nones in kept:
                if nones:
                    children += [None] * nones
                if splice:
                    children += raw[i]
                else:
                    children.append(raw[i])
            if tail:
                children += [None] * tail
            if form == _SINGLE and len(children) == 1:
                value = children[0]
                if value is None:
                    meta = None
                else:
                    meta = raw_metas[kept[0][0]]
                    if not isinstance(value, Token):  # a tree: its container grows
                        span = _span(raw_metas)
                        if span is not None:
                            meta = (span[0] if meta is None else meta[0], span[1])
            else:
                meta = _span(raw_metas)
                if callback is None:
                    value = _Splice(children)
                else:
                    value = callbacks[callback](None if meta is None else meta[0], children)
            stack.append(states[stack[-1]][name])
            values.append(value)
            metas.append(meta)
            if at_end and stack[-1] == G.END:
                return value
        if at_end:  # pragma: no cover - the end is accepted or refused above
            raise AssertionError("the parser neither accepted nor refused the end")
