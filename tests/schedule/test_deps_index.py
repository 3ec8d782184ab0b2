"""The dependency analysis (``aci.deps``) against its pairwise formulation.

The analysis finds the ranges a task's access overlaps per range length
(``aci.overlap.LastAccess``) and, in the sampled analysis, the pairs of tasks whose
ports may conflict through an index of port hulls per slot
(``aci.overlap.IntervalIndex``). The references below are the straightforward
versions: a scan of every range ever accessed, and every pair of tasks on different
slots with every pair of their ports. On random programs (loops of various strides
and counts, repeats, compile-time expansion, several slots) both must give the same
waits, with the exact and with the sampled analysis. (That the waits order every
conflict is ``test_schedule.test_waits_order_every_conflict``.)
"""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aci import deps
from aci import program as P
from aci.check import check
from aci.diagnostics import SourceError
from aci.parse import load
from aci.place import place
from aci.schedule import schedule

from .test_schedule import PRELUDE

HEAD = (
    PRELUDE
    + """buffer b : u8[8192]
buffer c : u8[8192]
"""
)


class _PairwiseMemory:
    """Every range ever accessed, scanned in address order (the reference)."""

    def __init__(self):
        self.state = {}

    def access(self, lo, hi, write, who, found):
        for (klo, khi), (last_write, reads) in sorted(self.state.items()):
            if not (klo < hi and khi > lo):
                continue
            if last_write is not None:
                s, pos = last_write
                if found.get(s, -1) < pos:
                    found[s] = pos
            if write:
                for s, pos in reads.items():
                    if found.get(s, -1) < pos:
                        found[s] = pos

    def record(self, lo, hi, write, who):
        st = self.state.setdefault((lo, hi), [None, {}])
        if write:
            st[0] = who
            st[1] = {}
        else:
            s, pos = who
            if st[1].get(s, -1) < pos:
                st[1][s] = pos


def _pairwise_doubtful(prog, best):
    """Every pair of tasks on different slots, every pair of their ports."""
    tasks = list(P.walk_tasks(prog))
    where = deps._levels(prog)
    ports = {
        id(t): [
            (r.address(), r.length, p.direction == "out")
            for p, r in zip(t.core.ports, t.ports, strict=True)
        ]
        for t in tasks
    }
    for b in tasks:
        for a in tasks:
            if a.slot == b.slot:
                continue
            (la, pa), (lb, pb) = where[id(a)], where[id(b)]
            shared = tuple(v for v in la if v in lb and v.count > 1)
            for aaddr, alen, aw in ports[id(a)]:
                for baddr, blen, bw in ports[id(b)]:
                    if not (aw or bw):
                        continue
                    may, far = deps._depends(aaddr, alen, baddr, blen, shared, pa < pb)
                    if may and (far or a.slot not in best.get(id(b), {})):
                        best.setdefault(id(b), {})[a.slot] = 0


def _program(rng: random.Random) -> str:
    names = iter(range(1 << 30))

    base = [0]

    def view(vs, n):
        buf = rng.choice("bc")
        terms = [str(base[0] + rng.choice([0, 64, 256]) + rng.choice([0, 0, 16, 100]))]
        for v in vs:
            k = rng.choice([0, 0, 8, 16, n, 2 * n] if v != "r" else [0, 8, 64])
            if k:
                terms.append(f"{k} * {v}")
        e = " + ".join(terms)
        return f"{buf}[{e} .. {e} + {n}]"

    def items(vs, depth):
        out = []
        for _ in range(rng.randint(1, 3)):
            r = rng.random()
            if r < 0.5 or depth >= 2:
                n = rng.choice([16, 32, 64])
                out.append(f"task TEST(a: {view(vs, n)}, y: {view(vs, n)}, n: {n}, salt: 0)")
            else:
                v = f"v{next(names)}"
                count = rng.choice([1, 2, 3, 5, 7])
                out.append(f"{'loop' if r < 0.8 else 'for'} {v} in 0 .. {count} {{")
                out += items(vs + [v], depth + 1)
                out.append("}")
        return out

    rep = rng.random() < 0.4
    outer = ["r"] if rep else []
    lines = []
    for _ in range(rng.randint(1, 3)):
        lines.append("window {")
        for _ in range(rng.randint(1, 2)):
            lines.append("parsec {")
            # Threads of a parsec mostly keep to their own quarter of the buffers (few
            # races); the quarters move between parsecs (dependencies across slots).
            quarters = rng.sample(range(4), 3)
            for k, slot in enumerate(rng.sample(range(4), rng.randint(1, 3))):
                base[0] = 2048 * quarters[k] if rng.random() < 0.85 else rng.choice([0, 1000])
                lines.append(f"thread on slot {slot} {{")
                lines += items(outer, 0)
                lines.append("}")
            lines.append("}")
        lines.append("}")
    body = "\n".join(lines)
    if rep:
        body = f"repeat r in 0 .. {rng.choice([2, 3, 6])} {{\n{body}\n}}"
    return HEAD + f"program p on zcu102 {{\n{body}\n}}\n"


def _waits(prog, monkeypatch, limit, reference):
    monkeypatch.setattr(deps, "EXACT_LIMIT", limit)
    if reference:
        monkeypatch.setattr(deps, "_Memory", _PairwiseMemory)
        monkeypatch.setattr(deps, "_doubtful_pairs", _pairwise_doubtful)
    try:
        return deps.waits(prog)
    finally:
        monkeypatch.undo()


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, 1 << 32))
def test_waits_match_pairwise(tmp_path, monkeypatch, seed):
    path = tmp_path / "d.aci"
    path.write_text(_program(random.Random(seed)))
    try:
        prog = schedule(place(next(iter(check(load(str(path))).programs.values()))), "dataflow")
    except SourceError:
        return  # a race, an index out of bounds: nothing to schedule
    for limit in (0, 10**9):  # the sampled analysis, the exact one
        assert _waits(prog, monkeypatch, limit, False) == _waits(prog, monkeypatch, limit, True)


def test_random_programs_get_waits():
    """The generator reaches programs with waits, and ones where the sampled
    analysis differs from the exact one (full waits for doubtful pairs)."""
    import pytest

    got, differ = 0, 0
    mp = pytest.MonkeyPatch()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.aci"
        for seed in range(60):
            path.write_text(_program(random.Random(seed)))
            try:
                prog = schedule(
                    place(next(iter(check(load(str(path))).programs.values()))), "dataflow"
                )
            except SourceError:
                continue
            exact, sampled = _waits(prog, mp, 10**9, False), _waits(prog, mp, 0, False)
            got += bool(exact)
            differ += exact != sampled
    assert got >= 5 and differ >= 1
