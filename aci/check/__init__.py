"""Stage 2, check: parsed modules to checked programs.

``check(loaded, defines)`` resolves every name across the modules of a compilation
unit, evaluates compile-time expressions (with units), applies ``-D`` overrides,
expands ``for``, checks every rule of docs/language.md and puts each buffer and
bitstream in one of the target's memories (stage 3, :mod:`aci.place`, gives them
addresses). It returns a :class:`Unit` whose programs are
:class:`aci.program.Program` values, or raises :class:`SourceError` with every
diagnostic found (sorted by position). Codes: E010-E105 of
:data:`aci.diagnostics.CODES` but for placement's E070-E072.

The checker is split by concern; its parts share one explicit state, the
:class:`~aci.check.context.Context` of the unit (and, inside it, a program's
:class:`~aci.check.context.Scope`), passed to each as its first argument:

- :mod:`~aci.check.values` and :mod:`~aci.check.consts`: compile-time values and
  constant evaluation (units, ``-D``, affine forms of loop variables);
- :mod:`~aci.check.declarations`: the unit's names, targets, cores, buffer types;
- :mod:`~aci.check.memory`: the memory of each buffer and bitstream, its fixed
  address, a buffer's initial bytes;
- :mod:`~aci.check.hierarchy`: a program's statements in their places, ``for``
  expanded, slots per window and parsec; :mod:`~aci.check.usage`: the slots and
  cores a program asks of its target;
- :mod:`~aci.check.tasks`: parameters and port bindings;
- :mod:`~aci.check.races`: two threads of a parsec touching the same bytes;
- :mod:`~aci.check.limits`: the image format's limits for a whole program;
- :mod:`~aci.check.systems`: ``system`` declarations, against the checked programs.
"""

from __future__ import annotations

from typing import Mapping

from .. import program as P
from ..diagnostics import Diagnostic, SourceError
from ..parse import Loaded
from .consts import apply_defines, const_value, whole_consts
from .context import Context, Unit
from .declarations import collect, declarations
from .hierarchy import check_program
from .systems import check_systems

__all__ = ["Unit", "check"]


def check(loaded: Loaded, defines: Mapping[str, str] | None = None) -> Unit:
    ctx = Context(loaded, dict(defines or {}))
    collect(ctx)
    apply_defines(ctx)
    for name in ctx.consts:
        const_value(ctx, name, ctx.consts[name].span)
    declarations(ctx)
    programs: dict[str, P.Program] = {}
    for name, p in ctx.program_asts.items():
        prog = check_program(ctx, p)
        if prog is not None:
            programs[name] = prog
    systems = check_systems(ctx, programs)
    if ctx.diags:
        raise SourceError(list(dict.fromkeys(ctx.diags)))
    return Unit(
        programs,
        {k: v for k, v in ctx.targets.items() if v},
        {k: v for k, v in ctx.cores.items() if v},
        whole_consts(ctx),
        tuple(sorted(dict.fromkeys(ctx.warnings), key=Diagnostic.sort_key)),
        systems,
    )
