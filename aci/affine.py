"""Affine index analysis.

An :class:`Affine` is ``const + sum(coeff[v] * v)`` over loop and repeat variables.
Index expressions are evaluated to affine forms; a view's byte offset is one,
so its stride per loop variable is simply its coefficient. Later stages use the same
forms for strides (lowering), dependencies and races (:func:`aci.overlap.meet`).
"""

from __future__ import annotations

from typing import Mapping

from . import record


@record.frozen
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


@record.frozen
class Affine:
    const: int
    coeffs: tuple[tuple[Var, int], ...] = ()  # sorted by var uid, no zero coefficients

    @staticmethod
    def of(const: int = 0, coeffs: Mapping[Var, int] | None = None) -> "Affine":
        items = tuple(
            sorted(((v, c) for v, c in (coeffs or {}).items() if c), key=lambda vc: vc[0].uid)
        )
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

    def substitute(self, values: Mapping[Var, "Affine"]) -> "Affine":
        """This form with each variable of ``values`` replaced by its form."""
        out = Affine.of(self.const, {v: c for v, c in self.coeffs if v not in values})
        for v, c in self.coeffs:
            if v in values:
                out = out + values[v].scale(c)
        return out

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
