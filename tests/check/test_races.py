"""The race check (E064) against comparing every pair of accesses.

The checker looks up, per buffer, only the accesses of the other thread whose hulls
meet (``aci.overlap.IntervalIndex``); the reference proposes every access of the
other thread, in program order, as the checker did before. On random programs with
loops, repeats and compile-time expansion both must give the same diagnostics, byte
for byte, in the same order.
"""

from __future__ import annotations

import random
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aci.check import check, races
from aci.diagnostics import SourceError
from aci.overlap import IntervalIndex, LastAccess
from aci.parse import load

HEAD = """\
target t4 {
    slots 4
    memory ddr at 0x1000_0000 size 1 MiB
    icap 400 MB/s  pr_overhead 10 us  dma 1 GB/s  clock 100 MHz
    task_overhead 1 us  pf_write 10 ns  link 10 Gb/s  latency 5 us
}
core COPY {
    id 1
    bitstream size 64 KiB
    param n : u32 in 1 .. 4096
    in  x : u8[n]
    out y : u8[n]
    cycles n + 10
}
buffer p : u8[512]
buffer q : u8[512]
buffer m : u8[16][32]
"""


class _Every:
    """The reference 'index': every access of the buffer (of the right direction),
    in program order, whatever its hull."""

    def __init__(self, positions):
        self.positions = positions

    def overlapping(self, lo, hi):
        return list(self.positions)


def _pairwise_index(accesses):
    groups = {}
    for k, (_, port, view, *_rest) in enumerate(accesses):
        writes, every = groups.setdefault(view.buffer.name, ([], []))
        every.append(k)
        if port.direction != "in":
            writes.append(k)
    return {name: (_Every(w), _Every(e)) for name, (w, e) in groups.items()}


def _diagnostics(path, monkeypatch=None, pairwise=False):
    if pairwise:
        monkeypatch.setattr(races, "race_index", _pairwise_index)
    try:
        check(load(str(path)))
        return []
    except SourceError as e:
        return [repr(d) for d in e.diagnostics]
    finally:
        if pairwise:
            monkeypatch.undo()


def _program(rng: random.Random) -> str:
    names = iter(range(1 << 30))

    def offset(vs, n):
        terms = [str(rng.choice([0, 4, 8, 16, 24, 32, 64, 100, 128, 200]))]
        for v in vs:
            c = rng.choice([0, 0, 1, 2, 4, 8, 16, 32, n, -4])
            if c < 0:
                terms[0] = str(int(terms[0]) + 64)
            if c:
                terms.append(f"{c} * {v}")
        return " + ".join(terms)

    def view(vs, n):
        b = rng.choice(["p", "p", "q", "m"])
        if b == "m":
            return f"m[{rng.randrange(16)}][{rng.randrange(4) * 4} .. {rng.randrange(4) * 4 + n}]"
        e = offset(vs, n)
        return f"{b}[{e} .. {e} + {n}]"

    def items(vs, depth):
        out = []
        for _ in range(rng.randint(1, 3)):
            r = rng.random()
            if r < 0.5 or depth >= 2:
                n = rng.choice([4, 8, 16])
                out.append(f"task COPY(x: {view(vs, n)}, y: {view(vs, n)}, n: {n})")
            else:
                v = f"v{next(names)}"
                start, count = rng.choice([0, 0, 1, 3]), rng.randint(1, 5)
                out.append(f"{'loop' if r < 0.8 else 'for'} {v} in {start} .. {start + count} {{")
                out += items(vs + [v], depth + 1)
                out.append("}")
        return out

    lines = []
    rep = rng.random() < 0.3
    outer = ["r"] if rep else []
    for _ in range(rng.randint(1, 2)):
        lines.append("window { parsec {")
        if rng.random() < 0.25:
            lines.append(f"for s in 0 .. {rng.randint(2, 4)} {{ thread on slot s {{")
            lines += items(outer + ["s"], 0)
            lines.append("} }")
        else:
            for _ in range(rng.randint(2, 4)):
                lines.append("thread {")
                lines += items(outer, 0)
                lines.append("}")
        lines.append("} }")
    body = "\n".join(lines)
    if rep:
        body = f"repeat r in 0 .. {rng.randint(1, 4)} {{\n{body}\n}}"
    return HEAD + f"program rp on t4 {{\n{body}\n}}\n"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, 1 << 32))
def test_races_match_every_pair(tmp_path, monkeypatch, seed):
    path = tmp_path / "r.aci"
    path.write_text(_program(random.Random(seed)))
    assert _diagnostics(path) == _diagnostics(path, monkeypatch, pairwise=True)


def test_random_programs_do_race():
    """The generator above reaches both outcomes: races and clean programs."""
    import tempfile
    from pathlib import Path

    seen = set()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(40):
            path = Path(tmp) / "r.aci"
            path.write_text(_program(random.Random(seed)))
            d = _diagnostics(path)
            seen.add("E064" if any("E064" in x for x in d) else "clean" if not d else "other")
    assert {"E064", "clean"} <= seen


def test_many_tasks_one_race(tmp_path):
    """600 tasks over four threads: the race on one pair of slices is found and
    named as comparing every pair would."""
    per = 150
    body = "\n".join(
        f"thread on slot {s} {{ for i in 0 .. {per} {{ task COPY(x: q[{s * per} + i .. {s * per} + i + 1], "
        f"y: p[{s * per} + i .. {s * per} + i + 1], n: 1) }} }}"
        for s in range(4)
    )
    text = HEAD.replace("u8[512]", "u8[4096]") + textwrap.dedent(f"""
        program big on t4 {{ window {{ parsec {{
        {body}
        }} }} }}
        """)
    path = tmp_path / "big.aci"
    path.write_text(text)
    assert _diagnostics(path) == []
    racy = text.replace(
        f"y: p[{3 * per} + i .. {3 * per} + i + 1]", f"y: p[{3 * per - 1} .. {3 * per}]"
    )
    path.write_text(racy)
    got = _diagnostics(path)
    assert got == _diagnostics(path, pytest.MonkeyPatch(), pairwise=True)
    assert (
        len(got) == 1
        and "E064" in got[0]
        and f"bytes {3 * per - 1} .. {3 * per - 1} of `p`" in got[0]
    )


# ---- the index itself ---------------------------------------------------------------

_bound = st.integers(-(1 << 65), 1 << 65) | st.integers(-50, 50)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_bound, st.integers(0, 40)), max_size=40),
    st.lists(st.tuples(_bound, st.integers(0, 40)), min_size=1, max_size=10),
)
def test_interval_index_matches_brute_force(items, queries):
    ivs = [(lo, lo + n, k) for k, (lo, n) in enumerate(items)]
    index = IntervalIndex(ivs)
    for lo, n in queries:
        hi = lo + n
        assert index.overlapping(lo, hi) == sorted(k for a, b, k in ivs if a < hi and b > lo)
    for a, b, k in ivs:  # every interval meets itself when it is not empty
        assert (k in index.overlapping(a, b)) == (a < b)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-40, 40), st.integers(0, 12)), max_size=40),
    st.lists(st.tuples(st.integers(-50, 50), st.integers(0, 20)), min_size=1, max_size=10),
)
def test_last_access_matches_brute_force(items, queries):
    ranges = LastAccess()
    for lo, n in items:
        if ranges.get((lo, lo + n)) is None:
            ranges.add((lo, lo + n), (lo, lo + n))
    keys = {(lo, lo + n) for lo, n in items}
    for lo, n in queries:
        hi = lo + n
        assert sorted(ranges.overlapping(lo, hi)) == sorted(
            k for k in keys if k[0] < hi and k[1] > lo
        )
