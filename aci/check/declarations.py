"""Declarations: every const, buffer, core, target and program of a unit, by name,
and the checked form of targets, cores and buffer types.

``collect(ctx)`` gathers the modules' declarations into the context (E011: one name
declared twice); ``declarations(ctx)`` checks each target (its fields, slots, memories
and their limits: E024, E026, E027, E032-E034), each core (its items, parameters,
ports and limits; E011 for two cores with one id) and each buffer's type, and stores
the results in the context (None for one whose errors are reported).
"""

from __future__ import annotations

from typing import Iterable, Iterator, TypeVar

from .. import ast, units
from .. import format as F
from .. import program as P
from ..diagnostics import Note
from ..format import LIMITS
from ..span import Span
from .consts import names_in, want_int
from .context import Context
from .limits import field_max, name_max

_T = TypeVar("_T")


def collect(ctx: Context) -> None:
    values: dict[str, ast.Const | ast.Buffer] = {}
    kinds: list[tuple[type, dict, str]] = [
        (ast.Core, ctx.core_asts, "core"),
        (ast.Target, ctx.target_asts, "target"),
        (ast.Program, ctx.program_asts, "program"),
        (ast.System, ctx.system_asts, "system"),
    ]
    for module in ctx.loaded.modules:
        for d in module.decls:
            if isinstance(d, ast.Const):
                _declare(ctx, values, d, "name")
                ctx.consts[d.name.name] = d
            elif isinstance(d, ast.Buffer):
                _declare(ctx, values, d, "name")
                ctx.buffers[d.name.name] = d
            for cls, table, what in kinds:
                if isinstance(d, cls):
                    _declare(ctx, table, d, what)


def _declare(ctx: Context, table: dict, d, what: str) -> None:
    prev = table.get(d.name.name)
    if prev is not None:
        ctx.err(
            "E011",
            f"{what} `{d.name.name}` is declared twice",
            d.name.span,
            Note("first declared here", prev.name.span),
        )
    else:
        table[d.name.name] = d


def declarations(ctx: Context) -> None:
    """Targets, then cores (E011 for a core id used twice), then buffer types."""
    for name, t in ctx.target_asts.items():
        ctx.targets[name] = check_target(ctx, t)
    ids: dict[int, ast.Core] = {}
    for name, c in ctx.core_asts.items():
        core = check_core(ctx, c)
        ctx.cores[name] = core
        if core is not None:
            if core.id in ids:
                ctx.err(
                    "E011",
                    f"core id {core.id} is used by `{ids[core.id].name.name}` and `{name}`",
                    c.name.span,
                    Note("first used here", ids[core.id].name.span),
                )
            else:
                ids[core.id] = c
    for b in ctx.buffers.values():
        ctx.buffer_types[b.name.name] = check_buffer_decl(ctx, b)


