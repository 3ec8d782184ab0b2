"""Overlap of strided byte ranges: the one oracle of whether two views meet, and the
interval indexes behind the race check and the dependency analysis.

:func:`meet` answers whether two strided ranges ever share a byte (the bytes two
ports' views cover over their iterations): range a covers ``[a, a + a_len)`` and
range b ``[b, b + b_len)``, where ``a`` and ``b`` are affine
byte offsets (:class:`aci.affine.Affine`) over loop and repeat variables. Each side
takes its own value of each variable (two instances of one loop), except the
variables named ``same`` (one value for both: two threads inside one iteration of a
``repeat``) and the variable named ``later`` (b's value is at least ``gap`` more than
a's: a later iteration). The checker's race test, the balancer, the dependency
analysis and the interpreter's batching all ask it.

It is exact: the question is whether the integer linear form ``a - b`` takes a value
in ``(-a_len, b_len)`` over a box of variable values (plus the one coupling of
``later``), answered by a depth-first search over the variables, largest stride
first, that keeps only the values whose remaining range can still reach the target,
prunes by the greatest common divisor of the remaining strides, and closes a
suffix of strides that fill an arithmetic progression (nested loops: each stride at
most the span of the smaller ones) in one step. Views in nested loops, the common
case, take one search node per variable. The one conservative fallback: a search
that would visit more than ``budget`` nodes (strides with many near-misses and no
overlap) gives up with :data:`MAYBE`, which every caller treats as an overlap.

:class:`IntervalIndex` holds a fixed set of half-open intervals ``[lo, hi)`` with a
key each and answers "which keys have ``lo < q_hi and hi > q_lo``", the keys in
increasing order, in O((k + 1) log n) for k answers: the intervals sorted by their
start, and a segment tree of the largest end over every run of that order, so a
query visits only subtrees that hold an answer (plus one root-to-leaf path per side
of the range). Bounds are Python integers of any size (offsets may pass 2^63).

:class:`LastAccess` maps the distinct byte ranges accessed so far to a state each and
finds those overlapping a range, grouped by length so that one long range does not
make every query scan the short ones (``aci.deps``).
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Iterable, Iterator, NamedTuple

from .affine import Affine, Var

_NONE = float("-inf")  # the largest end of an empty subtree (compares with any int)


class IntervalIndex:
    """A static set of ``(lo, hi, key)``: half-open intervals, keys sortable."""

    def __init__(self, items: Iterable[tuple[int, int, Any]]):
        items = sorted(items, key=lambda x: x[0])
        self.los = [x[0] for x in items]
        self.keys = [x[2] for x in items]
        n = len(items)
        size = 1
        while size < n:
            size *= 2
        self.size = size
        tree = [_NONE] * (2 * size)
        tree[size : size + n] = [x[1] for x in items]
        for k in range(size - 1, 0, -1):
            a, b = tree[2 * k], tree[2 * k + 1]
            tree[k] = a if a > b else b
        self.tree = tree

    def __len__(self) -> int:
        return len(self.los)

    def overlapping(self, lo: int, hi: int) -> list:
        """The keys of the intervals meeting ``[lo, hi)`` (``ilo < hi and ihi > lo``),
        sorted."""
        p = bisect.bisect_left(self.los, hi)  # the intervals starting before hi: 0 .. p-1
        if p == 0:
            return []
        tree, size, keys = self.tree, self.size, self.keys
        out = []
        # Depth-first over the nodes covering [0, p), pruning those that end by lo.
        stack = [(1, 0, size)]
        while stack:
            node, nlo, nhi = stack.pop()
            if tree[node] <= lo:
                continue
            if node >= size:
                out.append(keys[node - size])
                continue
            mid = (nlo + nhi) // 2
            if mid < p:
                stack.append((2 * node + 1, mid, nhi))
            stack.append((2 * node, nlo, mid))
        out.sort()
        return out


class LastAccess:
    """States keyed by distinct ranges ``(lo, hi)``; each range is kept once, as first
    added. ``overlapping(lo, hi)`` yields the state of every kept range meeting
    ``[lo, hi)``: per length L, the ranges starting in ``(lo - L, hi)``."""

    def __init__(self):
        self.state: dict[tuple[int, int], Any] = {}
        self.starts: dict[
            int, list[int]
        ] = {}  # length -> sorted starts of the ranges of that length

    def get(self, key: tuple[int, int]):
        return self.state.get(key)

    def add(self, key: tuple[int, int], value) -> None:
        lo, hi = key
        starts = self.starts.get(hi - lo)
        if starts is None:
            self.starts[hi - lo] = [lo]
        elif lo > starts[-1]:
            starts.append(lo)  # the usual case: ranges met in increasing order
        else:
            bisect.insort(starts, lo)
        self.state[key] = value

    def overlapping(self, lo: int, hi: int) -> Iterator:
        state = self.state
        for length, starts in self.starts.items():
            a = bisect.bisect_right(starts, lo - length)
            b = bisect.bisect_left(starts, hi, a)
            for k in range(a, b):
                s = starts[k]
                yield state[(s, s + length)]


# ---- the overlap oracle ------------------------------------------------------------

BUDGET = 1 << 14  # search nodes before the conservative answer


class _Maybe:
    """The conservative answer: the search gave up; treat the ranges as meeting."""

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "MAYBE"


MAYBE = _Maybe()


class Meet(NamedTuple):
    """Two ranges meet: bytes ``lo .. hi - 1`` are in both, with the variables'
    values on each side (only the variables each offset uses)."""

    lo: int
    hi: int
    at_a: dict
    at_b: dict


class _GiveUp(Exception):
    pass


def meet(
    a: Affine,
    a_len: int,
    b: Affine,
    b_len: int,
    *,
    same: Iterable[Var] = (),
    later: Var | None = None,
    gap: int = 1,
    budget: int = BUDGET,
) -> Meet | _Maybe | None:
    """A :class:`Meet` (a witness), None (they never meet) or :data:`MAYBE`.

    ``same``: variables with one value on both sides. ``later``: a variable whose
    value in b is at least ``gap`` more than in a. Every other variable takes its
    values on each side independently.
    """
    if a_len <= 0 or b_len <= 0:
        return None
    same = frozenset(same) - {later}
    const = a.const - b.const
    terms: list[list] = []  # [coefficient, start, count, role, var]
    for v, c in a.coeffs:
        if v is not later and v not in same:
            terms.append([c, v.start, v.count, "a", v])
    for v, c in b.coeffs:
        if v is not later and v not in same:
            terms.append([-c, v.start, v.count, "b", v])
    for v in same:
        c = a.coeff(v) - b.coeff(v)
        if c:
            terms.append([c, v.start, v.count, "s", v])
    bound = None  # the coupling y_p + y_d <= bound of the `later` pair (before flips)
    ca = cb = 0
    if later is not None:
        n = later.count
        if gap > n - 1:
            return None
        ca, cb = a.coeff(later), b.coeff(later)
        # a takes p, b takes p + d with gap <= d <= n - 1 and p <= last - d
        if ca != cb:
            terms.append([ca - cb, later.start, n - gap, "p", later])
            bound = n - 1 - gap
        terms.append([-cb, gap, n - gap, "d", later])
    # Normalize: each variable y in 0 .. N-1 with a positive coefficient (flipped
    # where it was negative); the form is const + sum(c * y).
    kept = []
    for t in terms:
        c, start, count, role, v = t
        const += c * start
        flip = c < 0
        if flip:
            const += c * (count - 1)
            c = -c
        if (c == 0 or count == 1) and not (bound is not None and role in "pd"):
            continue
        kept.append((c, count, flip, role, v, start))
    kept.sort(key=lambda t: (t[0] == 0, -t[0]))
    k = len(kept)
    lo_t, hi_t = 1 - a_len - const, b_len - 1 - const
    coupled = [i for i, t in enumerate(kept) if bound is not None and t[3] in "pd"]
    cbound = 0 if bound is None else bound  # used only with `coupled`, which has a bound
    if coupled:  # y'_p * sign + y'_d * sign <= bound - (N - 1 for each flipped one)
        for i in coupled:
            if kept[i][2]:
                cbound -= kept[i][1] - 1
    smax = [0] * (k + 1)
    gcds = [0] * (k + 1)
    dense = [True] * (k + 1)
    span, step, ok = 0, 0, True
    for i in range(k - 1, -1, -1):
        c, count = kept[i][0], kept[i][1]
        smax[i] = smax[i + 1] + c * (count - 1)
        gcds[i] = math.gcd(gcds[i + 1], c)
        if i in coupled:
            ok = False
        elif count > 1 and c:
            if step == 0:
                step, span = c, c * (count - 1)
            elif c % step == 0 and c <= span + step:
                span += c * (count - 1)
            else:
                ok = False
        dense[i] = ok
    ys = [0] * k
    nodes = 0

    def clamp(i: int) -> tuple[int, int]:
        lo, hi = 0, kept[i][1] - 1
        if i in coupled:
            j = coupled[0] if coupled[1] == i else coupled[1]
            if j < i:  # the partner is fixed: s_i * y_i <= cbound - s_j * y_j
                rest = cbound - (-ys[j] if kept[j][2] else ys[j])
                if kept[i][2]:
                    lo = max(lo, -rest)
                else:
                    hi = min(hi, rest)
        return lo, hi

    def search(i: int, L: int, H: int) -> bool:
        nonlocal nodes
        nodes += 1
        if nodes > budget:
            raise _GiveUp
        if i == k:
            return L <= 0 <= H
        lo, hi = max(L, 0), min(H, smax[i])
        if lo > hi:
            return False
        g = gcds[i]
        if g:
            first = -(-lo // g) * g
            if first > hi:
                return False
            if dense[i]:  # an arithmetic progression 0, g, ..., smax: take `first`, greedily
                t = first
                for j in range(i, k):
                    c, count = kept[j][0], kept[j][1]
                    ys[j] = min(count - 1, t // c) if c else 0
                    t -= c * ys[j]
                return True
        c = kept[i][0]
        zlo, zhi = clamp(i)
        if c == 0:
            if zlo > zhi:
                return False
            ys[i] = zlo
            return search(i + 1, L, H)
        zlo = max(zlo, -(-(L - smax[i + 1]) // c))
        zhi = min(zhi, H // c)
        for z in range(zlo, zhi + 1):
            ys[i] = z
            if search(i + 1, L - c * z, H - c * z):
                return True
        return False

    try:
        if not search(0, lo_t, hi_t):
            return None
    except _GiveUp:
        return MAYBE
    at_a = {v: v.start for v in a.vars}
    at_b = {v: v.start for v in b.vars}
    p = d = None
    for (_c, count, flip, role, v, start), y in zip(kept, ys, strict=True):
        x = start + (count - 1 - y if flip else y)
        if role in "as" and v in at_a:
            at_a[v] = x
        if role in "bs" and v in at_b:
            at_b[v] = x
        if role == "p":
            p = x
        elif role == "d":
            d = x
    if later is not None:
        p = later.start if p is None else p
        d = gap if d is None else d
        if later in at_a:
            at_a[later] = p
        if later in at_b:
            at_b[later] = p + d
    lo = max(a.at(at_a), b.at(at_b))
    hi = min(a.at(at_a) + a_len, b.at(at_b) + b_len)
    assert lo < hi, "the witness must overlap"
    return Meet(lo, hi, at_a, at_b)
