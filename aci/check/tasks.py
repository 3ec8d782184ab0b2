"""Tasks: a core's parameters and ports bound, in one program.

``task(scope, s, env)`` checks one task statement: its arguments against the core's
parameters (E040-E043, E046) and ports (E041, E045), each port's binding to a buffer
or a view of one (E047-E053: element type, size for the parameters, the buffer's
role, subscripts within bounds for every iteration), its cycle count and duration
against the format's limits (E024, E086) and the target's watchdog (W001). A port's
binding becomes an :class:`aci.program.View`: the buffer, an affine byte offset
over the enclosing loop and repeat variables, a length.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .. import ast, timing
from .. import format as F
from .. import program as P
from ..affine import Affine, describe
from ..diagnostics import Note
from ..format import LIMITS
from ..span import Span
from .consts import as_int, evaluate, want_flag, want_int
from .context import Scope
from .limits import field_max
from .usage import slot_number, use_core
from .values import BufRef, Flag, Num, Poison, Sym, Value, show, show_param

STRIDE_MIN, STRIDE_MAX = -(1 << 63), (1 << 63) - 1  # a PORT stride is an i64


def task(sc: Scope, s: ast.Task, env) -> P.Task | None:
    core = use_core(sc, s.core)
    slot = slot_number(sc, s.slot, env) if s.slot is not None else None
    if core is None:
        return None
    given: dict[str, ast.Arg] = {}
    for a in s.args:
        n = a.name.name
        if n in given:
            sc.err(
                "E046",
                f"`{n}` is given twice",
                a.name.span,
                Note("first given here", given[n].name.span),
            )
            continue
        if core.param(n) is None and core.port(n) is None:
            sc.err(
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
        arg = given.get(p.name)
        if arg is None:
            sc.err(
                "E040",
                f"task `{core.name}` lacks parameter `{p.name}` ({p.type}, {p.domain_str()})",
                s.span,
                Note("declared here", p.span),
            )
            ok = False
            continue
        v = param_value(sc, p, arg, env)
        if v is None:
            ok = False
        else:
            values[p.name] = v
    types_of = {p.name: p.type for p in core.params}
    penv: dict[str, Value] = {
        k: (Flag(bool(v)) if types_of[k] == "bool" else Num(Fraction(v))) for k, v in values.items()
    }
    views, types = [], []
    for port in core.ports:
        arg = given.get(port.name)
        if arg is None:
            sc.err(
                "E045",
                f"port `{port.name}` of `{core.name}` is not bound",
                s.span,
                Note("declared here", port.span),
            )
            ok = False
            continue
        view = bound_view(sc, arg.value, env)
        expected = port_shape(sc, core, port, penv, s.span) if ok else None
        if view is None or expected is None:
            ok = False
            continue
        ok &= check_binding(sc, core, port, view, expected, values, arg)
        views.append(view)
        types.append(expected)
    if not ok:
        return None
    cyc = evaluate(sc.ctx, core.cycles, penv)
    cycles = as_int(sc.ctx, cyc, core.cycles, f"the cycle count of `{core.name}`")
    if cycles is None:
        return None
    if not 0 <= cycles <= LIMITS["max_cycles"]:
        sc.err(
            "E024",
            f"`{core.name}` takes {cycles} cycles for these parameters, outside 0 .. {LIMITS['max_cycles']}",
            s.span,
            Note("the cycle expression", core.cycles.span),
        )
        return None
    for port, view, a in zip(core.ports, views, (given[p.name] for p in core.ports), strict=True):
        if view.length > field_max(F.PORT, "length"):
            sc.err(
                "E024",
                f"port `{port.name}` is bound to {view.length} bytes, over the image format's "
                f"limit of {field_max(F.PORT, 'length')} bytes for one port",
                a.value.span,
            )
            return None
        bad = [(v, c) for v, c in view.offset.coeffs if not STRIDE_MIN <= c <= STRIDE_MAX]
        if bad:
            sc.err(
                "E024",
                f"port `{port.name}` moves by {bad[0][1]} bytes per step of `{bad[0][0].name}`, "
                "beyond the image format's 64-bit signed strides",
                a.value.span,
            )
            return None
    read, written = timing.port_bytes((r.length for r in views), (p.direction for p in core.ports))
    dur = timing.task_ns(sc.target.timing, len(core.params), cycles, read, written)
    if dur > LIMITS["max_time_ns"]:
        sc.err(
            "E086",
            f"this task of `{core.name}` takes {dur} ns, over the image format's limit of "
            f"{LIMITS['max_time_ns']} ns",
            s.span,
        )
        return None
    watchdog = sc.target.timing.watchdog_ns
    if watchdog and dur > watchdog:
        sc.ctx.warn(
            "W001",
            f"this task of `{core.name}` takes {dur} ns, longer than the watchdog of "
            f"`{sc.target.name}` ({watchdog} ns): a run stops here with `watchdog`",
            s.span,
            Note(f"`{sc.target.name}` is declared here", sc.target.span),
        )
    return P.Task(
        core,
        slot,
        tuple((p.name, values[p.name]) for p in core.params),
        tuple(views),
        tuple(types),
        cycles,
        s.span,
    )


def param_value(sc: Scope, p: P.Param, a: ast.Arg, env) -> int | None:
    v = evaluate(sc.ctx, a.value, env)
    if isinstance(v, Poison):
        return None
    if p.type == "bool":
        if not isinstance(v, Flag):
            sc.err(
                "E042",
                f"parameter `{p.name}` is a bool: give `true` or `false`",
                a.value.span,
                Note("declared here", p.span),
            )
            return None
        return int(v.value)
    if isinstance(v, Flag):
        sc.err(
            "E042",
            f"parameter `{p.name}` is {p.type}: give a number, not {str(v.value).lower()}",
            a.value.span,
            Note("declared here", p.span),
        )
        return None
    x = as_int(sc.ctx, v, a.value, f"parameter `{p.name}`")
    if x is None:
        return None
    if not p.allows(x):
        sc.err(
            "E043",
            f"parameter `{p.name}` is {x}, outside its domain {p.domain_str()}",
            a.value.span,
            Note("declared here", p.span),
        )
        return None
    return x


def port_shape(
    sc: Scope, core: P.Core, port: P.Port, penv, task_span: Span
) -> tuple[str, tuple[int, ...]] | None:
    pt = port.type
    while pt.cond is not None and pt.otherwise is not None:  # the grammar gives both or neither
        c = want_flag(sc.ctx, pt.cond, penv)
        if c is None:
            return None
        if c:
            break
        pt = pt.otherwise
    dims = []
    for d in pt.tensor.dims:
        v = want_int(sc.ctx, d, penv, f"a dimension of port `{port.name}`")
        if v is None:
            return None
        if v < 1:
            shown = ", ".join(f"{k} = {show(x)}" for k, x in penv.items())
            sc.err(
                "E024",
                f"port `{port.name}` of `{core.name}` would have a dimension of {v} for {shown}",
                task_span,
                Note("the dimension is declared here", d.span),
            )
            return None
        dims.append(v)
    return pt.tensor.elem.name, tuple(dims)


def check_binding(sc: Scope, core, port, view: P.View, expected, values, a: ast.Arg) -> bool:
    elem, shape = expected
    want = P.tensor_bytes(elem, shape)
    b = view.buffer
    params = ", ".join(f"{k} = {show_param(core, k, v)}" for k, v in values.items())
    shown = f" for {params}" if params else ""
    if b.elem != elem:
        sc.err(
            "E048",
            f"port `{port.name}` of `{core.name}` takes {elem} elements but buffer `{b.name}` holds {b.elem}",
            a.value.span,
            Note(f"`{b.name}` is declared here", b.span),
            Note("the port is declared here", port.span),
        )
        return False
    if view.length != want:
        sc.err(
            "E047",
            f"port `{port.name}` of `{core.name}` expects {want} bytes ({P.type_str(elem, shape)}{shown}) "
            f"but this view is {view.length} bytes",
            a.value.span,
            Note("the port is declared here", port.span),
            Note(f"`{b.name}` is declared here", b.span),
        )
        return False
    if b.role == "input" and port.direction == "out":
        sc.err(
            "E053",
            f"`{b.name}` is an input buffer (written by the host) but port `{port.name}` writes it",
            a.value.span,
            Note(f"`{b.name}` is declared here", b.span),
        )
        return False
    if b.role == "output" and port.direction == "in":
        sc.err(
            "E053",
            f"`{b.name}` is an output buffer (only written by the board) but port `{port.name}` reads it",
            a.value.span,
            Note(f"`{b.name}` is declared here", b.span),
        )
        return False
    return True


def bound_view(sc: Scope, e: ast.Expr, env) -> P.View | None:
    """The view a port binding names, with an affine byte offset."""
    subs: list[ast.Index | ast.Slice] = []
    base = e
    while isinstance(base, (ast.Index, ast.Slice)):
        subs.append(base)
        base = base.base
    subs.reverse()
    v = evaluate(sc.ctx, base, env) if isinstance(base, ast.Name) else None
    if isinstance(v, Poison):
        return None
    if not isinstance(v, BufRef):
        sc.err("E049", "a port must be bound to a buffer or a view of one", e.span)
        return None
    b = sc.buffers.get(v.buffer.name.name)
    if b is None:  # not placed: its own error is reported
        return None
    dims = list(b.shape)
    offset = Affine.of(0)
    sliced = None
    for k, s in enumerate(subs):
        if sliced is not None:
            sc.err(
                "E052",
                "a slice must be the last subscript",
                s.span,
                Note("the slice", sliced.span),
            )
            return None
        if not dims:
            sc.err("E052", f"too many subscripts: `{b.name}` has {len(b.shape)} dimensions", s.span)
            return None
        stride = math.prod(dims[1:])
        if isinstance(s, ast.Index):
            idx = index(sc, s.index, env)
            if idx is None or not bounds(sc, idx, 0, dims[0] - 1, s.index, b, k, "index"):
                return None
            offset = offset + idx.scale(stride)
            dims = dims[1:]
        else:
            lo, hi = index(sc, s.lo, env), index(sc, s.hi, env)
            if lo is None or hi is None:
                return None
            n = hi - lo
            if not n.is_const or n.const < 1:
                sc.err(
                    "E052",
                    f"a slice must have a constant, positive length; this one is {n}",
                    s.span,
                )
                return None
            if not bounds(sc, lo, 0, dims[0] - n.const, s.lo, b, k, "slice"):
                return None
            offset = offset + lo.scale(stride)
            dims = [n.const] + dims[1:]
            sliced = s
    if b.elem == "bits":
        bad = offset.const % 64 or any(c % 64 for _, c in offset.coeffs)
        if bad:
            sc.err(
                "E052",
                f"this view of the bits buffer `{b.name}` starts at bit offset {offset}, "
                "which is not always a multiple of 64 (a 64-bit word)",
                e.span,
            )
            return None
        byte_offset = offset.divide_exact(8)
        assert byte_offset is not None  # every coefficient is a multiple of 64
    else:
        byte_offset = offset.scale(P.ELEMENT_BITS[b.elem] // 8)
    return P.View(b, byte_offset, P.tensor_bytes(b.elem, tuple(dims)), e.span)


def index(sc: Scope, e: ast.Expr, env) -> Affine | None:
    v = evaluate(sc.ctx, e, env)
    if isinstance(v, Sym):
        return v.aff
    x = as_int(sc.ctx, v, e, "an index")
    return None if x is None else Affine.of(x)


def bounds(
    sc: Scope, idx: Affine, lo: int, hi: int, e: ast.Expr, b: P.Buffer, dim: int, what: str
) -> bool:
    (mn, at_mn), (mx, at_mx) = idx.extremes()
    for val, at, bad in ((mn, at_mn, mn < lo), (mx, at_mx, mx > hi)):
        if bad:
            when = f" on iteration {describe(at)}" if at else ""
            rng = f"{lo} .. {hi}" if what == "index" else f"starts {lo} .. {hi}"
            sc.err(
                "E051",
                f"{what} of dimension {dim} of `{b.name}` is {val}{when}, outside {rng} "
                f"(`{b.name}` is {P.type_str(b.elem, b.shape)})",
                e.span,
                Note(f"`{b.name}` is declared here", b.span),
            )
            return False
    return True
