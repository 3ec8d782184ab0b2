"""Writes ``aci/_grammar.py``: the grammar (``grammar/aci.lark``) compiled by Lark into
tables that :mod:`aci._lalr` runs, so that parsing needs neither Lark nor its
analysis at run time (``python -m aci._generate``; a test fails when it is stale).

Every table is read off a Lark parser built with the options acic parses with
(LALR, contextual lexer, positions, placeholders for ``[optional]`` items): the
parse table, each parser state's lexer (the regular expression Lark would scan with
in that state, the keywords it recognises through a name, the terminals it allows),
the lexer of every terminal that Lark falls back on to word an error, and for each
rule what Lark's tree builder would keep of its children. States are renumbered in
breadth-first order from the start state and rules in grammar order, so the file
depends on the grammar only.
"""

from __future__ import annotations

import re


def _lark(text: str):
    import lark

    return lark.Lark(
        text,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
    )


def _lexer(basic) -> tuple:
    """(patterns, keywords by regular terminal, allowed terminals) of a Lark BasicLexer."""
    from lark.lexer import PatternStr, UnlessCallback

    scanner = basic.scanner  # builds the scanner and basic.callback
    patterns = tuple(m.pattern for m in scanner._mres)
    assert all(m.flags == re.compile(m.pattern).flags for m in scanner._mres)
    keywords = {}
    for name, callback in sorted(basic.callback.items()):
        assert isinstance(callback, UnlessCallback), callback  # acic sets no other callback
        words: dict[str, str] = {}
        for t in callback.scanner.terminals:  # in the order Lark tries them
            assert isinstance(t.pattern, PatternStr) and not t.pattern.flags
            words.setdefault(t.pattern.value, t.name)  # the first alternative wins
        keywords[name] = dict(sorted(words.items()))
    allowed = tuple(sorted(scanner.allowed_types - basic.ignore_types)) or ("<END-OF-FILE>",)
    return patterns, keywords, allowed


def grammar_module(text: str, source: str) -> str:
    """The text of aci/_grammar.py for the grammar ``text`` (read from ``source``)."""
    from lark.lexer import PatternStr, _regexp_has_newline
    from lark.parse_tree_builder import (
        ChildFilterLALR,
        ChildFilterLALR_NoPlaceholders,
        maybe_create_child_filter,
    )
    from lark.parsers.lalr_analysis import Shift

    parser = _lark(text)
    frontend = parser.parser
    table = frontend.parser._parse_table
    contextual = frontend.lexer
    start, end = table.start_states["start"], table.end_states["start"]

    # rules in grammar order; states breadth-first from the start state
    rule_index = {r: k for k, r in enumerate(parser.rules)}
    order, seen = [start], {start}
    for s in order:
        for key in sorted(table.states[s]):
            action, arg = table.states[s][key]
            if action is Shift and arg not in seen:
                seen.add(arg)
                order.append(arg)
    assert end in seen and len(order) == len(table.states)
    number = {s: k for k, s in enumerate(order)}

    def encode(action, arg) -> int:  # a shift as the state, a reduction as ~rule
        return number[arg] if action is Shift else ~rule_index[arg]

    states = [
        {key: encode(*table.states[s][key]) for key in sorted(table.states[s])} for s in order
    ]

    rules = []
    for r in parser.rules:
        filt = maybe_create_child_filter(
            r.expansion, r.options.keep_all_tokens, False, r.options.empty_indices
        )
        if filt is None:  # every child kept as it is
            keep, tail = tuple((i, False, 0) for i in range(len(r.expansion))), 0
        elif filt.func is ChildFilterLALR:
            keep, tail = tuple(filt.args[0]), filt.args[1]
        else:
            assert filt.func is ChildFilterLALR_NoPlaceholders
            keep, tail = tuple((i, x, 0) for i, x in filt.args[0]), 0
        name = str(r.origin.name)
        single = bool(r.options.expand1 and not r.alias)
        # aci._lalr finds a ?rule's only child among its own children, never spliced
        assert not (single and any(splice for _, splice, _ in keep)), r
        rules.append(
            (
                name,
                len(r.expansion),
                None if name.startswith("_") else str(r.alias or name),
                single,
                keep,
                tail,
            )
        )

    lexers: list[tuple] = []
    lexer_index: dict[int, int] = {}
    state_lexer = []
    for s in order:
        basic = contextual.lexers[s]
        if id(basic) not in lexer_index:
            lexer_index[id(basic)] = len(lexers)
            lexers.append(_lexer(basic))
        state_lexer.append(lexer_index[id(basic)])
    root = _lexer(contextual.root_lexer)
    terminals = {t.name: t.pattern.to_regexp() for t in parser.terminals}
    strings = {
        t.name: t.pattern.value for t in parser.terminals if isinstance(t.pattern, PatternStr)
    }
    newline = sorted(n for n, r in terminals.items() if _regexp_has_newline(r))
    ignore = sorted(parser.ignore_tokens)
    assert parser.options.g_regex_flags == 0  # the patterns compile with no flags

    entries = "".join(f"    {k!r}: {v!r},\n" for k, v in terminals.items())

    def lines(items) -> str:  # one item a line
        return "[\n" + "".join(f"    {i!r},\n" for i in items) + "]"

    return f'''"""The grammar's tables for :mod:`aci._lalr`.

Generated by `python -m aci._generate` from {source} with Lark's
LALR analysis: do not edit. aci/_generate_grammar.py says what each table is.
"""

# flake8: noqa
# fmt: off

START = {number[start]}
END = {number[end]}
IGNORE = frozenset({ignore!r})
NEWLINE = frozenset({newline!r})
TERMINALS = {{  # every terminal's regular expression
{entries}}}
STRINGS = {strings!r}  # the terminals that are a fixed string

# per state: its action on each terminal and nonterminal (a shift as the next state,
# a reduction as ~rule)
STATES = {lines(states)}

# per rule: (name, children, callback or None for a rule inlined into its parent,
# a ?rule that gives its only child, kept children as (index, inlined, Nones before),
# Nones after)
RULES = {lines(rules)}

# per lexer: (patterns tried in order, keywords read through a regular terminal,
# the terminals an error says it allowed)
LEXERS = {lines(lexers)}
ROOT_LEXER = {root!r}
STATE_LEXER = {state_lexer!r}
'''
