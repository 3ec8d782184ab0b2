"""The hierarchy of a program: its statements elaborated, in their places.

``check_program(ctx, p)`` elaborates one program of a unit into an
:class:`aci.program.Program` (stage 3, :mod:`aci.place`, gives it addresses): the
memories of buffers and bitstreams first (:mod:`aci.check.memory`), then its body,
statement by statement. Each construct is checked where it stands (E081, E090:
``program`` > ``repeat`` > ``window`` > ``reconfigure`` / ``parsec`` > ``thread`` >
``loop`` / ``task``); ``for`` is expanded (within MAX_STATEMENTS elaborated
statements, E088); ``repeat`` and ``loop`` ranges are checked (E080, E081); slots
are checked per window (E063) and per parsec (E060, E061, and the races of
:mod:`aci.check.races`); a thread on a slot pins its tasks there (E065). Tasks are
:mod:`aci.check.tasks`'. The whole program is then held to the image format's limits
(:mod:`aci.check.limits`).
"""

from __future__ import annotations

from fractions import Fraction

from .. import ast, record
from .. import program as P
from ..affine import Affine, Var
from ..diagnostics import Note
from ..format import LIMITS
from ..span import Span
from .consts import want_int, whole_consts
from .context import Context, Scope
from .limits import image_limits
from .memory import memories
from .races import races
from .tasks import task
from .usage import slot_number, use_core
from .values import Num, Sym

MAX_FOR_COUNT = 1 << 16
# Statements one compilation unit may elaborate (`for` iterations included): the
# checker's memory and time stay bounded whatever the `for` ranges multiply to.
MAX_STATEMENTS = 1 << 18


def check_program(ctx: Context, p: ast.Program) -> P.Program | None:
    """One program, or None when it has errors (they are in ``ctx``)."""
    before = len(ctx.diags)
    tname = p.target.name
    if tname not in ctx.target_asts:
        known = ", ".join(sorted(ctx.target_asts)) or "none declared"
        ctx.err("E010", f"unknown target `{tname}` (targets: {known})", p.target.span)
        return None
    target = ctx.targets[tname]
    if target is None:
        return None
    sc = Scope(ctx, p, target)
    bitstreams = memories(sc)
    body = stmts(sc, p.body, "program", {}, 0)
    if len(ctx.diags) > before:
        return None
    body = [b for b in body if isinstance(b, (P.Window, P.Repeat))]
    cores = tuple(sorted(sc.used_cores.values(), key=lambda core: core.id))
    image_limits(sc, body, cores)
    if len(ctx.diags) > before:
        return None
    return P.Program(
        p.name.name,
        target,
        cores,
        tuple(sc.buffers.values()),
        tuple(bitstreams),  # every core's: placement takes them all into account
        tuple(body),
        whole_consts(ctx),
        p.span,
    )


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


def _size(sc: Scope, body, env, limit: int = MAX_STATEMENTS + 1) -> int:
    """The statements ``body`` elaborates to, `for` ranges evaluated at the
    enclosing `for` variables' first values (quietly: their errors come later)."""
    total = 0
    for s in body:
        total += 1
        if isinstance(s, ast.For):
            mark = len(sc.ctx.diags)
            lo = want_int(sc.ctx, s.lo, env, "")
            hi = want_int(sc.ctx, s.hi, env, "")
            del sc.ctx.diags[mark:]
            if lo is not None and hi is not None and hi > lo:
                total += (hi - lo) * _size(
                    sc, s.body, {**env, s.var.name: Num(Fraction(lo))}, limit
                )
        elif hasattr(s, "body") and isinstance(s.body, tuple):
            total += _size(sc, s.body, env, limit)
        if total >= limit:
            return limit
    return total


def tick(sc: Scope, span: Span) -> bool:
    """Count one elaborated statement; False (E088, reported once) past the bound."""
    c = sc.ctx
    c.statements += 1
    if c.statements <= MAX_STATEMENTS:
        return True
    if c.statements == MAX_STATEMENTS + 1:
        sc.err(
            "E088",
            f"this program elaborates more than {MAX_STATEMENTS:,} statements (`for` iterations "
            "included); here it stops",
            span,
        )
    return False


def stmts(sc: Scope, body, where: str, env: dict, depth: int, repeat: Var | None = None) -> list:
    out = []
    for s in body:
        if not tick(sc, s.span):
            break
        if isinstance(s, ast.For):
            out.extend(for_stmt(sc, s, where, env, depth, repeat))
            continue
        if not isinstance(s, ALLOWED[where]):
            word = type(s).__name__.lower()
            extra = ""
            if isinstance(s, ast.Repeat) and where == "repeat":
                sc.err("E081", "a `repeat` may not be nested in another `repeat`", s.span)
                continue
            if isinstance(s, ast.Thread) and where == "window":
                extra = " (wrap the threads in `parsec { ... }`)"
            sc.err(
                "E090",
                f"`{word}` is not allowed here: it belongs in {WHERE[type(s)]}{extra}",
                s.span,
            )
            continue
        if isinstance(s, ast.Window):
            out.append(window(sc, s, env, repeat))
        elif isinstance(s, ast.Repeat):
            rep = repeat_block(sc, s, env)
            if rep is not None:
                out.append(rep)
        elif isinstance(s, ast.Reconfigure):
            rec = reconfigure(sc, s, env)
            if rec is not None:
                out.append(rec)
        elif isinstance(s, ast.Parsec):
            out.append(parsec(sc, s, env, repeat))
        elif isinstance(s, ast.Thread):
            out.append(thread(sc, s, env, repeat))
        elif isinstance(s, ast.Loop):
            lp = loop_block(sc, s, env, depth, repeat)
            if lp is not None:
                out.append(lp)
        elif isinstance(s, ast.Task):
            t = task(sc, s, env)
            if t is not None:
                out.append(t)
    return out


