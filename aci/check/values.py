"""The values of compile-time expressions, and how diagnostics show them.

A number carries its dimension (aci.units); a value that depends on loop or repeat
variables is an affine form (:class:`Sym`); a buffer named in an expression is a
:class:`BufRef`; an expression whose error is already reported is :data:`POISON`,
which every later step passes on quietly.
"""

from __future__ import annotations

from fractions import Fraction

from .. import ast, record, units
from .. import program as P
from ..affine import Affine


@record.frozen
class Num:
    value: Fraction
    dim: str = units.COUNT


@record.frozen
class Flag:
    value: bool


@record.frozen
class Sym:
    """A value that depends on loop or repeat variables (always a count)."""

    aff: Affine


@record.frozen
class BufRef:
    buffer: ast.Buffer


class Poison:
    """The value of an expression whose error is already reported."""


POISON = Poison()
Value = Num | Flag | Sym | BufRef | Poison


def show(v: Value) -> str:
    return (
        str(v.value).lower() if isinstance(v, Flag) else fmt(v.value) if isinstance(v, Num) else "?"
    )


def show_param(core: P.Core, name: str, v: int) -> str:
    param = core.param(name)
    return ("true" if v else "false") if param is not None and param.type == "bool" else str(v)


def fmt(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{float(v):g}"