def check_target(ctx: Context, t: ast.Target) -> P.Target | None:
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
                ctx.err(
                    "E026",
                    "`slots` is given twice",
                    item.span,
                    Note("first given here", seen["slots"]),
                )
                continue
            seen["slots"] = item.span
            slots = want_int(ctx, item.count, {}, "the slot count")
            if slots is not None and not 1 <= slots <= LIMITS["max_slots"]:
                ctx.err(
                    "E024",
                    f"a target has 1 to {LIMITS['max_slots']} slots, not {slots}",
                    item.count.span,
                )
                slots = None
            capacity = resources(ctx, item.capacity or ())
        elif isinstance(item, ast.TargetMemory):
            base = want_int(ctx, item.base, {}, "a memory address")
            size = want_int(ctx, item.size, {}, "a memory size", (units.BYTES, units.COUNT))
            if any(m.name == item.name.name for m in memories):
                ctx.err("E011", f"memory `{item.name.name}` is declared twice", item.name.span)
            elif base is not None and size is not None:
                if base < 0 or size <= 0 or base + size > 2**64:
                    ctx.err(
                        "E024",
                        f"memory `{item.name.name}` must lie within 64-bit addresses and have a positive size",
                        item.span,
                    )
                else:
                    memories.append(P.Memory(item.name.name, base, size, item.span))
        else:
            name = item.name.name
            if name not in fields:
                ctx.err(
                    "E027",
                    f"unknown target field `{name}` (fields: slots, memory, "
                    + ", ".join(fields)
                    + ")",
                    item.name.span,
                )
                continue
            if name in seen:
                ctx.err(
                    "E026",
                    f"`{name}` is given twice",
                    item.name.span,
                    Note("first given here", seen[name]),
                )
                continue
            seen[name] = item.span
            v = want_int(ctx, item.value, {}, f"`{name}`", (fields[name],))
            if v is None:
                ok = False
            elif v <= 0 and fields[name] in (units.RATE, units.FREQ):
                ctx.err("E024", f"`{name}` must be positive", item.value.span)
                ok = False
            elif v < 0:
                ctx.err("E024", f"`{name}` must not be negative", item.value.span)
                ok = False
            else:
                values[name] = v
    values = {**optional, **values}
    memory_limits(ctx, t, memories)
    for name, v in values.items():
        if fields[name] == units.TIME and v > LIMITS["max_time_ns"]:
            ctx.err(
                "E024",
                f"`{name}` is {v} ns, over the image format's limit of {LIMITS['max_time_ns']} ns",
                seen[name],
            )
            ok = False
        per_s = v // 8 if name in ("icap", "dma") else v
        if fields[name] in (units.RATE, units.FREQ) and per_s > LIMITS["max_rate"]:
            unit = "bytes/s" if name in ("icap", "dma") else "bits/s" if name == "link" else "Hz"
            ctx.err(
                "E024",
                f"`{name}` is {per_s} {unit}, over the image format's limit of {LIMITS['max_rate']}",
                seen[name],
            )
            ok = False
    missing = [f for f in ["slots", *fields] if f not in seen and f not in optional]
    if not memories and not any(isinstance(i, ast.TargetMemory) for i in t.items):
        missing.append("memory")
    if missing:
        ctx.err(
            "E026",
            f"target `{t.name.name}` lacks " + ", ".join(f"`{m}`" for m in missing),
            t.name.span,
        )
        return None
    if not ok or slots is None or not memories or len(values) != len(fields):
        return None
    for rate in ("icap", "dma"):
        if values[rate] % 8:
            ctx.err("E022", f"`{rate}` must be a whole number of bytes per second", t.span)
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


def memory_limits(ctx: Context, t: ast.Target, memories: list[P.Memory]) -> None:
    """E032 (too many memories), E033 (memories that overlap), E034 (a long name)."""
    limit = LIMITS["max_memories"]
    if len(memories) > limit:
        ctx.err(
            "E032",
            f"target `{t.name.name}` has {len(memories)} memories; an image holds at most {limit}",
            memories[limit].span,
            Note(f"`{t.name.name}` is declared here", t.name.span),
        )
    longest = name_max(F.MEMORY)
    for k, m in enumerate(memories):
        if len(m.name.encode()) > longest:
            ctx.err(
                "E034",
                f"memory `{m.name}` has a name of {len(m.name.encode())} bytes; the image keeps "
                f"at most {longest}",
                m.span,
            )
        for o in memories[:k]:
            if m.base < o.end and o.base < m.end:
                lo, hi = max(m.base, o.base), min(m.end, o.end)
                ctx.err(
                    "E033",
                    f"memory `{m.name}` overlaps memory `{o.name}`: bytes 0x{lo:x} .. 0x{hi - 1:x}",
                    m.span,
                    Note(f"`{o.name}` is declared here", o.span),
                )
                break


