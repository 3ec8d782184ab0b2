"""Races (E064): two threads of one parsec that may touch the same bytes of a buffer,
one of them writing.

The check does not compare every pair of accesses of two threads: per buffer, each
access looks up the other thread's accesses whose hulls meet its own in an interval
index (``aci.overlap.IntervalIndex``) and checks those exactly with the overlap
oracle (``aci.overlap.meet``: each thread's loops independent, a repeat's variable
one value for both, since iterations of a repeat are not concurrent), in program
order, so it reports the same pair as comparing every pair in O(n log n) when few
hulls meet.
"""

from __future__ import annotations

import itertools

from .. import program as P
from ..affine import describe
from ..diagnostics import Note
from ..overlap import IntervalIndex, Meet, meet
from .context import Scope


def races(sc: Scope, threads: tuple[P.Thread, ...]) -> None:
    """E064 for every pair of threads of a parsec that race, at most once a pair:
    the first access of the first thread (in program order) that meets some access
    of the second, and the first such access of the second.

    Only accesses whose hulls (every byte a view may cover, over all its
    iterations) meet can race, so each access of one thread looks up the accesses
    of the other whose hulls meet its own in an :class:`IntervalIndex` per buffer,
    and only those get the exact check (:func:`overlap`), in program order: the
    same pairs, in the same order, as comparing every pair, in O(n log n) when few
    hulls meet.
    """
    accesses = [accesses_of(th) for th in threads]
    indexes: list[dict | None] = [None] * len(threads)
    for i, j in itertools.combinations(range(len(threads)), 2):
        if indexes[j] is None:
            indexes[j] = race_index(accesses[j])
        for a in accesses[i]:
            if race_with(sc, a, accesses[j], indexes[j], threads[i], threads[j]):
                break


def accesses_of(th: P.Thread):
    """(task, port, view, enclosing loops, hull start, hull end) per port of every
    task of the thread, in program order."""
    out = []

    def walk(node, loops):
        if isinstance(node, P.Loop):
            for b in node.body:
                walk(b, loops + (node.var,))
            return
        for port, view in zip(node.core.ports, node.ports, strict=True):
            (lo, _), (hi, _) = view.offset.extremes()
            out.append((node, port, view, loops, lo, hi + view.length))

    for n in th.body:
        walk(n, ())
    return out


def race_index(accesses) -> dict[str, tuple[IntervalIndex, IntervalIndex]]:
    """Buffer name -> (the hulls of the accesses that write it, of all accesses to
    it), keyed by position in ``accesses``."""
    groups: dict[str, tuple[list, list]] = {}
    for k, (_, port, view, _, lo, hi) in enumerate(accesses):
        writes, every = groups.setdefault(view.buffer.name, ([], []))
        every.append((lo, hi, k))
        if port.direction != "in":
            writes.append((lo, hi, k))
    return {name: (IntervalIndex(w), IntervalIndex(e)) for name, (w, e) in groups.items()}


def race_with(sc: Scope, a, others, index, ta: P.Thread, tb: P.Thread) -> bool:
    task_a, port_a, reg_a, loops_a, lo_a, hi_a = a
    pair = index.get(reg_a.buffer.name)
    if pair is None:
        return False
    # Two reads never race: a read meets only the other thread's writes.
    for k in pair[0 if port_a.direction == "in" else 1].overlapping(lo_a, hi_a):
        task_b, port_b, reg_b, loops_b, _, _ = others[k]
        hit = overlap(reg_a, loops_a, reg_b, loops_b)
        if hit is None:
            continue
        lo, hi, at_a, at_b = hit
        verb_a = "writes" if port_a.direction == "out" else "reads"
        verb_b = "writes" if port_b.direction == "out" else "reads"
        it_a = f" (iteration {describe(at_a)})" if at_a else ""
        it_b = f" (iteration {describe(at_b)})" if at_b else ""
        sc.err(
            "E064",
            f"race: `{task_b.core.name}`{it_b} {verb_b} bytes {lo} .. {hi - 1} of `{reg_a.buffer.name}` "
            f"through `{port_b.name}`, which `{task_a.core.name}`{it_a} in another thread of this parsec "
            f"{verb_a} through `{port_a.name}`",
            reg_b.span,
            Note(f"`{task_a.core.name}` {verb_a} them here", reg_a.span),
        )
        return True
    return False


def overlap(ra: P.View, la, rb: P.View, lb):
    """(first byte, end, iteration of a, iteration of b) where the views of two
    threads meet, or None. The threads' own loops run independently; every other
    variable (a `repeat`'s) has one value for both: iterations of a repeat are not
    concurrent. Asks the overlap oracle; where it gives up (aci.overlap.MAYBE),
    the hulls' common bytes are reported, without iterations."""
    same = set(ra.offset.vars) & set(rb.offset.vars)
    hit = meet(ra.offset, ra.length, rb.offset, rb.length, same=same)
    if hit is None:
        return None
    if not isinstance(hit, Meet):  # aci.overlap.MAYBE: the oracle gave up
        (amin, _), (amax, _) = ra.offset.extremes()
        (bmin, _), (bmax, _) = rb.offset.extremes()
        return max(amin, bmin), min(amax + ra.length, bmax + rb.length), {}, {}
    return hit.lo, hit.hi, hit.at_a, hit.at_b
