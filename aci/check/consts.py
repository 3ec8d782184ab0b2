"""Constant evaluation: compile-time expressions to values, with units.

``evaluate(ctx, e, env)`` gives an expression's :mod:`value <aci.check.values>`;
names are looked up in ``env`` (loop, repeat, ``for`` and parameter values), then
among the unit's consts (evaluated on first use, ``-D`` overrides first, a cycle is
E021) and buffers. ``want_int``, ``as_int`` and ``want_flag`` ask for one kind of
value and report anything else (E020-E025, E050). Errors go to the context; the value
of a wrong expression is :data:`~aci.check.values.POISON`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Iterable, Iterator, Mapping

from .. import ast, units
from ..affine import Affine
from ..diagnostics import Note
from ..span import Span
from .context import Context
from .values import POISON, BufRef, Flag, Num, Poison, Sym, Value, fmt

Env = Mapping[str, Value]


def apply_defines(ctx: Context) -> None:
    """``-D NAME=VALUE``: VALUE is one literal of the language (a number, a number with
    a unit, true or false), optionally negated."""
    from .._parser import literal

    for name, text in ctx.defines.items():
        if name not in ctx.consts:
            known = ", ".join(sorted(ctx.consts)) or "none"
            ctx.err("E013", f"-D {name}={text}: there is no const `{name}` (consts: {known})", None)
            continue
        t = text.strip()
        if t in ("true", "false"):
            ctx.overrides[name] = Flag(t == "true")
            continue
        neg = t.startswith("-")
        lit = literal(t[1:].lstrip() if neg else t)
        if lit is None:
            ctx.err(
                "E013",
                f"-D {name}={text}: not a value of the language (a number such as 1_000, 0x40 "
                "or 2.5, a number with a unit such as 64 KiB or 10 us, true or false)",
                None,
            )
            continue
        value, unit = lit
        v = Num(value) if unit is None else Num(*units.quantity(value, unit))
        ctx.overrides[name] = Num(-v.value, v.dim) if neg else v


def const_value(ctx: Context, name: str, use: Span) -> Value:
    if name in ctx.const_values:
        return ctx.const_values[name]
    decl = ctx.consts[name]
    if name in ctx.overrides:
        v: Value = ctx.overrides[name]
    elif name in ctx.const_busy:
        ctx.err(
            "E021",
            f"const `{name}` is defined in terms of itself",
            use,
            Note(f"`{name}` is declared here", decl.span),
        )
        return POISON
    else:
        ctx.const_busy.add(name)
        v = evaluate(ctx, decl.value, {})
        ctx.const_busy.discard(name)
        if isinstance(v, Sym):
            v = POISON
    ctx.const_values[name] = v
    return v


def whole_consts(ctx: Context) -> dict[str, int]:
    """The consts whose values are whole numbers, as the checked program keeps them."""
    return {
        k: int(v.value)
        for k, v in ctx.const_values.items()
        if isinstance(v, Num) and v.value.denominator == 1
    }


# ---- expressions ----------------------------------------------------------------


def lookup(ctx: Context, name: ast.Name, env: Env) -> Value:
    if name.name in env:
        return env[name.name]
    if name.name in ctx.consts:
        return const_value(ctx, name.name, name.span)
    if name.name in ctx.buffers:
        return BufRef(ctx.buffers[name.name])
    ctx.err("E010", f"unknown name `{name.name}`", name.span)
    return POISON


def evaluate(ctx: Context, e: ast.Expr, env: Env) -> Value:
    if isinstance(e, ast.Number):
        return Num(e.value)
    if isinstance(e, ast.Quantity):
        q, dim = units.quantity(e.value, e.unit)
        return Num(q, dim)
    if isinstance(e, ast.Bool):
        return Flag(e.value)
    if isinstance(e, ast.Name):
        return lookup(ctx, e, env)
    if isinstance(e, (ast.Index, ast.Slice)):
        ctx.err("E025", "a view of a buffer is not a number", e.span)
        return POISON
    if isinstance(e, ast.Unary):
        v = evaluate(ctx, e.operand, env)
        return unary(ctx, e, v)
    if isinstance(e, ast.Binary):
        if e.op in ("&&", "||"):
            a = want_flag(ctx, e.left, env)
            b = want_flag(ctx, e.right, env)
            if a is None or b is None:
                return POISON
            return Flag(a and b if e.op == "&&" else a or b)
        return binary(ctx, e, evaluate(ctx, e.left, env), evaluate(ctx, e.right, env))
    if isinstance(e, ast.Cond):
        c = evaluate(ctx, e.cond, env)
        if isinstance(c, Sym):
            not_affine(ctx, e.cond, c, "a condition")
            return POISON
        if isinstance(c, Poison):
            return POISON
        if not isinstance(c, Flag):
            ctx.err(
                "E025",
                "the condition of `? :` must be true or false, not a number",
                e.cond.span,
            )
            return POISON
        return evaluate(ctx, e.then if c.value else e.else_, env)
    if isinstance(e, ast.Call):
        return call(ctx, e, [evaluate(ctx, a, env) for a in e.args])
    raise AssertionError(e)


def not_affine(ctx: Context, e: ast.Expr, v: Sym, what: str) -> None:
    names = ", ".join(f"`{x.name}`" for x in v.aff.vars)
    ctx.err(
        "E050",
        f"{what} may not depend on loop variables ({names}): only sums of "
        "constant multiples of them are affine",
        e.span,
    )


def unary(ctx: Context, e: ast.Unary, v: Value) -> Value:
    if isinstance(v, Poison):
        return POISON
    if e.op == "!":
        if isinstance(v, Flag):
            return Flag(not v.value)
        ctx.err("E025", "`!` needs true or false", e.span)
        return POISON
    if isinstance(v, Num):
        return Num(-v.value, v.dim)
    if isinstance(v, Sym):
        return Sym(-v.aff)
    ctx.err("E025", "`-` needs a number", e.span)
    return POISON


def binary(ctx: Context, e: ast.Binary, a: Value, b: Value) -> Value:
    if isinstance(a, Poison) or isinstance(b, Poison):
        return POISON
    for side, v in ((e.left, a), (e.right, b)):
        if isinstance(v, BufRef):
            ctx.err("E025", f"buffer `{v.buffer.name.name}` is not a number", side.span)
            return POISON
    if isinstance(a, Flag) or isinstance(b, Flag):
        if e.op in ("==", "!=") and isinstance(a, Flag) and isinstance(b, Flag):
            return Flag((a.value == b.value) == (e.op == "=="))
        ctx.err("E025", f"`{e.op}` needs numbers, not true or false", e.span)
        return POISON
    if isinstance(a, Sym) or isinstance(b, Sym):
        return binary_sym(ctx, e, a, b)
    assert isinstance(a, Num) and isinstance(b, Num)
    if e.op in ("+", "-", "==", "!=", "<", "<=", ">", ">="):
        if a.dim != b.dim:
            ctx.err(
                "E020",
                f"cannot combine {a.dim} and {b.dim} with `{e.op}`",
                e.span,
                Note(f"this is {units.EXAMPLE[a.dim]}", e.left.span),
                Note(f"this is {units.EXAMPLE[b.dim]}", e.right.span),
            )
            return POISON
        if e.op == "+":
            return Num(a.value + b.value, a.dim)
        if e.op == "-":
            return Num(a.value - b.value, a.dim)
        x, y = a.value, b.value
        return Flag(
            {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[e.op]
        )
    if e.op == "*":
        dim = units.multiply(a.dim, b.dim)
        if dim is None:
            ctx.err("E020", f"cannot multiply {a.dim} by {b.dim}", e.span)
            return POISON
        return Num(a.value * b.value, dim)
    # "/" and "%": integer division rounding down, exact for decimal literals
    if b.value == 0:
        ctx.err("E023", "division by zero", e.right.span)
        return POISON
    dim = (
        units.divide(a.dim, b.dim)
        if e.op == "/"
        else (a.dim if a.dim == b.dim or b.dim == units.COUNT else None)
    )
    if dim is None:
        ctx.err("E020", f"cannot divide {a.dim} by {b.dim}", e.span)
        return POISON
    q = a.value / b.value
    if e.op == "/":
        return Num(
            Fraction(math.floor(q))
            if (a.value.denominator == 1 and b.value.denominator == 1)
            else q,
            dim,
        )
    return Num(a.value - b.value * math.floor(q), dim)


def binary_sym(ctx: Context, e: ast.Binary, a: Value, b: Value) -> Value:
    def aff(v: Value) -> Affine | None:
        if isinstance(v, Sym):
            return v.aff
        if not isinstance(v, Num) or v.dim != units.COUNT or v.value.denominator != 1:
            return None
        return Affine.of(int(v.value))

    x, y = aff(a), aff(b)
    if x is None or y is None:
        ctx.err("E020", "a loop variable can only be combined with plain whole numbers", e.span)
        return POISON
    if e.op == "+":
        return Sym(x + y)
    if e.op == "-":
        return Sym(x - y)
    if e.op == "*":
        if x.is_const:
            return Sym(y.scale(x.const))
        if y.is_const:
            return Sym(x.scale(y.const))
    if e.op == "/" and y.is_const and y.const != 0:
        q = x.divide_exact(y.const)
        if q is not None:
            return Sym(q)
    not_affine(ctx, e, Sym(x if not x.is_const else y), f"`{e.op}` here")
    return POISON


def call(ctx: Context, e: ast.Call, args: list[Value]) -> Value:
    f = e.func.name
    arity = {"min": None, "max": None, "ceil_div": 2}
    if f not in arity:
        ctx.err("E010", f"unknown function `{f}` (functions: min, max, ceil_div)", e.func.span)
        return POISON
    if any(isinstance(a, Poison) for a in args):
        return POISON
    if (arity[f] and len(args) != arity[f]) or not args:
        ctx.err(
            "E025",
            f"`{f}` takes {arity[f] or 'one or more'} arguments, {len(args)} given",
            e.span,
        )
        return POISON
    nums: list[Num] = []
    for a, x in zip(args, e.args, strict=True):
        if isinstance(a, Sym):
            not_affine(ctx, x, a, f"an argument of `{f}`")
            return POISON
        if not isinstance(a, Num):
            ctx.err("E025", f"`{f}` needs numbers", x.span)
            return POISON
        nums.append(a)
    dims = {a.dim for a in nums}
    if len(dims) > 1 and f != "ceil_div":
        ctx.err("E020", f"`{f}` of different units ({', '.join(sorted(dims))})", e.span)
        return POISON
    if f == "min":
        return Num(min(a.value for a in nums), nums[0].dim)
    if f == "max":
        return Num(max(a.value for a in nums), nums[0].dim)
    if nums[1].value == 0:
        ctx.err("E023", "division by zero", e.args[1].span)
        return POISON
    dim = units.divide(nums[0].dim, nums[1].dim)
    if dim is None:
        ctx.err("E020", f"cannot divide {nums[0].dim} by {nums[1].dim}", e.span)
        return POISON
    return Num(Fraction(math.ceil(nums[0].value / nums[1].value)), dim)


# ---- asking for one kind of value -------------------------------------------------


def want_int(
    ctx: Context, e: ast.Expr, env: Env, what: str, dims: Iterable[str] = (units.COUNT,)
) -> int | None:
    """A compile-time integer of one of ``dims`` (converted to its canonical unit)."""
    v = evaluate(ctx, e, env)
    return as_int(ctx, v, e, what, dims)


def as_int(
    ctx: Context, v: Value, e: ast.Expr, what: str, dims: Iterable[str] = (units.COUNT,)
) -> int | None:
    dims = tuple(dims)
    if isinstance(v, Poison):
        return None
    if isinstance(v, Sym):
        names = ", ".join(f"`{x.name}`" for x in v.aff.vars)
        ctx.err("E021", f"{what} must be a constant, but it uses the loop variable {names}", e.span)
        return None
    if isinstance(v, BufRef):
        ctx.err("E025", f"{what} must be a number, not the buffer `{v.buffer.name.name}`", e.span)
        return None
    if isinstance(v, Flag):
        ctx.err("E025", f"{what} must be a number, not {str(v.value).lower()}", e.span)
        return None
    if v.dim not in dims:
        wanted = " or ".join(units.EXAMPLE[d] for d in dims)
        ctx.err("E020", f"{what} must be {wanted}, but this is {units.EXAMPLE[v.dim]}", e.span)
        return None
    if v.value.denominator != 1:
        ctx.err("E022", f"{what} must be a whole number, but this is {fmt(v.value)}", e.span)
        return None
    return int(v.value)


def want_flag(ctx: Context, e: ast.Expr, env: Env) -> bool | None:
    v = evaluate(ctx, e, env)
    if isinstance(v, Poison):
        return None
    if isinstance(v, Flag):
        return v.value
    if isinstance(v, Sym):
        not_affine(ctx, e, v, "a condition")
        return None
    ctx.err("E025", "expected true or false", e.span)
    return None


def names_in(e: object) -> Iterator[ast.Name]:
    """Every name an expression uses."""
    if isinstance(e, ast.Name):
        yield e
    for f in ast.fields(e):
        v = getattr(e, f)
        for x in v if isinstance(v, tuple) else (v,):
            if ast.fields(x) and not isinstance(x, ast.Ident):
                yield from names_in(x)
