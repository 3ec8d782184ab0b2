"""The parser's engine (aci._lalr over the generated aci._grammar) against Lark itself,
built from grammar/aci.lark with acic's options: on every source of the repository
and on thousands of mangled ones, the same tree with the same positions at every
node and token, or the same error (kind, place, and the terminals it names)."""

import random
from pathlib import Path

import lark
import pytest

from aci import _grammar, _lalr, _parser
from aci._generate import GRAMMAR_PATH

ROOT = Path(__file__).resolve().parents[2]
# every source within the bounds checked before parsing (E006, E007)
SOURCES = [
    p
    for p in sorted(ROOT.glob("programs/**/*.aci")) + sorted(ROOT.glob("tests/**/*.aci"))
    if not _parser._bounds(p.read_text(encoding="utf-8", errors="replace"), p.name)
]


@pytest.fixture(scope="module")
def reference() -> lark.Lark:
    return lark.Lark(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
    )


def _pos(meta) -> tuple:
    return (meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos)


def from_lark(node):
    """A Lark tree as (rule, position, children); a token as (type, text, position)."""
    if isinstance(node, lark.Token):
        return (node.type, str(node), _pos(node))
    if isinstance(node, lark.Tree):
        meta = None if node.meta.empty else _pos(node.meta)
        return (node.data, meta, [from_lark(c) for c in node.children])
    return node  # None: an absent [optional]


def ours(text: str):
    """The same shape from aci._lalr, with callbacks that build it."""

    def build(name):
        return lambda meta, children: (name, meta, [convert(c) for c in children])

    def convert(c):
        return (c.type, c.value, c.pos) if isinstance(c, _lalr.Token) else c

    return _lalr.parse(text, {name: build(name) for name in _lalr.CALLBACKS})


def outcome(parse, text: str):
    """What parsing ``text`` gives: a tree, or the error's kind, place and terminals."""
    try:
        return ("tree", parse(text))
    except (lark.exceptions.UnexpectedCharacters, _lalr.UnexpectedCharacters) as e:
        return ("characters", e.pos_in_stream, e.line, e.column, sorted(e.allowed))
    except (lark.exceptions.UnexpectedToken, _lalr.UnexpectedToken) as e:
        t = e.token
        where = (t.line, t.column, t.start_pos) if t.type != "$END" else None
        return ("token", t.type, str(t), where, sorted(e.expected), sorted(e.accepts))


def same(reference: lark.Lark, text: str) -> None:
    theirs = outcome(lambda s: from_lark(reference.parse(s)), text)
    assert outcome(ours, text) == theirs, text


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_source_parses_as_lark_does(reference, path):
    same(reference, path.read_text(encoding="utf-8", errors="replace"))


def test_the_comparison_sees_trees_and_errors(reference):
    """Real trees with positions, and both kinds of error, are compared above."""
    kind, tree = outcome(ours, 'import "a.aci"\nconst N = (1 + 2) * 3')
    assert kind == "tree" and tree[0] == "start" and tree[1] == (1, 1, 2, 22, 0, 36)
    assert outcome(ours, "const N = 1 $")[0] == "characters"
    assert outcome(ours, "const N = = 1")[0] == "token"
    assert outcome(ours, "const N =")[1] == "$END"


# Pieces a mutation inserts: the grammar's punctuation and keywords, and characters
# that start or end its regular terminals.
PIECES = [*_grammar.STRINGS.values(), "1", "2 MB", "x", '"s"', "//", "/*", "*/", "\n", " ", "$"]


def mangled(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    how = rng.randrange(4)
    if how == 0:  # delete a stretch
        return text[:at] + text[at + rng.randrange(1, 8) :]
    if how == 1:  # insert a piece
        return text[:at] + rng.choice(PIECES) + text[at:]
    if how == 2:  # cut the file short
        return text[:at]
    return text[:at] + rng.choice(PIECES) + text[at + rng.randrange(1, 4) :]  # replace


@pytest.mark.parametrize("seed", range(4))
def test_mangled_sources_parse_as_lark_does(reference, seed):
    """Small files, each mangled many times: every error path of the lexer (a
    terminal of another context, no terminal at all) and of the parser."""
    rng = random.Random(seed)
    small = [p for p in SOURCES if p.stat().st_size < 1500]
    for _ in range(300):
        text = rng.choice(small).read_text(encoding="utf-8", errors="replace")
        for _ in range(rng.randrange(1, 3)):
            text = mangled(rng, text)
        same(reference, text)


def test_every_callback_the_grammar_names_exists():
    assert _lalr.CALLBACKS and all(hasattr(_parser._ToAst, n) for n in _lalr.CALLBACKS)