def _range(sc: Scope, s, env, what: str, limit: int) -> tuple[int, int] | None:
    lo = want_int(sc.ctx, s.lo, env, f"the start of a {what}")
    hi = want_int(sc.ctx, s.hi, env, f"the end of a {what}")
    if lo is None or hi is None:
        return None
    n = hi - lo
    if n < 1:
        sc.err("E080", f"this {what} runs {max(n, 0)} times ({lo} .. {hi} is empty)", s.span)
        return None
    if n > limit:
        sc.err("E080", f"this {what} runs {n} times, more than the limit of {limit}", s.span)
        return None
    return lo, n


def for_stmt(sc: Scope, s: ast.For, where: str, env, depth, repeat) -> list:
    r = _range(sc, s, env, "`for`", MAX_FOR_COUNT)
    if r is None:
        return []
    inner_env = {**env, s.var.name: Num(Fraction(r[0]))}
    if sc.ctx.statements + r[1] * _size(sc, s.body, inner_env) > MAX_STATEMENTS:
        sc.ctx.statements = MAX_STATEMENTS  # refused before any expansion
        tick(sc, s.span)
        return []
    out = []
    for v in range(r[0], r[0] + r[1]):
        if not tick(sc, s.span):
            break
        out.extend(stmts(sc, s.body, where, {**env, s.var.name: Num(Fraction(v))}, depth, repeat))
    return out


def repeat_block(sc: Scope, s: ast.Repeat, env) -> P.Repeat | None:
    r = _range(sc, s, env, "`repeat`", LIMITS["max_repeat_count"])
    if r is None:
        return None
    var = Var(s.var.name, r[0], r[1], "repeat", next(sc.ctx.var_uid))
    windows = stmts(sc, s.body, "repeat", {**env, s.var.name: Sym(Affine.var(var))}, 0, var)
    return P.Repeat(var, tuple(windows), s.span)


def loop_block(sc: Scope, s: ast.Loop, env, depth, repeat) -> P.Loop | None:
    if depth >= LIMITS["max_loop_depth"]:
        sc.err("E081", f"loops nest more than {LIMITS['max_loop_depth']} deep", s.span)
        return None
    r = _range(sc, s, env, "`loop`", LIMITS["max_loop_count"])
    if r is None:
        return None
    var = Var(s.var.name, r[0], r[1], "loop", next(sc.ctx.var_uid))
    body = stmts(sc, s.body, "thread", {**env, s.var.name: Sym(Affine.var(var))}, depth + 1, repeat)
    return P.Loop(var, tuple(body), s.span)


def reconfigure(sc: Scope, s: ast.Reconfigure, env) -> P.Reconfigure | None:
    slot = slot_number(sc, s.slot, env)
    core = use_core(sc, s.core)
    if slot is None or core is None:
        return None
    return P.Reconfigure(slot, core, s.span)


def window(sc: Scope, s: ast.Window, env, repeat) -> P.Window:
    items = stmts(sc, s.body, "window", env, 0, repeat)
    recs = tuple(i for i in items if isinstance(i, P.Reconfigure))
    parsecs = tuple(i for i in items if isinstance(i, P.Parsec))
    holder: dict[int, tuple[P.Core, Span]] = {}

    def claim(slot, core, span):
        if slot is None:
            return
        if slot in holder and holder[slot][0].name != core.name:
            sc.err(
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


def parsec(sc: Scope, s: ast.Parsec, env, repeat) -> P.Parsec:
    threads = tuple(stmts(sc, s.body, "parsec", env, 0, repeat))
    if len(threads) > sc.target.slots:
        sc.err(
            "E061",
            f"this parsec has {len(threads)} threads but target `{sc.target.name}` has "
            f"{sc.target.slots} slots",
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
                sc.err(
                    "E060",
                    f"two threads of one parsec use slot {slot}",
                    span,
                    Note("the other thread uses it here", owner[slot][1]),
                )
            else:
                owner.setdefault(slot, (th, span))
    races(sc, threads)
    return P.Parsec(threads, s.span)


def thread(sc: Scope, s: ast.Thread, env, repeat) -> P.Thread:
    slot = slot_number(sc, s.slot, env) if s.slot is not None else None
    body = stmts(sc, s.body, "thread", env, 0, repeat)
    if slot is not None:
        body = [_pin(sc, b, slot) for b in body]
    return P.Thread(slot, tuple(body), s.span)


def _pin(sc: Scope, node, slot: int):
    """Put every task of a thread that names its slot on that slot."""
    if isinstance(node, P.Loop):
        return record.evolve(node, body=tuple(_pin(sc, b, slot) for b in node.body))
    if node.slot is not None and node.slot != slot:
        sc.err(
            "E065",
            f"this task names slot {node.slot} but its thread is on slot {slot}",
            node.span,
        )
    return record.evolve(node, slot=slot)
