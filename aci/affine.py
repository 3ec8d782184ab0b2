"""Affine index analysis.

An :class:`Affine` is ``const + sum(coeff[v] * v)`` over loop and repeat variables.
Index expressions are evaluated to affine forms; a buffer region's byte offset is one,
so its stride per loop variable is simply its coefficient. Later stages use the same
forms for strides (lowering), dependencies and races (:func:`intervals`).
"""

from __future__ import annotations

from typing import Mapping

import attrs


@attrs.frozen
class Var:
    """A loop or repeat variable: takes ``start, start+1, ..., start+count-1``."""
    name: str
    start: int
    count: int
    kind: str  # "loop" or "repeat"
    uid: int  # distinguishes variables that share a name

    @property
    def last(self) -> int:
        return self.start + self.count - 1


@attrs.frozen
class Affine:
    const: int
    coeffs: tuple[tuple[Var, int], ...] = ()  # sorted by var uid, no zero coefficients

    @staticmethod
    def of(const: int = 0, coeffs: Mapping[Var, int] | None = None) -> "Affine":
        items = tuple(sorted(((v, c) for v, c in (coeffs or {}).items() if c),
                             key=lambda vc: vc[0].uid))
        return Affine(int(const), items)

    @staticmethod
    def var(v: Var) -> "Affine":
        return Affine(0, ((v, 1),))

    @property
    def is_const(self) -> bool:
        return not self.coeffs

    def coeff(self, v: Var) -> int:
        for w, c in self.coeffs:
            if w == v:
                return c
        return 0

    @property
    def vars(self) -> tuple[Var, ...]:
        return tuple(v for v, _ in self.coeffs)

    def _map(self) -> dict[Var, int]:
        return dict(self.coeffs)

    def __add__(self, other: "Affine") -> "Affine":
        m = self._map()
        for v, c in other.coeffs:
            m[v] = m.get(v, 0) + c
        return Affine.of(self.const + other.const, m)

    def __neg__(self) -> "Affine":
        return Affine.of(-self.const, {v: -c for v, c in self.coeffs})

    def __sub__(self, other: "Affine") -> "Affine":
        return self + (-other)

    def scale(self, k: int) -> "Affine":
        return Affine.of(self.const * k, {v: c * k for v, c in self.coeffs})

    def divide_exact(self, k: int) -> "Affine | None":
        if k == 0 or self.const % k or any(c % k for _, c in self.coeffs):
            return None
        return Affine.of(self.const // k, {v: c // k for v, c in self.coeffs})

    def at(self, values: Mapping[Var, int]) -> int:
        return self.const + sum(c * values[v] for v, c in self.coeffs)

    def extremes(self) -> tuple[tuple[int, dict[Var, int]], tuple[int, dict[Var, int]]]:
        """(min, the assignment reaching it), (max, the assignment reaching it)."""
        lo_at = {v: (v.start if c > 0 else v.last) for v, c in self.coeffs}
        hi_at = {v: (v.last if c > 0 else v.start) for v, c in self.coeffs}
        return (self.at(lo_at), lo_at), (self.at(hi_at), hi_at)

    def __str__(self) -> str:
        parts = [f"{c}*{v.name}" if c != 1 else v.name for v, c in self.coeffs]
        if self.const or not parts:
            parts.append(str(self.const))
        return " + ".join(parts)


def describe(values: Mapping[Var, int]) -> str:
    """``i = 3, j = 0`` for messages; empty when there are no variables."""
    return ", ".join(f"{v.name} = {x}" for v, x in sorted(values.items(), key=lambda i: i[0].uid))


def intervals(offset: Affine, over: tuple[Var, ...], fixed: Mapping[Var, int] | None = None):
    """The starts of ``offset`` for every assignment of the variables ``over``.

    Variables of ``offset`` not in ``over`` take their value from ``fixed`` (or their
    start). Returns ``(starts, assignments)``: an int64 array and a function from an
    index of that array to the assignment that produced it.
    """
    import numpy as np  # only race checks need it: keep the command line's start-up light

    fixed = dict(fixed or {})
    base = offset.const + sum(c * fixed.get(v, v.start) for v, c in offset.coeffs if v not in over)
    used = [v for v in over if offset.coeff(v)]
    starts = np.array([base], dtype=np.int64)
    for v in used:
        steps = np.arange(v.start, v.start + v.count, dtype=np.int64) * offset.coeff(v)
        starts = (starts[:, None] + steps[None, :]).reshape(-1)

    def assignment(k: int) -> dict[Var, int]:
        out = {}
        for v in reversed(used):
            k, r = divmod(int(k), v.count)
            out[v] = v.start + r
        return out
    return starts, assignment


def first_overlap(a_starts, a_len: int, b_starts, b_len: int):
    """Indices (i, j) of some pair of overlapping intervals (int64 start arrays of
    intervals of one length each), or None; O(n log n)."""
    import numpy as np

    if not len(a_starts) or not len(b_starts) or a_len <= 0 or b_len <= 0:
        return None
    order = np.argsort(b_starts, kind="stable")
    bs = b_starts[order]
    # For each a interval, the last b interval starting before it ends.
    k = np.searchsorted(bs, a_starts + a_len, side="left") - 1
    ok = k >= 0
    hit = np.zeros(len(a_starts), dtype=bool)
    hit[ok] = bs[k[ok]] + b_len > a_starts[ok]
    if not hit.any():
        return None
    i = int(np.argmax(hit))
    return i, int(order[k[i]])