def resources(ctx: Context, items: Iterable[ast.Resource]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in items:
        if r.name.name not in P.RESOURCES:
            ctx.err(
                "E027",
                f"unknown resource `{r.name.name}` (resources: {', '.join(P.RESOURCES)})",
                r.name.span,
            )
            continue
        if r.name.name in out:
            ctx.err("E026", f"resource `{r.name.name}` is given twice", r.name.span)
            continue
        v = want_int(ctx, r.value, {}, f"the {r.name.name} count")
        if v is not None and v < 0:
            ctx.err("E024", "a resource count must not be negative", r.value.span)
        elif v is not None:
            out[r.name.name] = v
    return out


def check_core(ctx: Context, c: ast.Core) -> P.Core | None:
    once: dict[type, ast.CoreItem] = {}
    params: list[P.Param] = []
    ports: list[P.Port] = []
    names: dict[str, Span] = {}
    ok = True
    for item in c.items:
        if isinstance(item, (ast.CoreId, ast.CoreBitstream, ast.CoreResources, ast.CoreCycles)):
            if type(item) in once:
                ctx.err(
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
            ctx.err(
                "E011",
                f"`{name}` is declared twice in core `{c.name.name}`",
                item.name.span,
                Note("first declared here", names[name]),
            )
            ok = False
            continue
        names[name] = item.name.span
        if isinstance(item, ast.CoreParam):
            p = check_param(ctx, item)
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
            ctx.err("E026", f"core `{c.name.name}` lacks `{word}`", c.name.span)
            ok = False
    if len(ports) > LIMITS["max_ports"] or len(params) > LIMITS["max_params"]:
        ctx.err(
            "E024",
            f"a core has at most {LIMITS['max_ports']} ports and {LIMITS['max_params']} parameters",
            c.name.span,
        )
        ok = False
    if not ports:
        ctx.err("E026", f"core `{c.name.name}` has no ports", c.name.span)
        ok = False
    id_item = _item(once, ast.CoreId)
    bs = _item(once, ast.CoreBitstream)
    res_item = _item(once, ast.CoreResources)
    cycles = _item(once, ast.CoreCycles)
    # Names in shapes and in the cycle expression: parameters or consts.
    known = set(names) | set(ctx.consts)
    exprs = [e for port in ports for e in port_type_exprs(port.type)]
    if cycles is not None:
        exprs.append(cycles.value)
    for e in exprs:
        for n in names_in(e):
            if n.name not in known:
                ctx.err(
                    "E010",
                    f"unknown name `{n.name}` (not a parameter of `{c.name.name}` or a const)",
                    n.span,
                )
                ok = False
    for port in ports:
        pt: ast.PortType | None = port.type
        while pt is not None:
            if pt.tensor.elem.name not in P.ELEMENT_BITS:
                ctx.err(
                    "E010",
                    f"unknown element type `{pt.tensor.elem.name}` (types: "
                    + ", ".join(P.ELEMENT_BITS)
                    + ")",
                    pt.tensor.elem.span,
                )
                ok = False
            pt = pt.otherwise
    ident = want_int(ctx, id_item.value, {}, "a core id") if id_item is not None else None
    if id_item is not None and ident is not None and not 0 <= ident < 256:
        ctx.err("E024", f"a core id is 0 .. 255, not {ident}", id_item.value.span)
        ident = None
    size = addr = None
    if bs is not None:
        size = want_int(ctx, bs.size, {}, "a bitstream size", (units.BYTES, units.COUNT))
        if size is not None and size <= 0:
            ctx.err("E024", "a bitstream size must be positive", bs.size.span)
            size = None
        elif size is not None and size > field_max(F.CORE, "bitstream_size"):
            ctx.err(
                "E024",
                f"a bitstream of {size} bytes is over the image format's limit of "
                f"{field_max(F.CORE, 'bitstream_size')} bytes",
                bs.size.span,
            )
            size = None
        if bs.address is not None:
            addr = want_int(ctx, bs.address, {}, "a bitstream address")
            if addr is None:
                ok = False
    res = resources(ctx, res_item.items) if res_item is not None else {}
    for r in res_item.items if res_item is not None else ():
        if r.name.name in res and res[r.name.name] > field_max(F.CORE, r.name.name):
            ctx.err(
                "E024",
                f"{res[r.name.name]} {r.name.name.upper()} is over the image format's limit of "
                f"{field_max(F.CORE, r.name.name)}",
                r.value.span,
            )
            ok = False
    if not ok or ident is None or size is None or bs is None or cycles is None:
        return None
    return P.Core(
        c.name.name,
        ident,
        size,
        bs.memory.name if bs.memory else None,
        addr,
        res,
        tuple(params),
        tuple(ports),
        cycles.value,
        c.span,
    )


def _item(once: dict[type, ast.CoreItem], cls: type[_T]) -> _T | None:
    """The item of class ``cls`` a core gives (once), if any."""
    item = once.get(cls)
    assert item is None or isinstance(item, cls)
    return item


def port_type_exprs(pt: ast.PortType | None) -> Iterator[ast.Expr]:
    while pt is not None:
        yield from pt.tensor.dims
        if pt.cond is not None:
            yield pt.cond
        pt = pt.otherwise


def check_param(ctx: Context, p: ast.CoreParam) -> P.Param | None:
    t = p.type.name
    if t not in P.PARAM_TYPES:
        ctx.err(
            "E027",
            f"unknown parameter type `{t}` (types: {', '.join(P.PARAM_TYPES)})",
            p.type.span,
        )
        return None
    tlo, thi = P.PARAM_TYPES[t]
    if p.domain is None:
        return P.Param(p.name.name, t, tlo, thi, None, p.span)
    if t == "bool":
        ctx.err("E031", "a `bool` parameter takes no range or set", p.domain.span)
        return None
    if isinstance(p.domain, ast.DomainRange):
        lo = want_int(ctx, p.domain.lo, {}, "a range bound")
        hi = want_int(ctx, p.domain.hi, {}, "a range bound")
        if lo is None or hi is None:
            return None
        if lo > hi:
            ctx.err("E031", f"the range {lo} .. {hi} of `{p.name.name}` is empty", p.domain.span)
            return None
        if lo < tlo or hi > thi:
            ctx.err(
                "E031",
                f"the range {lo} .. {hi} does not fit `{t}` ({tlo} .. {thi})",
                p.domain.span,
            )
            return None
        return P.Param(p.name.name, t, lo, hi, None, p.span)
    vals: list[int] = []
    for e in p.domain.values:
        v = want_int(ctx, e, {}, "a set member")
        if v is None:
            return None
        if v in vals:
            ctx.err("E031", f"{v} is listed twice", e.span)
            return None
        if not tlo <= v <= thi:
            ctx.err("E031", f"{v} does not fit `{t}` ({tlo} .. {thi})", e.span)
            return None
        vals.append(v)
    return P.Param(p.name.name, t, min(vals), max(vals), frozenset(vals), p.span)


def check_buffer_decl(ctx: Context, b: ast.Buffer) -> tuple[str, tuple[int, ...]] | None:
    ok = True
    if b.type.elem.name not in P.ELEMENT_BITS:
        ctx.err(
            "E010",
            f"unknown element type `{b.type.elem.name}` (types: {', '.join(P.ELEMENT_BITS)})",
            b.type.elem.span,
        )
        ok = False
    shape = []
    for d in b.type.dims:
        v = want_int(ctx, d, {}, "a dimension")
        if v is not None and v < 1:
            ctx.err("E024", f"a dimension must be at least 1, not {v}", d.span)
            v = None
        ok &= v is not None
        shape.append(v)
    if len(shape) > LIMITS["max_dims"]:
        ctx.err("E024", f"a buffer has at most {LIMITS['max_dims']} dimensions", b.type.span)
        ok = False
    for d, v in zip(b.type.dims, shape, strict=True):
        if v is not None and v > field_max(F.BUFFER, "dim0"):
            ctx.err(
                "E024",
                f"a dimension of {v} is over the image format's limit of "
                f"{field_max(F.BUFFER, 'dim0')}",
                d.span,
            )
            ok = False
    if len(b.name.name.encode()) > name_max(F.BUFFER):
        ctx.err(
            "E034",
            f"buffer `{b.name.name}` has a name of {len(b.name.name.encode())} bytes; the image "
            f"keeps at most {name_max(F.BUFFER)}",
            b.name.span,
        )
        ok = False
    if not ok:
        return None
    return b.type.elem.name, tuple(d for d in shape if d is not None)  # ok: none is None
