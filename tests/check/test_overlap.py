"""The overlap oracle (``aci.overlap.meet``) against brute force.

Random affine ranges over a few small loops, with variables independent on each
side, shared (``same``) or ordered (``later``, with a gap): the oracle must say
"never" exactly when no assignment makes the ranges share a byte, its witness must
be a real one, and it gives up (``MAYBE``) only when its budget is tiny.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from aci.affine import Affine, Var
from aci.overlap import MAYBE, Meet, meet

VARS = [
    Var(n, s, c, "loop", u)
    for u, (n, s, c) in enumerate(
        [("i", 0, 3), ("j", 2, 4), ("k", -1, 2), ("r", 0, 5), ("q", 1, 1)]
    )
]


def _brute(a, la, b, lb, same, later, gap):
    names = sorted(set(a.vars) | set(b.vars) | ({later} if later else set()), key=lambda v: v.uid)
    side_a = [v for v in names if v in a.vars or v is later or (v in same and v in b.vars)]
    free_b = [v for v in names if (v in b.vars or v is later) and v not in same]

    def rng(v):
        return range(v.start, v.start + v.count)

    for xa in itertools.product(*(rng(v) for v in side_a)):
        va = dict(zip(side_a, xa, strict=True))
        for xb in itertools.product(*(rng(v) for v in free_b)):
            vb = dict(zip(free_b, xb, strict=True))
            vb.update({v: va[v] for v in same if v in b.vars})
            if later is not None and vb[later] - va[later] < gap:
                continue
            A = a.const + sum(c * va[v] for v, c in a.coeffs)
            B = b.const + sum(c * vb[v] for v, c in b.coeffs)
            if A < B + lb and B < A + la:
                return True
    return False


coeff = st.sampled_from([0, 1, 2, 3, 4, 8, 16, -1, -4, -8, 5, 7, 1 << 62])


@st.composite
def forms(draw):
    vs = draw(st.lists(st.sampled_from(VARS), max_size=3, unique=True))
    return Affine.of(draw(st.integers(-40, 40)), {v: draw(coeff) for v in vs})


@settings(max_examples=400, deadline=None)
@given(
    forms(),
    st.integers(1, 12),
    forms(),
    st.integers(1, 12),
    st.lists(st.sampled_from(VARS), max_size=2, unique=True),
    st.one_of(st.none(), st.sampled_from(VARS)),
    st.integers(1, 4),
)
def test_meet_is_exact(a, la, b, lb, same, later, gap):
    same = [v for v in same if v is not later]
    got = meet(a, la, b, lb, same=same, later=later, gap=gap)
    assert got is not MAYBE
    assert (got is not None) == _brute(a, la, b, lb, same, later, gap)
    if got is not None:
        assert isinstance(got, Meet)
        A, B = a.at(got.at_a), b.at(got.at_b)
        assert got.lo == max(A, B) and got.hi == min(A + la, B + lb) and got.lo < got.hi
        for v in same:
            if v in got.at_a and v in got.at_b:
                assert got.at_a[v] == got.at_b[v]
        if later is not None and later in got.at_a and later in got.at_b:
            assert got.at_b[later] - got.at_a[later] >= gap


def test_nested_strides_take_one_node_per_variable():
    """Rows of 2^20 iterations: the arithmetic-progression shortcut, not a search."""
    i, j = Var("i", 0, 1 << 24, "loop", 1), Var("j", 0, 1 << 24, "loop", 2)
    a = Affine.of(0, {i: 1024})
    b = Affine.of(512, {j: 1024})
    assert meet(a, 512, b, 512, budget=8) is None
    assert meet(a, 513, b, 512, budget=8)
    r = Var("r", 0, 8, "repeat", 3)  # acc[r] against acc[7 - r]: same iteration only
    w, x = Affine.of(0, {r: 64}), Affine.of(7 * 64, {r: -64})
    assert meet(w, 64, x, 64, same=[r]) is None
    assert meet(w, 64, x, 64) is not None  # independent iterations do meet


def test_gives_up_conservatively():
    """6i + 5k + 3j never equals 3 * 2^19 + 1 (it is 0 or 2 modulo 3), but no
    common divisor proves it and every i is a near miss: past its budget the search
    answers MAYBE, never a wrong None."""
    i, j = Var("i", 0, 1 << 20, "loop", 1), Var("j", 0, 1 << 20, "loop", 2)
    k = Var("k", 0, 2, "loop", 3)
    a = Affine.of(0, {i: 6, k: 5, j: 3})
    b = Affine.of(3 * (1 << 19) + 1)
    assert meet(a, 1, b, 1) is MAYBE
    assert meet(a, 1, b, 1, budget=50) is MAYBE
    assert meet(a, 1, Affine.of(3 * (1 << 19) + 2), 1, budget=50)
    assert meet(Affine.of(0, {i: 6, j: 10}), 1, Affine.of(1), 1) is None  # gcd 2 proves it at once


def test_docs_state_the_budget():
    from pathlib import Path

    from aci.overlap import BUDGET

    docs = (Path(__file__).resolve().parents[2] / "docs" / "language.md").read_text(
        encoding="utf-8"
    )
    assert f"more than {BUDGET:,} steps" in docs
