"""What a program asks of its target: a slot that exists (E062) and a core that fits
a slot (E030), within the image format's limits for cores (E034, E083, E087).
``use_core`` records the cores a program uses in its :class:`~aci.check.context.Scope`.
"""

from __future__ import annotations

from .. import ast, timing
from .. import format as F
from .. import program as P
from ..diagnostics import Note
from ..format import LIMITS
from .consts import want_int
from .context import Scope
from .limits import name_max


def slot_number(sc: Scope, e: ast.Expr, env) -> int | None:
    v = want_int(sc.ctx, e, env, "a slot")
    if v is not None and not 0 <= v < sc.target.slots:
        sc.err(
            "E062",
            f"slot {v} does not exist: target `{sc.target.name}` has slots 0 .. {sc.target.slots - 1}",
            e.span,
            Note(f"`{sc.target.name}` is declared here", sc.target.span),
        )
        return None
    return v


def use_core(sc: Scope, ident: ast.Ident) -> P.Core | None:
    if ident.name not in sc.ctx.core_asts:
        known = ", ".join(sorted(sc.ctx.core_asts)) or "none declared"
        sc.err("E010", f"unknown core `{ident.name}` (cores: {known})", ident.span)
        return None
    core = sc.ctx.cores[ident.name]
    if core is None:
        return None
    if core.name not in sc.fit_checked:
        sc.fit_checked.add(core.name)
        for r in P.RESOURCES:
            need, have = core.resources.get(r, 0), sc.target.capacity.get(r)
            if have is not None and need > have:
                sc.err(
                    "E030",
                    f"core `{core.name}` needs {need} {r.upper()} but a slot of `{sc.target.name}` "
                    f"offers {have}",
                    ident.span,
                    Note(f"`{core.name}` is declared here", core.span),
                    Note(f"`{sc.target.name}` is declared here", sc.target.span),
                )
    if core.name not in sc.used_cores:
        if len(sc.used_cores) == LIMITS["max_cores"]:
            sc.err(
                "E083",
                f"program `{sc.program.name.name}` uses more than {LIMITS['max_cores']} cores, the "
                f"image format's limit: `{core.name}` is one more",
                ident.span,
            )
        if len(core.name.encode()) > name_max(F.CORE):
            sc.err(
                "E034",
                f"core `{core.name}` has a name of {len(core.name.encode())} bytes; the image keeps "
                f"at most {name_max(F.CORE)}",
                ident.span,
                Note(f"`{core.name}` is declared here", core.span),
            )
        pr = timing.pr_ns(sc.target.timing, core.bitstream_size)
        if pr > LIMITS["max_time_ns"]:
            sc.err(
                "E087",
                f"reconfiguring a slot with `{core.name}` ({core.bitstream_size} bytes at "
                f"{sc.target.timing.icap_bytes_per_s} bytes/s) takes {pr} ns, over the image format's "
                f"limit of {LIMITS['max_time_ns']} ns",
                ident.span,
                Note(f"`{core.name}` is declared here", core.span),
            )
    sc.used_cores[core.name] = core
    return core
