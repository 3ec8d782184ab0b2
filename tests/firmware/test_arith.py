"""ceil(a * b / c) without 128-bit integers (the Cortex-R5 path, built into
acifw-muldiv) agrees with Python's exact integers, saturating at 2^64 - 1."""

import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from .harness import MULDIV

U64 = 2**64 - 1
EDGES = [
    0,
    1,
    2,
    3,
    10**9,
    2**31,
    2**32 - 1,
    2**32,
    2**32 + 1,
    2**40,
    2**48 - 1,
    2**63,
    U64 - 1,
    U64,
]
values = st.sampled_from(EDGES) | st.integers(0, U64) | st.integers(0, 2**40)


def expect(a: int, b: int, c: int) -> int:
    return min(-(-(a * b) // c), U64)


def c_muldiv(triples) -> list[int]:
    text = "".join(f"{a} {b} {c}\n" for a, b, c in triples)
    out = subprocess.run(
        [str(MULDIV)], input=text, capture_output=True, text=True, check=True
    ).stdout
    return [int(x) for x in out.split()]


def test_edges():
    triples = [(a, b, c) for a in EDGES for b in EDGES for c in EDGES if c]
    assert c_muldiv(triples) == [expect(*t) for t in triples]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(values, values, values.filter(bool)), min_size=1, max_size=200))
def test_random(triples):
    assert c_muldiv(triples) == [expect(*t) for t in triples]
