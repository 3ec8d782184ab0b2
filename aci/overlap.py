"""Which intervals overlap a given one: the index behind the race check and the
dependency analysis.

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
from typing import Any, Iterable, Iterator

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
        tree[size:size + n] = [x[1] for x in items]
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
        self.starts: dict[int, list[int]] = {}  # length -> sorted starts of the ranges of that length

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

