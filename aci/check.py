"""Stage 2, check: parsed modules to checked programs.

``check(loaded, defines)`` resolves every name across the modules of a compilation
unit, evaluates compile-time expressions (with units), applies ``-D`` overrides,
expands ``for``, checks every rule of docs/language.md and places buffers and
bitstreams in the target's memory regions. It returns a :class:`Unit` whose
programs are :class:`aci.program.Program` values, or raises :class:`SourceError`
with every diagnostic found (sorted by position). Codes: E010-E091 of
:data:`aci.diagnostics.CODES`.

The race check (E064) does not compare every pair of accesses of two threads: per
buffer, each access looks up the other thread's accesses whose hulls meet its own in
an interval index (``aci.overlap.IntervalIndex``) and checks those exactly with the
overlap oracle (``aci.overlap.meet``: each thread's loops independent, a repeat's
variable one value for both, since iterations of a repeat are not concurrent), in
program order, so it reports the same pair as comparing every pair in O(n log n)
when few hulls meet (`_ProgramChecker.races`).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Mapping

import attrs

from . import ast, timing, units
from . import format as F
from . import program as P
from .affine import Affine, Var, describe
from .diagnostics import Diagnostic, Note, SourceError, error, warning
from .format import LIMITS
from .overlap import MAYBE, IntervalIndex, meet
from .parse import Loaded
from .span import Span

MAX_FOR_COUNT = 1 << 16
# Statements one compilation unit may elaborate (`for` iterations included): the
# checker's memory and time stay bounded whatever the `for` ranges multiply to.
MAX_STATEMENTS = 1 << 18


def _field_max(struct: F.Struct, name: str) -> int:
    """The largest value an unsigned field of the image format holds."""
    t = next(f.type for f in struct.fields if f.name == name)
    return (1 << 8 * F.FIELD_TYPES[t][1]) - 1


def _name_max(struct: F.Struct, name: str = "name") -> int:
    """The longest name (bytes) a NUL-padded name field of the image format keeps."""
    t = next(f.type for f in struct.fields if f.name == name)
    return F.FIELD_TYPES[t][1] - 1


STRIDE_MIN, STRIDE_MAX = -(1 << 63), (1 << 63) - 1  # a PORT stride is an i64
BUFFER_ALIGN = 64  # placement aligns buffers to a cache line (fixed addresses need 8)


# ---- values ---------------------------------------------------------------------


@attrs.frozen
class Num:
    value: Fraction
    dim: str = units.COUNT


@attrs.frozen
class Flag:
    value: bool


@attrs.frozen
class Sym:
    """A value that depends on loop or repeat variables (always a count)."""

    aff: Affine


@attrs.frozen
class BufRef:
    buffer: ast.Buffer


class _Poison:
    """The value of an expression whose error is already reported."""


POISON = _Poison()
Value = Num | Flag | Sym | BufRef | _Poison


def _show(v) -> str:
    return (
        str(v.value).lower()
        if isinstance(v, Flag)
        else _fmt(v.value)
        if isinstance(v, Num)
        else "?"
    )


def _show_param(core: P.Core, name: str, v: int) -> str:
    return ("true" if v else "false") if core.param(name).type == "bool" else str(v)


def _fmt(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{float(v):g}"


@attrs.frozen
class Unit:
    """Everything a compilation unit declares, checked."""

    programs: dict[str, P.Program]
    targets: dict[str, P.Target]
    cores: dict[str, P.Core]
    consts: dict[str, int]
    warnings: tuple[Diagnostic, ...] = ()  # W codes, sorted by position


def check(loaded: Loaded, defines: Mapping[str, str] | None = None) -> Unit:
    return _Checker(loaded, dict(defines or {})).run()


class _Checker:
    def __init__(self, loaded: Loaded, defines: dict[str, str]):
        self.loaded = loaded
        self.defines = defines
        self.diags: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.statements = 0  # elaborated so far (MAX_STATEMENTS)
        self.consts: dict[str, ast.Const] = {}
        self.buffers: dict[str, ast.Buffer] = {}
        self.core_asts: dict[str, ast.Core] = {}
        self.target_asts: dict[str, ast.Target] = {}
        self.program_asts: dict[str, ast.Program] = {}
        self.const_values: dict[str, Value] = {}
        self.const_busy: set[str] = set()
        self.overrides: dict[str, Value] = {}
        self.cores: dict[str, P.Core | None] = {}
        self.targets: dict[str, P.Target | None] = {}
        self.buffer_types: dict[str, tuple[str, tuple[int, ...]] | None] = {}  # None: reported
        self.var_uid = itertools.count()

    def err(self, code: str, message: str, span: Span | None, *notes: Note) -> None:
        self.diags.append(error(code, message, span, *notes))

    def warn(self, code: str, message: str, span: Span | None, *notes: Note) -> None:
        self.warnings.append(warning(code, message, span, *notes))

    # ---- driver -------------------------------------------------------------

    def run(self) -> Unit:
        self.collect()
        self.apply_defines()
        for name in self.consts:
            self.const_value(name, self.consts[name].span)
        for name, t in self.target_asts.items():
            self.targets[name] = self.check_target(t)
        ids: dict[int, ast.Core] = {}
        for name, c in self.core_asts.items():
            core = self.check_core(c)
            self.cores[name] = core
            if core is not None:
                if core.id in ids:
                    self.err(
                        "E011",
                        f"core id {core.id} is used by `{ids[core.id].name.name}` and `{name}`",
                        c.name.span,
                        Note("first used here", ids[core.id].name.span),
                    )
                else:
                    ids[core.id] = c
        for b in self.buffers.values():
            self.buffer_types[b.name.name] = self.check_buffer_decl(b)
        programs = {}
        for name, p in self.program_asts.items():
            prog = _ProgramChecker(self, p).run()
            if prog is not None:
                programs[name] = prog
        if self.diags:
            unique = list(dict.fromkeys(self.diags))
            raise SourceError(unique)
        consts = {
            k: int(v.value)
            for k, v in self.const_values.items()
            if isinstance(v, Num) and v.value.denominator == 1
        }
        return Unit(
            programs,
            {k: v for k, v in self.targets.items() if v},
            {k: v for k, v in self.cores.items() if v},
            consts,
            tuple(sorted(dict.fromkeys(self.warnings), key=Diagnostic.sort_key)),
        )

    def collect(self) -> None:
        values: dict[str, ast.Const | ast.Buffer] = {}
        kinds = [
            (ast.Core, self.core_asts, "core"),
            (ast.Target, self.target_asts, "target"),
            (ast.Program, self.program_asts, "program"),
        ]
        for module in self.loaded.modules:
            for d in module.decls:
                if isinstance(d, (ast.Const, ast.Buffer)):
                    self._declare(values, d, "name")
                    (self.consts if isinstance(d, ast.Const) else self.buffers)[d.name.name] = d
                for cls, table, what in kinds:
                    if isinstance(d, cls):
                        self._declare(table, d, what)

    def _declare(self, table: dict, d, what: str) -> None:
        prev = table.get(d.name.name)
        if prev is not None:
            self.err(
                "E011",
                f"{what} `{d.name.name}` is declared twice",
                d.name.span,
                Note("first declared here", prev.name.span),
            )
        else:
            table[d.name.name] = d

    def apply_defines(self) -> None:
        """``-D NAME=VALUE``: VALUE is one literal of the language (a number, a
        number with a unit, true or false), optionally negated."""
        from ._parser import literal

        for name, text in self.defines.items():
            if name not in self.consts:
                known = ", ".join(sorted(self.consts)) or "none"
                self.err(
                    "E013", f"-D {name}={text}: there is no const `{name}` (consts: {known})", None
                )
                continue
            t = text.strip()
            if t in ("true", "false"):
                self.overrides[name] = Flag(t == "true")
                continue
            neg = t.startswith("-")
            lit = literal(t[1:].lstrip() if neg else t)
            if lit is None:
                self.err(
                    "E013",
                    f"-D {name}={text}: not a value of the language (a number such as 1_000, 0x40 "
                    "or 2.5, a number with a unit such as 64 KiB or 10 us, true or false)",
                    None,
                )
                continue
            value, unit = lit
            v = Num(value) if unit is None else Num(*units.quantity(value, unit))
            self.overrides[name] = Num(-v.value, v.dim) if neg else v

    def const_value(self, name: str, use: Span) -> Value:
        if name in self.const_values:
            return self.const_values[name]
        decl = self.consts[name]
        if name in self.overrides:
            v: Value = self.overrides[name]
        elif name in self.const_busy:
            self.err(
                "E021",
                f"const `{name}` is defined in terms of itself",
                use,
                Note(f"`{name}` is declared here", decl.span),
            )
            return POISON
        else:
            self.const_busy.add(name)
            v = self.eval(decl.value, {})
            self.const_busy.discard(name)
            if isinstance(v, Sym):
                v = POISON
        self.const_values[name] = v
        return v

    # ---- expressions --------------------------------------------------------

    def lookup(self, name: ast.Name, env: Mapping[str, Value]) -> Value:
        if name.name in env:
            return env[name.name]
        if name.name in self.consts:
            return self.const_value(name.name, name.span)
        if name.name in self.buffers:
            return BufRef(self.buffers[name.name])
        self.err("E010", f"unknown name `{name.name}`", name.span)
        return POISON

    def eval(self, e: ast.Expr, env: Mapping[str, Value]) -> Value:
        if isinstance(e, ast.Number):
            return Num(e.value)
        if isinstance(e, ast.Quantity):
            v, dim = units.quantity(e.value, e.unit)
            return Num(v, dim)
        if isinstance(e, ast.Bool):
            return Flag(e.value)
        if isinstance(e, ast.Name):
            return self.lookup(e, env)
        if isinstance(e, (ast.Index, ast.Slice)):
            self.err("E025", "a buffer region is not a number", e.span)
            return POISON
        if isinstance(e, ast.Unary):
            v = self.eval(e.operand, env)
            return self.unary(e, v)
        if isinstance(e, ast.Binary):
            if e.op in ("&&", "||"):
                a = self.want_flag(e.left, env)
                b = self.want_flag(e.right, env)
                if a is None or b is None:
                    return POISON
                return Flag(a and b if e.op == "&&" else a or b)
            return self.binary(e, self.eval(e.left, env), self.eval(e.right, env))
        if isinstance(e, ast.Cond):
            c = self.eval(e.cond, env)
            if isinstance(c, Sym):
                self.not_affine(e.cond, c, "a condition")
                return POISON
            if isinstance(c, _Poison):
                return POISON
            if not isinstance(c, Flag):
                self.err(
                    "E025",
                    "the condition of `? :` must be true or false, not a number",
                    e.cond.span,
                )
                return POISON
            return self.eval(e.then if c.value else e.else_, env)
        if isinstance(e, ast.Call):
            return self.call(e, [self.eval(a, env) for a in e.args])
        raise AssertionError(e)

    def not_affine(self, e: ast.Expr, v: Sym, what: str) -> None:
        names = ", ".join(f"`{x.name}`" for x in v.aff.vars)
        self.err(
            "E050",
            f"{what} may not depend on loop variables ({names}): only sums of "
            "constant multiples of them are affine",
            e.span,
        )

    def unary(self, e: ast.Unary, v: Value) -> Value:
        if isinstance(v, _Poison):
            return POISON
        if e.op == "!":
            if isinstance(v, Flag):
                return Flag(not v.value)
            self.err("E025", "`!` needs true or false", e.span)
            return POISON
        if isinstance(v, Num):
            return Num(-v.value, v.dim)
        if isinstance(v, Sym):
            return Sym(-v.aff)
        self.err("E025", "`-` needs a number", e.span)
        return POISON

    def binary(self, e: ast.Binary, a: Value, b: Value) -> Value:
        if isinstance(a, _Poison) or isinstance(b, _Poison):
            return POISON
        for side, v in ((e.left, a), (e.right, b)):
            if isinstance(v, BufRef):
                self.err("E025", f"buffer `{v.buffer.name.name}` is not a number", side.span)
                return POISON
        if isinstance(a, Flag) or isinstance(b, Flag):
            if e.op in ("==", "!=") and isinstance(a, Flag) and isinstance(b, Flag):
                return Flag((a.value == b.value) == (e.op == "=="))
            self.err("E025", f"`{e.op}` needs numbers, not true or false", e.span)
            return POISON
        if isinstance(a, Sym) or isinstance(b, Sym):
            return self.binary_sym(e, a, b)
        assert isinstance(a, Num) and isinstance(b, Num)
        if e.op in ("+", "-", "==", "!=", "<", "<=", ">", ">="):
            if a.dim != b.dim:
                self.err(
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
                {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[
                    e.op
                ]
            )
        if e.op == "*":
            dim = units.multiply(a.dim, b.dim)
            if dim is None:
                self.err("E020", f"cannot multiply {a.dim} by {b.dim}", e.span)
                return POISON
            return Num(a.value * b.value, dim)
        # "/" and "%": integer division rounding down, exact for decimal literals
        if b.value == 0:
            self.err("E023", "division by zero", e.right.span)
            return POISON
        dim = (
            units.divide(a.dim, b.dim)
            if e.op == "/"
            else (a.dim if a.dim == b.dim or b.dim == units.COUNT else None)
        )
        if dim is None:
            self.err("E020", f"cannot divide {a.dim} by {b.dim}", e.span)
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

    def binary_sym(self, e: ast.Binary, a: Value, b: Value) -> Value:
        def aff(v):
            if isinstance(v, Sym):
                return v.aff
            if v.dim != units.COUNT or v.value.denominator != 1:
                return None
            return Affine.of(int(v.value))

        x, y = aff(a), aff(b)
        if x is None or y is None:
            self.err(
                "E020", "a loop variable can only be combined with plain whole numbers", e.span
            )
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
        self.not_affine(e, Sym(x if not x.is_const else y), f"`{e.op}` here")
        return POISON

    def call(self, e: ast.Call, args: list[Value]) -> Value:
        f = e.func.name
        arity = {"min": None, "max": None, "ceil_div": 2}
        if f not in arity:
            self.err("E010", f"unknown function `{f}` (functions: min, max, ceil_div)", e.func.span)
            return POISON
        if any(isinstance(a, _Poison) for a in args):
            return POISON
        if (arity[f] and len(args) != arity[f]) or not args:
            self.err(
                "E025",
                f"`{f}` takes {arity[f] or 'one or more'} arguments, {len(args)} given",
                e.span,
            )
            return POISON
        for a, x in zip(args, e.args):
            if isinstance(a, Sym):
                self.not_affine(x, a, f"an argument of `{f}`")
                return POISON
            if not isinstance(a, Num):
                self.err("E025", f"`{f}` needs numbers", x.span)
                return POISON
        dims = {a.dim for a in args}
        if len(dims) > 1 and f != "ceil_div":
            self.err("E020", f"`{f}` of different units ({', '.join(sorted(dims))})", e.span)
            return POISON
        if f == "min":
            return Num(min(a.value for a in args), args[0].dim)
        if f == "max":
            return Num(max(a.value for a in args), args[0].dim)
        if args[1].value == 0:
            self.err("E023", "division by zero", e.args[1].span)
            return POISON
        dim = units.divide(args[0].dim, args[1].dim)
        if dim is None:
            self.err("E020", f"cannot divide {args[0].dim} by {args[1].dim}", e.span)
            return POISON
        return Num(Fraction(math.ceil(args[0].value / args[1].value)), dim)

    def want_int(
        self, e: ast.Expr, env: Mapping[str, Value], what: str, dims: Iterable[str] = (units.COUNT,)
    ) -> int | None:
        """A compile-time integer of one of ``dims`` (converted to its canonical unit)."""
        v = self.eval(e, env)
        return self.as_int(v, e, what, dims)

    def as_int(
        self, v: Value, e: ast.Expr, what: str, dims: Iterable[str] = (units.COUNT,)
    ) -> int | None:
        dims = tuple(dims)
        if isinstance(v, _Poison):
            return None
        if isinstance(v, Sym):
            names = ", ".join(f"`{x.name}`" for x in v.aff.vars)
            self.err(
                "E021", f"{what} must be a constant, but it uses the loop variable {names}", e.span
            )
            return None
        if isinstance(v, BufRef):
            self.err(
                "E025", f"{what} must be a number, not the buffer `{v.buffer.name.name}`", e.span
            )
            return None
        if isinstance(v, Flag):
            self.err("E025", f"{what} must be a number, not {str(v.value).lower()}", e.span)
            return None
        if v.dim not in dims:
            wanted = " or ".join(units.EXAMPLE[d] for d in dims)
            self.err("E020", f"{what} must be {wanted}, but this is {units.EXAMPLE[v.dim]}", e.span)
            return None
        if v.value.denominator != 1:
            self.err("E022", f"{what} must be a whole number, but this is {_fmt(v.value)}", e.span)
            return None
        return int(v.value)

    def want_flag(self, e: ast.Expr, env) -> bool | None:
        v = self.eval(e, env)
        if isinstance(v, _Poison):
            return None
        if isinstance(v, Flag):
            return v.value
        if isinstance(v, Sym):
            self.not_affine(e, v, "a condition")
            return None
        self.err("E025", "expected true or false", e.span)
        return None

    def names_in(self, e: ast.Expr):
        if isinstance(e, ast.Name):
            yield e
        for f in attrs.fields(type(e)):
            v = getattr(e, f.name)
            if isinstance(v, tuple):
                for x in v:
                    if attrs.has(type(x)) and not isinstance(x, ast.Ident):
                        yield from self.names_in(x)
            elif attrs.has(type(v)) and not isinstance(v, (ast.Ident, Span)):
                yield from self.names_in(v)

    # ---- declarations -------------------------------------------------------

    def check_target(self, t: ast.Target) -> P.Target | None:
        fields = {  # name -> (dimension, what the timing model calls it)
            "icap": units.RATE,
            "pr_overhead": units.TIME,
            "dma": units.RATE,
            "clock": units.FREQ,
            "task_overhead": units.TIME,
            "pf_write": units.TIME,
            "link": units.RATE,
            "latency": units.TIME,
            "watchdog": units.TIME,
        }
        optional = {"watchdog": 0}
        values: dict[str, int] = {}
        seen: dict[str, Span] = {}
        slots = None
        capacity: dict[str, int] = {}
        memories: list[P.Memory] = []
        ok = True
        for item in t.items:
            if isinstance(item, ast.TargetSlots):
                if "slots" in seen:
                    self.err(
                        "E026",
                        "`slots` is given twice",
                        item.span,
                        Note("first given here", seen["slots"]),
                    )
                    continue
                seen["slots"] = item.span
                slots = self.want_int(item.count, {}, "the slot count")
                if slots is not None and not 1 <= slots <= LIMITS["max_slots"]:
                    self.err(
                        "E024",
                        f"a target has 1 to {LIMITS['max_slots']} slots, not {slots}",
                        item.count.span,
                    )
                    slots = None
                capacity = self.resources(item.capacity or ())
            elif isinstance(item, ast.TargetMemory):
                base = self.want_int(item.base, {}, "a memory address")
                size = self.want_int(item.size, {}, "a memory size", (units.BYTES, units.COUNT))
                if any(m.name == item.name.name for m in memories):
                    self.err("E011", f"memory `{item.name.name}` is declared twice", item.name.span)
                elif base is not None and size is not None:
                    if base < 0 or size <= 0 or base + size > 2**64:
                        self.err(
                            "E024",
                            f"memory `{item.name.name}` must lie within 64-bit addresses and have a positive size",
                            item.span,
                        )
                    else:
                        memories.append(P.Memory(item.name.name, base, size, item.span))
            else:
                name = item.name.name
                if name not in fields:
                    self.err(
                        "E027",
                        f"unknown target field `{name}` (fields: slots, memory, "
                        + ", ".join(fields)
                        + ")",
                        item.name.span,
                    )
                    continue
                if name in seen:
                    self.err(
                        "E026",
                        f"`{name}` is given twice",
                        item.name.span,
                        Note("first given here", seen[name]),
                    )
                    continue
                seen[name] = item.span
                v = self.want_int(item.value, {}, f"`{name}`", (fields[name],))
                if v is None:
                    ok = False
                elif v <= 0 and fields[name] in (units.RATE, units.FREQ):
                    self.err("E024", f"`{name}` must be positive", item.value.span)
                    ok = False
                elif v < 0:
                    self.err("E024", f"`{name}` must not be negative", item.value.span)
                    ok = False
                else:
                    values[name] = v
        values = {**optional, **values}
        self.memory_limits(t, memories)
        for name, v in values.items():
            if fields[name] == units.TIME and v > LIMITS["max_time_ns"]:
                self.err(
                    "E024",
                    f"`{name}` is {v} ns, over the image format's limit of {LIMITS['max_time_ns']} ns",
                    seen[name],
                )
                ok = False
            per_s = v // 8 if name in ("icap", "dma") else v
            if fields[name] in (units.RATE, units.FREQ) and per_s > LIMITS["max_rate"]:
                unit = (
                    "bytes/s" if name in ("icap", "dma") else "bits/s" if name == "link" else "Hz"
                )
                self.err(
                    "E024",
                    f"`{name}` is {per_s} {unit}, over the image format's limit of {LIMITS['max_rate']}",
                    seen[name],
                )
                ok = False
        missing = [f for f in ["slots", *fields] if f not in seen and f not in optional]
        if not memories and not any(isinstance(i, ast.TargetMemory) for i in t.items):
            missing.append("memory")
        if missing:
            self.err(
                "E026",
                f"target `{t.name.name}` lacks " + ", ".join(f"`{m}`" for m in missing),
                t.name.span,
            )
            return None
        if not ok or slots is None or not memories or len(values) != len(fields):
            return None
        for rate in ("icap", "dma"):
            if values[rate] % 8:
                self.err("E022", f"`{rate}` must be a whole number of bytes per second", t.span)
                return None
        timing = P.Timing(
            icap_bytes_per_s=values["icap"] // 8,
            pr_overhead_ns=values["pr_overhead"],
            dma_bytes_per_s=values["dma"] // 8,
            clock_hz=values["clock"],
            task_overhead_ns=values["task_overhead"],
            pf_write_ns=values["pf_write"],
            link_bits_per_s=values["link"],
            link_latency_ns=values["latency"],
            watchdog_ns=values["watchdog"],
        )
        return P.Target(t.name.name, slots, capacity, tuple(memories), timing, t.span)

    def memory_limits(self, t: ast.Target, memories: list[P.Memory]) -> None:
        """E032 (too many regions), E033 (regions that overlap), E034 (a long name)."""
        limit = LIMITS["max_memories"]
        if len(memories) > limit:
            self.err(
                "E032",
                f"target `{t.name.name}` has {len(memories)} memory regions; an image holds at most "
                f"{limit}",
                memories[limit].span,
                Note(f"`{t.name.name}` is declared here", t.name.span),
            )
        longest = _name_max(F.MEMORY)
        for k, m in enumerate(memories):
            if len(m.name.encode()) > longest:
                self.err(
                    "E034",
                    f"memory `{m.name}` has a name of {len(m.name.encode())} bytes; the image keeps "
                    f"at most {longest}",
                    m.span,
                )
            for o in memories[:k]:
                if m.base < o.end and o.base < m.end:
                    lo, hi = max(m.base, o.base), min(m.end, o.end)
                    self.err(
                        "E033",
                        f"memory `{m.name}` overlaps memory `{o.name}`: bytes 0x{lo:x} .. 0x{hi - 1:x}",
                        m.span,
                        Note(f"`{o.name}` is declared here", o.span),
                    )
                    break

    def resources(self, items: Iterable[ast.Resource]) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in items:
            if r.name.name not in P.RESOURCES:
                self.err(
                    "E027",
                    f"unknown resource `{r.name.name}` (resources: {', '.join(P.RESOURCES)})",
                    r.name.span,
                )
                continue
            if r.name.name in out:
                self.err("E026", f"resource `{r.name.name}` is given twice", r.name.span)
                continue
            v = self.want_int(r.value, {}, f"the {r.name.name} count")
            if v is not None and v < 0:
                self.err("E024", "a resource count must not be negative", r.value.span)
            elif v is not None:
                out[r.name.name] = v
        return out

    def check_core(self, c: ast.Core) -> P.Core | None:
        once: dict[type, ast.CoreItem] = {}
        params: list[P.Param] = []
        ports: list[P.Port] = []
        names: dict[str, Span] = {}
        ok = True
        for item in c.items:
            if isinstance(item, (ast.CoreId, ast.CoreBitstream, ast.CoreResources, ast.CoreCycles)):
                if type(item) in once:
                    self.err(
                        "E026",
                        "this core item is given twice",
                        item.span,
                        Note("first given here", once[type(item)].span),
                    )
                    ok = False
                once[type(item)] = item
                continue
            name = item.name.name
            if name in names:
                self.err(
                    "E011",
                    f"`{name}` is declared twice in core `{c.name.name}`",
                    item.name.span,
                    Note("first declared here", names[name]),
                )
                ok = False
                continue
            names[name] = item.name.span
            if isinstance(item, ast.CoreParam):
                p = self.check_param(item)
                ok &= p is not None
                if p:
                    params.append(p)
            else:
                ports.append(P.Port(name, item.direction, item.type, item.span))
        for cls, word in (
            (ast.CoreId, "id"),
            (ast.CoreBitstream, "bitstream"),
            (ast.CoreCycles, "cycles"),
        ):
            if cls not in once:
                self.err("E026", f"core `{c.name.name}` lacks `{word}`", c.name.span)
                ok = False
        if len(ports) > LIMITS["max_ports"] or len(params) > LIMITS["max_params"]:
            self.err(
                "E024",
                f"a core has at most {LIMITS['max_ports']} ports and {LIMITS['max_params']} parameters",
                c.name.span,
            )
            ok = False
        if not ports:
            self.err("E026", f"core `{c.name.name}` has no ports", c.name.span)
            ok = False
        # Names in shapes and in the cycle expression: parameters or consts.
        known = set(names) | set(self.consts)
        exprs = [e for p in ports for e in self.port_type_exprs(p.type)]
        if ast.CoreCycles in once:
            exprs.append(once[ast.CoreCycles].value)
        for e in exprs:
            for n in self.names_in(e):
                if n.name not in known:
                    self.err(
                        "E010",
                        f"unknown name `{n.name}` (not a parameter of `{c.name.name}` or a const)",
                        n.span,
                    )
                    ok = False
        for p in ports:
            pt = p.type
            while pt is not None:
                if pt.tensor.elem.name not in P.ELEMENT_BITS:
                    self.err(
                        "E010",
                        f"unknown element type `{pt.tensor.elem.name}` (types: "
                        + ", ".join(P.ELEMENT_BITS)
                        + ")",
                        pt.tensor.elem.span,
                    )
                    ok = False
                pt = pt.otherwise
        ident = (
            self.want_int(once[ast.CoreId].value, {}, "a core id") if ast.CoreId in once else None
        )
        if ident is not None and not 0 <= ident < 256:
            self.err("E024", f"a core id is 0 .. 255, not {ident}", once[ast.CoreId].value.span)
            ident = None
        bs = once.get(ast.CoreBitstream)
        size = addr = None
        if bs is not None:
            size = self.want_int(bs.size, {}, "a bitstream size", (units.BYTES, units.COUNT))
            if size is not None and size <= 0:
                self.err("E024", "a bitstream size must be positive", bs.size.span)
                size = None
            elif size is not None and size > _field_max(F.CORE, "bitstream_size"):
                self.err(
                    "E024",
                    f"a bitstream of {size} bytes is over the image format's limit of "
                    f"{_field_max(F.CORE, 'bitstream_size')} bytes",
                    bs.size.span,
                )
                size = None
            if bs.address is not None:
                addr = self.want_int(bs.address, {}, "a bitstream address")
                if addr is None:
                    ok = False
        res = self.resources(once[ast.CoreResources].items) if ast.CoreResources in once else {}
        for r in once[ast.CoreResources].items if ast.CoreResources in once else ():
            if r.name.name in res and res[r.name.name] > _field_max(F.CORE, r.name.name):
                self.err(
                    "E024",
                    f"{res[r.name.name]} {r.name.name.upper()} is over the image format's limit of "
                    f"{_field_max(F.CORE, r.name.name)}",
                    r.value.span,
                )
                ok = False
        if not ok or ident is None or size is None:
            return None
        return P.Core(
            c.name.name,
            ident,
            size,
            bs.region.name if bs.region else None,
            addr,
            res,
            tuple(params),
            tuple(ports),
            once[ast.CoreCycles].value,
            c.span,
        )

    def port_type_exprs(self, pt: ast.PortType):
        while pt is not None:
            yield from pt.tensor.dims
            if pt.cond is not None:
                yield pt.cond
            pt = pt.otherwise

    def check_param(self, p: ast.CoreParam) -> P.Param | None:
        t = p.type.name
        if t not in P.PARAM_TYPES:
            self.err(
                "E027",
                f"unknown parameter type `{t}` (types: {', '.join(P.PARAM_TYPES)})",
                p.type.span,
            )
            return None
        tlo, thi = P.PARAM_TYPES[t]
        if p.domain is None:
            return P.Param(p.name.name, t, tlo, thi, None, p.span)
        if t == "bool":
            self.err("E031", "a `bool` parameter takes no range or set", p.domain.span)
            return None
        if isinstance(p.domain, ast.DomainRange):
            lo = self.want_int(p.domain.lo, {}, "a range bound")
            hi = self.want_int(p.domain.hi, {}, "a range bound")
            if lo is None or hi is None:
                return None
            if lo > hi:
                self.err(
                    "E031", f"the range {lo} .. {hi} of `{p.name.name}` is empty", p.domain.span
                )
                return None
            if lo < tlo or hi > thi:
                self.err(
                    "E031",
                    f"the range {lo} .. {hi} does not fit `{t}` ({tlo} .. {thi})",
                    p.domain.span,
                )
                return None
            return P.Param(p.name.name, t, lo, hi, None, p.span)
        vals: list[int] = []
        for e in p.domain.values:
            v = self.want_int(e, {}, "a set member")
            if v is None:
                return None
            if v in vals:
                self.err("E031", f"{v} is listed twice", e.span)
                return None
            if not tlo <= v <= thi:
                self.err("E031", f"{v} does not fit `{t}` ({tlo} .. {thi})", e.span)
                return None
            vals.append(v)
        return P.Param(p.name.name, t, min(vals), max(vals), frozenset(vals), p.span)

    def check_buffer_decl(self, b: ast.Buffer) -> tuple[str, tuple[int, ...]] | None:
        ok = True
        if b.type.elem.name not in P.ELEMENT_BITS:
            self.err(
                "E010",
                f"unknown element type `{b.type.elem.name}` (types: {', '.join(P.ELEMENT_BITS)})",
                b.type.elem.span,
            )
            ok = False
        shape = []
        for d in b.type.dims:
            v = self.want_int(d, {}, "a dimension")
            if v is not None and v < 1:
                self.err("E024", f"a dimension must be at least 1, not {v}", d.span)
                v = None
            ok &= v is not None
            shape.append(v)
        if len(shape) > LIMITS["max_dims"]:
            self.err("E024", f"a buffer has at most {LIMITS['max_dims']} dimensions", b.type.span)
            ok = False
        for d, v in zip(b.type.dims, shape):
            if v is not None and v > _field_max(F.BUFFER, "dim0"):
                self.err(
                    "E024",
                    f"a dimension of {v} is over the image format's limit of "
                    f"{_field_max(F.BUFFER, 'dim0')}",
                    d.span,
                )
                ok = False
        if len(b.name.name.encode()) > _name_max(F.BUFFER):
            self.err(
                "E034",
                f"buffer `{b.name.name}` has a name of {len(b.name.name.encode())} bytes; the image "
                f"keeps at most {_name_max(F.BUFFER)}",
                b.name.span,
            )
            ok = False
        if not ok:
            return None
        return b.type.elem.name, tuple(shape)


class _ProgramChecker:
    """Elaborates one program: placement, hierarchy, tasks, slots, races."""

    def __init__(self, c: _Checker, p: ast.Program):
        self.c = c
        self.p = p
        self.target: P.Target | None = None
        self.buffers: dict[str, P.Buffer] = {}
        self.fit_checked: set[str] = set()
        self.used_cores: dict[str, P.Core] = {}

    def err(self, *a, **k):
        self.c.err(*a, **k)

    def run(self) -> P.Program | None:
        before = len(self.c.diags)
        tname = self.p.target.name
        if tname not in self.c.target_asts:
            known = ", ".join(sorted(self.c.target_asts)) or "none declared"
            self.err("E010", f"unknown target `{tname}` (targets: {known})", self.p.target.span)
            return None
        self.target = self.c.targets[tname]
        if self.target is None:
            return None
        bitstreams = self.place()
        body = self.stmts(self.p.body, "program", {}, 0)
        if len(self.c.diags) > before:
            return None
        body = [b for b in body if isinstance(b, (P.Window, P.Repeat))]
        cores = tuple(sorted(self.used_cores.values(), key=lambda core: core.id))
        self.image_limits(body, cores)
        if len(self.c.diags) > before:
            return None
        used = {core.name for core in cores}
        return P.Program(
            self.p.name.name,
            self.target,
            cores,
            tuple(self.buffers.values()),
            tuple(b for b in bitstreams if b.core in used),
            tuple(body),
            {
                k: int(v.value)
                for k, v in self.c.const_values.items()
                if isinstance(v, Num) and v.value.denominator == 1
            },
            self.p.span,
        )

    # ---- limits of the image format -----------------------------------------

    def image_limits(self, body: list, cores: tuple[P.Core, ...]) -> None:
        """E082 (no core), E084 (too many operations), E085 (too large an image).

        Both counts are upper bounds of what compiling gives, whatever the scheduler
        and the balancer choose: every window counts a reconfiguration per slot its
        tasks may use besides its own requests, a window the balancer may split
        counts its loop once per slot, and a task counts a wait per other slot."""
        name = self.p.name
        if not cores:
            self.err(
                "E082",
                f"program `{name.name}` runs no task and loads no core: an image needs at least one "
                "core",
                name.span,
            )
            return
        slots = self.target.slots
        insn = F.INSN_HEADER.size
        waits = min(LIMITS["max_waits"], slots - 1) * F.WAIT.size
        files: set[str] = set()
        totals = {"ops": 0, "bytes": 0, "insns": 0, "params": 0}

        def node(n, levels: int, mult: int) -> tuple[int, int, int]:
            """(operations, bytes, instructions) of one instance of n."""
            files.add(n.span.file)
            if isinstance(n, P.Task):
                totals["params"] += 4 * len(n.params)
                return (
                    mult,
                    insn
                    + F.BY_NAME["TASK"].fields.size
                    + len(n.ports) * (F.PORT.size + 8 * levels)
                    + waits,
                    1,
                )
            inner = [node(b, levels + 1, mult * n.var.count) for b in n.body]  # a Loop
            return (
                sum(x[0] for x in inner),
                insn + F.BY_NAME["LOOP"].fields.size + sum(x[1] for x in inner),
                1 + sum(x[2] for x in inner),
            )

        def window(w: P.Window, levels: int, mult: int) -> tuple[int, int, int]:
            files.add(w.span.file)
            ops, size, count = 0, insn, 1
            tasks = [t for p in w.parsecs for t in P.walk_tasks(p)]
            split = (
                len(w.parsecs) == 1
                and len(w.parsecs[0].threads) == 1
                and len(w.parsecs[0].threads[0].body) == 1
                and isinstance(w.parsecs[0].threads[0].body[0], P.Loop)
            )
            copies = slots if split else 1
            reconfs = len(w.reconfigure) + min(slots, len(tasks) * copies)
            ops += mult * reconfs
            size += reconfs * (insn + F.BY_NAME["RECONF"].fields.size)
            count += reconfs
            for p in w.parsecs:
                files.add(p.span.file)
                size += insn * copies if split else insn
                count += 1
                for th in p.threads:
                    files.add(th.span.file)
                    parts = [node(b, levels, mult) for b in th.body]
                    ops += sum(x[0] for x in parts)
                    size += (insn + sum(x[1] for x in parts)) * copies
                    count += (1 + sum(x[2] for x in parts)) * copies
            return ops, size, count

        for n in body:
            if isinstance(n, P.Repeat):
                files.add(n.span.file)
                parts = [window(w, 1, n.var.count) for w in n.windows]
                sizes = (insn + F.BY_NAME["REPEAT"].fields.size, 1)
            else:
                parts, sizes = [window(n, 0, 1)], (0, 0)
            totals["ops"] += sum(x[0] for x in parts)
            totals["bytes"] += sizes[0] + sum(x[1] for x in parts)
            totals["insns"] += sizes[1] + sum(x[2] for x in parts)
        if totals["ops"] > LIMITS["max_operations"]:
            self.err(
                "E084",
                f"program `{name.name}` may run {totals['ops']} operations (tasks and reconfigurations, "
                f"loops unrolled), over the image format's limit of {LIMITS['max_operations']}",
                name.span,
            )
        size = (
            F.HEADER.size
            + 6 * F.SECTION_ENTRY.size
            + F.TARGET.size
            + len(self.target.memories) * F.MEMORY.size
            + F.CORES.size
            + len(cores) * F.CORE.size
            + F.SYNC.size
            + totals["params"]
            + totals["bytes"]
            + F.SYMBOLS.size
            + len(self.buffers) * F.BUFFER.size
            + len(files) * F.FILE.size
            + totals["insns"] * F.LINE.size
            + 6 * 7
        )
        what = None
        if size > LIMITS["max_image_bytes"]:
            what = f"its image may take {size} bytes, over the image format's limit of {LIMITS['max_image_bytes']}"
        elif len(self.buffers) > _field_max(F.SYMBOLS, "buffer_count"):
            what = (
                f"its image would name {len(self.buffers)} buffers, over the image format's limit of "
                f"{_field_max(F.SYMBOLS, 'buffer_count')}"
            )
        elif len(files) > _field_max(F.SYMBOLS, "file_count"):
            what = (
                f"its image would name {len(files)} source files, over the image format's limit of "
                f"{_field_max(F.SYMBOLS, 'file_count')}"
            )
        if what:
            self.err("E085", f"program `{name.name}` is too large: {what}", name.span)

    # ---- placement ----------------------------------------------------------

    def place(self) -> list[P.Bitstream]:
        """Fixed addresses first, then first fit in declaration order."""
        items = []  # (name, kind, region Memory, size, fixed address or None, span, decl)
        for b in self.c.buffers.values():
            elem_shape = self.c.buffer_types[b.name.name]
            if elem_shape is None:
                continue
            region = self._region(b.region, f"buffer `{b.name.name}`")
            if region is None:
                continue
            addr = (
                self.c.want_int(b.address, {}, "a buffer address")
                if b.address is not None
                else None
            )
            items.append(
                (
                    b.name.name,
                    "buffer",
                    region,
                    P.tensor_bytes(*elem_shape),
                    addr,
                    b.span,
                    (b, elem_shape),
                )
            )
        for core in self.c.cores.values():
            if core is None:
                continue
            decl = self.c.core_asts[core.name]
            bs = next(i for i in decl.items if isinstance(i, ast.CoreBitstream))
            region = self._region(bs.region, f"the bitstream of `{core.name}`")
            if region is None:
                continue
            items.append(
                (
                    core.name,
                    "bitstream",
                    region,
                    core.bitstream_size,
                    core.bitstream_address,
                    bs.span,
                    core,
                )
            )
        placed: list[tuple[int, int, str, Span]] = []  # (start, end, what, span)
        addresses: dict[tuple[str, str], tuple[int, str]] = {}
        for name, kind, region, size, addr, span, decl in items:
            what = f"buffer `{name}`" if kind == "buffer" else f"the bitstream of `{name}`"
            if addr is None:
                continue
            if addr % 8:
                self.err("E072", f"{what} is at 0x{addr:x}, not a multiple of 8", span)
                continue
            if addr < region.base or addr + size > region.end:
                self.err(
                    "E070",
                    f"{what} ({size} bytes at 0x{addr:x}) lies outside memory `{region.name}` "
                    f"(0x{region.base:x} .. 0x{region.end:x})",
                    span,
                    Note(f"`{region.name}` is declared here", region.span),
                )
                continue
            for s, e, w, sp in placed:
                if addr < e and s < addr + size:
                    lo, hi = max(s, addr), min(e, addr + size)
                    self.err(
                        "E071",
                        f"{what} overlaps {w}: bytes 0x{lo:x} .. 0x{hi - 1:x} ({hi - lo} bytes)",
                        span,
                        Note(f"{w} is placed here", sp),
                    )
                    break
            placed.append((addr, addr + size, what, span))
            addresses[(kind, name)] = (addr, region.name)
        for name, kind, region, size, addr, span, decl in items:
            if addr is not None:
                continue
            what = f"buffer `{name}`" if kind == "buffer" else f"the bitstream of `{name}`"
            a = self._first_fit(region, size, placed)
            if a is None:
                used = sum(
                    min(e, region.end) - max(s, region.base)
                    for s, e, _, _ in placed
                    if s < region.end and e > region.base
                )
                self.err(
                    "E070",
                    f"{what} ({size} bytes) does not fit in memory `{region.name}` "
                    f"({region.size} bytes, {used} already used)",
                    span,
                    Note(f"`{region.name}` is declared here", region.span),
                )
                continue
            placed.append((a, a + size, what, span))
            addresses[(kind, name)] = (a, region.name)
        bitstreams = []
        for name, kind, region, size, addr, span, decl in items:
            if (kind, name) not in addresses:
                continue
            a, rname = addresses[(kind, name)]
            if kind == "buffer":
                b, (elem, shape) = decl
                init = self._init_file(b, elem, shape)
                self.buffers[name] = P.Buffer(
                    name,
                    b.role,
                    elem,
                    shape,
                    rname,
                    a,
                    init and init[0],
                    b.span,
                    addr is not None,
                    init and init[1],
                )
            else:
                bitstreams.append(P.Bitstream(name, rname, a, size))
        return bitstreams

    def _region(self, ident: ast.Ident | None, what: str) -> P.Memory | None:
        if ident is None:
            return self.target.memories[0]
        m = self.target.memory(ident.name)
        if m is None:
            known = ", ".join(x.name for x in self.target.memories)
            self.err(
                "E010",
                f"target `{self.target.name}` has no memory `{ident.name}` for {what} (memories: {known})",
                ident.span,
            )
        return m

    @staticmethod
    def _first_fit(region: P.Memory, size: int, placed) -> int | None:
        a = -(-region.base // BUFFER_ALIGN) * BUFFER_ALIGN
        for s, e, _, _ in sorted(placed):
            if a + size <= s:
                break
            if e > a:
                a = -(-e // BUFFER_ALIGN) * BUFFER_ALIGN
        return a if a + size <= region.end else None

    def _init_file(
        self, b: ast.Buffer, elem: str, shape: tuple[int, ...]
    ) -> tuple[str, bytes] | None:
        """The resolved path and the bytes of `from "FILE"`: a .npy array of the
        buffer's element type and shape, or raw bytes of its size (as ``--set``)."""
        if b.init_file is None:
            return None
        path = Path(b.span.file).resolve().parent / b.init_file
        if path.is_dir():
            self.err("E073", f"cannot read `{b.init_file}`: it is a directory", b.init_span)
            return None
        from .buffers import DataError, read_buffer_file  # numpy, only for programs that need it

        try:
            return str(path), read_buffer_file(str(path), b.name.name, elem, shape)
        except DataError as e:
            self.err("E073", f"`{b.init_file}`: {e.reason}", b.init_span)
            return None

    # ---- hierarchy ----------------------------------------------------------

    ALLOWED = {
        "program": (ast.Window, ast.Repeat),
        "repeat": (ast.Window,),
        "window": (ast.Reconfigure, ast.Parsec),
        "parsec": (ast.Thread,),
        "thread": (ast.Loop, ast.Task),
    }
    WHERE = {
        ast.Window: "a program or `repeat`",
        ast.Repeat: "a program",
        ast.Reconfigure: "a `window`",
        ast.Parsec: "a `window`",
        ast.Thread: "a `parsec`",
        ast.Loop: "a `thread` or `loop`",
        ast.Task: "a `thread` or `loop`",
    }

    def _size(self, body, env, limit: int = MAX_STATEMENTS + 1) -> int:
        """The statements ``body`` elaborates to, `for` ranges evaluated at the
        enclosing `for` variables' first values (quietly: their errors come later)."""
        total = 0
        for s in body:
            total += 1
            if isinstance(s, ast.For):
                mark = len(self.c.diags)
                lo = self.c.want_int(s.lo, env, "")
                hi = self.c.want_int(s.hi, env, "")
                del self.c.diags[mark:]
                if lo is not None and hi is not None and hi > lo:
                    total += (hi - lo) * self._size(
                        s.body, {**env, s.var.name: Num(Fraction(lo))}, limit
                    )
            elif hasattr(s, "body") and isinstance(s.body, tuple):
                total += self._size(s.body, env, limit)
            if total >= limit:
                return limit
        return total

    def tick(self, span: Span) -> bool:
        """Count one elaborated statement; False (E088, reported once) past the bound."""
        c = self.c
        c.statements += 1
        if c.statements <= MAX_STATEMENTS:
            return True
        if c.statements == MAX_STATEMENTS + 1:
            self.err(
                "E088",
                f"this program elaborates more than {MAX_STATEMENTS:,} statements (`for` iterations "
                "included); here it stops",
                span,
            )
        return False

    def stmts(self, body, ctx: str, env: dict, depth: int, repeat: Var | None = None) -> list:
        out = []
        for s in body:
            if not self.tick(s.span):
                break
            if isinstance(s, ast.For):
                out.extend(self.for_stmt(s, ctx, env, depth, repeat))
                continue
            if not isinstance(s, self.ALLOWED[ctx]):
                word = type(s).__name__.lower()
                extra = ""
                if isinstance(s, ast.Repeat) and ctx == "repeat":
                    self.err("E081", "a `repeat` may not be nested in another `repeat`", s.span)
                    continue
                if isinstance(s, ast.Thread) and ctx == "window":
                    extra = " (wrap the threads in `parsec { ... }`)"
                self.err(
                    "E090",
                    f"`{word}` is not allowed here: it belongs in {self.WHERE[type(s)]}{extra}",
                    s.span,
                )
                continue
            if isinstance(s, ast.Window):
                out.append(self.window(s, env, repeat))
            elif isinstance(s, ast.Repeat):
                r = self.repeat(s, env)
                if r is not None:
                    out.append(r)
            elif isinstance(s, ast.Reconfigure):
                r = self.reconfigure(s, env)
                if r is not None:
                    out.append(r)
            elif isinstance(s, ast.Parsec):
                out.append(self.parsec(s, env, repeat))
            elif isinstance(s, ast.Thread):
                out.append(self.thread(s, env, repeat))
            elif isinstance(s, ast.Loop):
                lp = self.loop(s, env, depth, repeat)
                if lp is not None:
                    out.append(lp)
            elif isinstance(s, ast.Task):
                t = self.task(s, env)
                if t is not None:
                    out.append(t)
        return out

    def _range(self, s, env, what: str, limit: int) -> tuple[int, int] | None:
        lo = self.c.want_int(s.lo, env, f"the start of a {what}")
        hi = self.c.want_int(s.hi, env, f"the end of a {what}")
        if lo is None or hi is None:
            return None
        n = hi - lo
        if n < 1:
            self.err("E080", f"this {what} runs {max(n, 0)} times ({lo} .. {hi} is empty)", s.span)
            return None
        if n > limit:
            self.err("E080", f"this {what} runs {n} times, more than the limit of {limit}", s.span)
            return None
        return lo, n

    def for_stmt(self, s: ast.For, ctx, env, depth, repeat) -> list:
        r = self._range(s, env, "`for`", MAX_FOR_COUNT)
        if r is None:
            return []
        inner_env = {**env, s.var.name: Num(Fraction(r[0]))}
        if self.c.statements + r[1] * self._size(s.body, inner_env) > MAX_STATEMENTS:
            self.c.statements = MAX_STATEMENTS  # refused before any expansion
            self.tick(s.span)
            return []
        out = []
        for v in range(r[0], r[0] + r[1]):
            if not self.tick(s.span):
                break
            out.extend(
                self.stmts(s.body, ctx, {**env, s.var.name: Num(Fraction(v))}, depth, repeat)
            )
        return out

    def repeat(self, s: ast.Repeat, env) -> P.Repeat | None:
        r = self._range(s, env, "`repeat`", LIMITS["max_repeat_count"])
        if r is None:
            return None
        var = Var(s.var.name, r[0], r[1], "repeat", next(self.c.var_uid))
        windows = self.stmts(s.body, "repeat", {**env, s.var.name: Sym(Affine.var(var))}, 0, var)
        return P.Repeat(var, tuple(windows), s.span)

    def loop(self, s: ast.Loop, env, depth, repeat) -> P.Loop | None:
        if depth >= LIMITS["max_loop_depth"]:
            self.err("E081", f"loops nest more than {LIMITS['max_loop_depth']} deep", s.span)
            return None
        r = self._range(s, env, "`loop`", LIMITS["max_loop_count"])
        if r is None:
            return None
        var = Var(s.var.name, r[0], r[1], "loop", next(self.c.var_uid))
        body = self.stmts(
            s.body, "thread", {**env, s.var.name: Sym(Affine.var(var))}, depth + 1, repeat
        )
        return P.Loop(var, tuple(body), s.span)

    def slot(self, e: ast.Expr, env) -> int | None:
        v = self.c.want_int(e, env, "a slot")
        if v is not None and not 0 <= v < self.target.slots:
            self.err(
                "E062",
                f"slot {v} does not exist: target `{self.target.name}` has slots 0 .. {self.target.slots - 1}",
                e.span,
                Note(f"`{self.target.name}` is declared here", self.target.span),
            )
            return None
        return v

    def reconfigure(self, s: ast.Reconfigure, env) -> P.Reconfigure | None:
        slot = self.slot(s.slot, env)
        core = self.core(s.core)
        if slot is None or core is None:
            return None
        return P.Reconfigure(slot, core, s.span)

    def core(self, ident: ast.Ident) -> P.Core | None:
        if ident.name not in self.c.core_asts:
            known = ", ".join(sorted(self.c.core_asts)) or "none declared"
            self.err("E010", f"unknown core `{ident.name}` (cores: {known})", ident.span)
            return None
        core = self.c.cores[ident.name]
        if core is None:
            return None
        if core.name not in self.fit_checked:
            self.fit_checked.add(core.name)
            for r in P.RESOURCES:
                need, have = core.resources.get(r, 0), self.target.capacity.get(r)
                if have is not None and need > have:
                    self.err(
                        "E030",
                        f"core `{core.name}` needs {need} {r.upper()} but a slot of `{self.target.name}` "
                        f"offers {have}",
                        ident.span,
                        Note(f"`{core.name}` is declared here", core.span),
                        Note(f"`{self.target.name}` is declared here", self.target.span),
                    )
        if core.name not in self.used_cores:
            if len(self.used_cores) == LIMITS["max_cores"]:
                self.err(
                    "E083",
                    f"program `{self.p.name.name}` uses more than {LIMITS['max_cores']} cores, the "
                    f"image format's limit: `{core.name}` is one more",
                    ident.span,
                )
            if len(core.name.encode()) > _name_max(F.CORE):
                self.err(
                    "E034",
                    f"core `{core.name}` has a name of {len(core.name.encode())} bytes; the image keeps "
                    f"at most {_name_max(F.CORE)}",
                    ident.span,
                    Note(f"`{core.name}` is declared here", core.span),
                )
            pr = timing.pr_ns(self.target.timing, core.bitstream_size)
            if pr > LIMITS["max_time_ns"]:
                self.err(
                    "E087",
                    f"reconfiguring a slot with `{core.name}` ({core.bitstream_size} bytes at "
                    f"{self.target.timing.icap_bytes_per_s} bytes/s) takes {pr} ns, over the image format's "
                    f"limit of {LIMITS['max_time_ns']} ns",
                    ident.span,
                    Note(f"`{core.name}` is declared here", core.span),
                )
        self.used_cores[core.name] = core
        return core

    def window(self, s: ast.Window, env, repeat) -> P.Window:
        items = self.stmts(s.body, "window", env, 0, repeat)
        recs = tuple(i for i in items if isinstance(i, P.Reconfigure))
        parsecs = tuple(i for i in items if isinstance(i, P.Parsec))
        holder: dict[int, tuple[P.Core, Span]] = {}

        def claim(slot, core, span):
            if slot is None:
                return
            if slot in holder and holder[slot][0].name != core.name:
                self.err(
                    "E063",
                    f"slot {slot} is asked to hold `{core.name}` and `{holder[slot][0].name}` in one window",
                    span,
                    Note(f"`{holder[slot][0].name}` is asked for here", holder[slot][1]),
                )
            else:
                holder.setdefault(slot, (core, span))

        for r in recs:
            claim(r.slot, r.core, r.span)
        for t in (t for p in parsecs for t in P.walk_tasks(p)):
            claim(t.slot, t.core, t.span)
        return P.Window(recs, parsecs, s.span)

    def parsec(self, s: ast.Parsec, env, repeat) -> P.Parsec:
        threads = tuple(self.stmts(s.body, "parsec", env, 0, repeat))
        if len(threads) > self.target.slots:
            self.err(
                "E061",
                f"this parsec has {len(threads)} threads but target `{self.target.name}` has "
                f"{self.target.slots} slots",
                s.span,
            )
            return P.Parsec(threads, s.span)  # pairwise slot and race checks would only add noise
        owner: dict[int, tuple[P.Thread, Span]] = {}
        for th in threads:
            slots = {th.slot: th.span} if th.slot is not None else {}
            for t in P.walk_tasks(th):
                if t.slot is not None:
                    slots.setdefault(t.slot, t.span)
            for slot, span in slots.items():
                if slot in owner and owner[slot][0] is not th:
                    self.err(
                        "E060",
                        f"two threads of one parsec use slot {slot}",
                        span,
                        Note("the other thread uses it here", owner[slot][1]),
                    )
                else:
                    owner.setdefault(slot, (th, span))
        self.races(threads)
        return P.Parsec(threads, s.span)

    def thread(self, s: ast.Thread, env, repeat) -> P.Thread:
        slot = self.slot(s.slot, env) if s.slot is not None else None
        body = self.stmts(s.body, "thread", env, 0, repeat)
        if slot is not None:
            body = [self._pin(b, slot) for b in body]
        return P.Thread(slot, tuple(body), s.span)

    def _pin(self, node, slot: int):
        """Put every task of a thread that names its slot on that slot."""
        if isinstance(node, P.Loop):
            return attrs.evolve(node, body=tuple(self._pin(b, slot) for b in node.body))
        if node.slot is not None and node.slot != slot:
            self.err(
                "E065",
                f"this task names slot {node.slot} but its thread is on slot {slot}",
                node.span,
            )
        return attrs.evolve(node, slot=slot)

    # ---- tasks --------------------------------------------------------------

    def task(self, s: ast.Task, env) -> P.Task | None:
        core = self.core(s.core)
        slot = self.slot(s.slot, env) if s.slot is not None else None
        if core is None:
            return None
        given: dict[str, ast.Arg] = {}
        for a in s.args:
            n = a.name.name
            if n in given:
                self.err(
                    "E046",
                    f"`{n}` is given twice",
                    a.name.span,
                    Note("first given here", given[n].name.span),
                )
                continue
            if core.param(n) is None and core.port(n) is None:
                self.err(
                    "E041",
                    f"core `{core.name}` has no parameter or port `{n}` (parameters: "
                    f"{', '.join(p.name for p in core.params) or 'none'}; ports: "
                    f"{', '.join(p.name for p in core.ports)})",
                    a.name.span,
                    Note(f"`{core.name}` is declared here", core.span),
                )
                continue
            given[n] = a
        ok = True
        values: dict[str, int] = {}
        for p in core.params:
            a = given.get(p.name)
            if a is None:
                self.err(
                    "E040",
                    f"task `{core.name}` lacks parameter `{p.name}` ({p.type}, {p.domain_str()})",
                    s.span,
                    Note("declared here", p.span),
                )
                ok = False
                continue
            v = self.param_value(p, a, env)
            if v is None:
                ok = False
            else:
                values[p.name] = v
        penv = {
            k: (Flag(bool(v)) if core.param(k).type == "bool" else Num(Fraction(v)))
            for k, v in values.items()
        }
        regions, types = [], []
        for port in core.ports:
            a = given.get(port.name)
            if a is None:
                self.err(
                    "E045",
                    f"port `{port.name}` of `{core.name}` is not bound",
                    s.span,
                    Note("declared here", port.span),
                )
                ok = False
                continue
            region = self.region(a.value, env)
            expected = self.port_shape(core, port, penv, s.span) if ok else None
            if region is None or expected is None:
                ok = False
                continue
            ok &= self.check_binding(core, port, region, expected, values, a)
            regions.append(region)
            types.append(expected)
        if not ok:
            return None
        cyc = self.c.eval(core.cycles, penv)
        cycles = self.c.as_int(cyc, core.cycles, f"the cycle count of `{core.name}`")
        if cycles is None:
            return None
        if not 0 <= cycles <= LIMITS["max_cycles"]:
            self.err(
                "E024",
                f"`{core.name}` takes {cycles} cycles for these parameters, outside 0 .. {LIMITS['max_cycles']}",
                s.span,
                Note("the cycle expression", core.cycles.span),
            )
            return None
        for port, region, a in zip(core.ports, regions, (given[p.name] for p in core.ports)):
            if region.length > _field_max(F.PORT, "length"):
                self.err(
                    "E024",
                    f"port `{port.name}` is bound to {region.length} bytes, over the image format's "
                    f"limit of {_field_max(F.PORT, 'length')} bytes for one port",
                    a.value.span,
                )
                return None
            bad = [(v, c) for v, c in region.offset.coeffs if not STRIDE_MIN <= c <= STRIDE_MAX]
            if bad:
                self.err(
                    "E024",
                    f"port `{port.name}` moves by {bad[0][1]} bytes per step of `{bad[0][0].name}`, "
                    "beyond the image format's 64-bit signed strides",
                    a.value.span,
                )
                return None
        read, written = timing.port_bytes(
            (r.length for r in regions), (p.direction for p in core.ports)
        )
        dur = timing.task_ns(self.target.timing, len(core.params), cycles, read, written)
        if dur > LIMITS["max_time_ns"]:
            self.err(
                "E086",
                f"this task of `{core.name}` takes {dur} ns, over the image format's limit of "
                f"{LIMITS['max_time_ns']} ns",
                s.span,
            )
            return None
        watchdog = self.target.timing.watchdog_ns
        if watchdog and dur > watchdog:
            self.c.warn(
                "W001",
                f"this task of `{core.name}` takes {dur} ns, longer than the watchdog of "
                f"`{self.target.name}` ({watchdog} ns): a run stops here with `watchdog`",
                s.span,
                Note(f"`{self.target.name}` is declared here", self.target.span),
            )
        return P.Task(
            core,
            slot,
            tuple((p.name, values[p.name]) for p in core.params),
            tuple(regions),
            tuple(types),
            cycles,
            s.span,
        )

    def param_value(self, p: P.Param, a: ast.Arg, env) -> int | None:
        v = self.c.eval(a.value, env)
        if isinstance(v, _Poison):
            return None
        if p.type == "bool":
            if not isinstance(v, Flag):
                self.err(
                    "E042",
                    f"parameter `{p.name}` is a bool: give `true` or `false`",
                    a.value.span,
                    Note("declared here", p.span),
                )
                return None
            return int(v.value)
        if isinstance(v, Flag):
            self.err(
                "E042",
                f"parameter `{p.name}` is {p.type}: give a number, not {str(v.value).lower()}",
                a.value.span,
                Note("declared here", p.span),
            )
            return None
        x = self.c.as_int(v, a.value, f"parameter `{p.name}`")
        if x is None:
            return None
        if not p.allows(x):
            self.err(
                "E043",
                f"parameter `{p.name}` is {x}, outside its domain {p.domain_str()}",
                a.value.span,
                Note("declared here", p.span),
            )
            return None
        return x

    def port_shape(
        self, core: P.Core, port: P.Port, penv, task_span: Span
    ) -> tuple[str, tuple[int, ...]] | None:
        pt = port.type
        while pt.cond is not None:
            c = self.c.want_flag(pt.cond, penv)
            if c is None:
                return None
            if c:
                break
            pt = pt.otherwise
        dims = []
        for d in pt.tensor.dims:
            v = self.c.want_int(d, penv, f"a dimension of port `{port.name}`")
            if v is None:
                return None
            if v < 1:
                shown = ", ".join(f"{k} = {_show(x)}" for k, x in penv.items())
                self.err(
                    "E024",
                    f"port `{port.name}` of `{core.name}` would have a dimension of {v} for {shown}",
                    task_span,
                    Note("the dimension is declared here", d.span),
                )
                return None
            dims.append(v)
        return pt.tensor.elem.name, tuple(dims)

    def check_binding(self, core, port, region: P.Region, expected, values, a: ast.Arg) -> bool:
        elem, shape = expected
        want = P.tensor_bytes(elem, shape)
        b = region.buffer
        params = ", ".join(f"{k} = {_show_param(core, k, v)}" for k, v in values.items())
        shown = f" for {params}" if params else ""
        if b.elem != elem:
            self.err(
                "E048",
                f"port `{port.name}` of `{core.name}` takes {elem} elements but buffer `{b.name}` holds {b.elem}",
                a.value.span,
                Note(f"`{b.name}` is declared here", b.span),
                Note("the port is declared here", port.span),
            )
            return False
        if region.length != want:
            self.err(
                "E047",
                f"port `{port.name}` of `{core.name}` expects {want} bytes ({P.type_str(elem, shape)}{shown}) "
                f"but this region is {region.length} bytes",
                a.value.span,
                Note("the port is declared here", port.span),
                Note(f"`{b.name}` is declared here", b.span),
            )
            return False
        if b.role == "input" and port.direction == "out":
            self.err(
                "E053",
                f"`{b.name}` is an input buffer (written by the host) but port `{port.name}` writes it",
                a.value.span,
                Note(f"`{b.name}` is declared here", b.span),
            )
            return False
        if b.role == "output" and port.direction == "in":
            self.err(
                "E053",
                f"`{b.name}` is an output buffer (only written by the board) but port `{port.name}` reads it",
                a.value.span,
                Note(f"`{b.name}` is declared here", b.span),
            )
            return False
        return True

    def region(self, e: ast.Expr, env) -> P.Region | None:
        """The region a port binding names, with an affine byte offset."""
        subs: list[ast.Index | ast.Slice] = []
        base = e
        while isinstance(base, (ast.Index, ast.Slice)):
            subs.append(base)
            base = base.base
        subs.reverse()
        v = self.c.eval(base, env) if isinstance(base, ast.Name) else None
        if isinstance(v, _Poison):
            return None
        if not isinstance(v, BufRef):
            self.err("E049", "a port must be bound to a buffer or a region of one", e.span)
            return None
        b = self.buffers.get(v.buffer.name.name)
        if b is None:  # not placed: its own error is reported
            return None
        dims = list(b.shape)
        offset = Affine.of(0)
        sliced = None
        for k, s in enumerate(subs):
            if sliced is not None:
                self.err(
                    "E052",
                    "a slice must be the last subscript",
                    s.span,
                    Note("the slice", sliced.span),
                )
                return None
            if not dims:
                self.err(
                    "E052", f"too many subscripts: `{b.name}` has {len(b.shape)} dimensions", s.span
                )
                return None
            stride = math.prod(dims[1:])
            if isinstance(s, ast.Index):
                idx = self.index(s.index, env)
                if idx is None or not self.bounds(idx, 0, dims[0] - 1, s.index, b, k, "index"):
                    return None
                offset = offset + idx.scale(stride)
                dims = dims[1:]
            else:
                lo, hi = self.index(s.lo, env), self.index(s.hi, env)
                if lo is None or hi is None:
                    return None
                n = hi - lo
                if not n.is_const or n.const < 1:
                    self.err(
                        "E052",
                        f"a slice must have a constant, positive length; this one is {n}",
                        s.span,
                    )
                    return None
                if not self.bounds(lo, 0, dims[0] - n.const, s.lo, b, k, "slice"):
                    return None
                offset = offset + lo.scale(stride)
                dims = [n.const] + dims[1:]
                sliced = s
        if b.elem == "bits":
            bad = offset.const % 64 or any(c % 64 for _, c in offset.coeffs)
            if bad:
                self.err(
                    "E052",
                    f"this region of the bits buffer `{b.name}` starts at bit offset {offset}, "
                    "which is not always a multiple of 64 (a 64-bit word)",
                    e.span,
                )
                return None
            byte_offset = offset.divide_exact(8)
        else:
            byte_offset = offset.scale(P.ELEMENT_BITS[b.elem] // 8)
        return P.Region(b, byte_offset, P.tensor_bytes(b.elem, tuple(dims)), e.span)

    def index(self, e: ast.Expr, env) -> Affine | None:
        v = self.c.eval(e, env)
        if isinstance(v, Sym):
            return v.aff
        x = self.c.as_int(v, e, "an index")
        return None if x is None else Affine.of(x)

    def bounds(
        self, idx: Affine, lo: int, hi: int, e: ast.Expr, b: P.Buffer, dim: int, what: str
    ) -> bool:
        (mn, at_mn), (mx, at_mx) = idx.extremes()
        for val, at, bad in ((mn, at_mn, mn < lo), (mx, at_mx, mx > hi)):
            if bad:
                when = f" on iteration {describe(at)}" if at else ""
                rng = f"{lo} .. {hi}" if what == "index" else f"starts {lo} .. {hi}"
                self.err(
                    "E051",
                    f"{what} of dimension {dim} of `{b.name}` is {val}{when}, outside {rng} "
                    f"(`{b.name}` is {P.type_str(b.elem, b.shape)})",
                    e.span,
                    Note(f"`{b.name}` is declared here", b.span),
                )
                return False
        return True

    # ---- races --------------------------------------------------------------

    def races(self, threads: tuple[P.Thread, ...]) -> None:
        """E064 for every pair of threads of a parsec that race, at most once a pair:
        the first access of the first thread (in program order) that meets some access
        of the second, and the first such access of the second.

        Only accesses whose hulls (every byte a region may cover, over all its
        iterations) meet can race, so each access of one thread looks up the accesses
        of the other whose hulls meet its own in an :class:`IntervalIndex` per buffer,
        and only those get the exact check (:meth:`_overlap`), in program order: the
        same pairs, in the same order, as comparing every pair, in O(n log n) when few
        hulls meet.
        """
        accesses = [self._accesses(th) for th in threads]
        indexes: list[dict | None] = [None] * len(threads)
        for i, j in itertools.combinations(range(len(threads)), 2):
            if indexes[j] is None:
                indexes[j] = self._race_index(accesses[j])
            for a in accesses[i]:
                if self._race_with(a, accesses[j], indexes[j], threads[i], threads[j]):
                    break

    def _accesses(self, th: P.Thread):
        """(task, port, region, enclosing loops, hull start, hull end) per port of every
        task of the thread, in program order."""
        out = []

        def walk(node, loops):
            if isinstance(node, P.Loop):
                for b in node.body:
                    walk(b, loops + (node.var,))
                return
            for port, region in zip(node.core.ports, node.ports):
                (lo, _), (hi, _) = region.offset.extremes()
                out.append((node, port, region, loops, lo, hi + region.length))

        for n in th.body:
            walk(n, ())
        return out

    @staticmethod
    def _race_index(accesses) -> dict[str, tuple[IntervalIndex, IntervalIndex]]:
        """Buffer name -> (the hulls of the accesses that write it, of all accesses to
        it), keyed by position in ``accesses``."""
        groups: dict[str, tuple[list, list]] = {}
        for k, (_, port, region, _, lo, hi) in enumerate(accesses):
            writes, every = groups.setdefault(region.buffer.name, ([], []))
            every.append((lo, hi, k))
            if port.direction != "in":
                writes.append((lo, hi, k))
        return {name: (IntervalIndex(w), IntervalIndex(e)) for name, (w, e) in groups.items()}

    def _race_with(self, a, others, index, ta: P.Thread, tb: P.Thread) -> bool:
        task_a, port_a, reg_a, loops_a, lo_a, hi_a = a
        pair = index.get(reg_a.buffer.name)
        if pair is None:
            return False
        # Two reads never race: a read meets only the other thread's writes.
        for k in pair[0 if port_a.direction == "in" else 1].overlapping(lo_a, hi_a):
            task_b, port_b, reg_b, loops_b, _, _ = others[k]
            hit = self._overlap(reg_a, loops_a, reg_b, loops_b)
            if hit is None:
                continue
            lo, hi, at_a, at_b = hit
            verb_a = "writes" if port_a.direction == "out" else "reads"
            verb_b = "writes" if port_b.direction == "out" else "reads"
            it_a = f" (iteration {describe(at_a)})" if at_a else ""
            it_b = f" (iteration {describe(at_b)})" if at_b else ""
            self.err(
                "E064",
                f"race: `{task_b.core.name}`{it_b} {verb_b} bytes {lo} .. {hi - 1} of `{reg_a.buffer.name}` "
                f"through `{port_b.name}`, which `{task_a.core.name}`{it_a} in another thread of this parsec "
                f"{verb_a} through `{port_a.name}`",
                reg_b.span,
                Note(f"`{task_a.core.name}` {verb_a} them here", reg_a.span),
            )
            return True
        return False

    @staticmethod
    def _overlap(ra: P.Region, la, rb: P.Region, lb):
        """(first byte, end, iteration of a, iteration of b) where the regions of two
        threads meet, or None. The threads' own loops run independently; every other
        variable (a `repeat`'s) has one value for both: iterations of a repeat are not
        concurrent. Asks the overlap oracle; where it gives up (aci.overlap.MAYBE),
        the hulls' common bytes are reported, without iterations."""
        same = set(ra.offset.vars) & set(rb.offset.vars)
        hit = meet(ra.offset, ra.length, rb.offset, rb.length, same=same)
        if hit is None:
            return None
        if hit is MAYBE:
            (amin, _), (amax, _) = ra.offset.extremes()
            (bmin, _), (bmax, _) = rb.offset.extremes()
            return max(amin, bmin), min(amax + ra.length, bmax + rb.length), {}, {}
        return hit.lo, hit.hi, hit.at_a, hit.at_b
