"""The state the checker's parts share, passed to each of them explicitly.

:class:`Context` is a compilation unit's: its declarations by name (collected by
:mod:`aci.check.declarations`), its consts' values and ``-D`` overrides, the checked
targets, cores and buffer types, the diagnostics found so far and the count of
elaborated statements. :class:`Scope` is one program's, inside a unit: its target,
its buffers, the cores it uses. Every part of the checker is a set of functions that
take one of them as first argument; nothing else is shared, and nothing is global.
"""

from __future__ import annotations

import itertools
from typing import Iterator

from .. import ast, record
from .. import program as P
from ..diagnostics import Diagnostic, Note, error, warning
from ..parse import Loaded
from ..span import Span
from .values import Value


@record.frozen
class Unit:
    """Everything a compilation unit declares, checked."""

    programs: dict[str, P.Program]
    targets: dict[str, P.Target]
    cores: dict[str, P.Core]
    consts: dict[str, int]
    warnings: tuple[Diagnostic, ...] = ()  # W codes, sorted by position
    systems: dict[str, P.System] = record.field(factory=dict)  # aci.check.systems


class Context:
    """One compilation unit being checked."""

    def __init__(self, loaded: Loaded, defines: dict[str, str]):
        self.loaded = loaded
        self.defines = defines
        self.diags: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.statements = 0  # elaborated so far (aci.check.hierarchy.MAX_STATEMENTS)
        # declarations by name, as collected
        self.consts: dict[str, ast.Const] = {}
        self.buffers: dict[str, ast.Buffer] = {}
        self.core_asts: dict[str, ast.Core] = {}
        self.target_asts: dict[str, ast.Target] = {}
        self.program_asts: dict[str, ast.Program] = {}
        self.system_asts: dict[str, ast.System] = {}
        # constant evaluation
        self.const_values: dict[str, Value] = {}
        self.const_busy: set[str] = set()
        self.overrides: dict[str, Value] = {}
        # checked declarations (None: its errors are reported)
        self.cores: dict[str, P.Core | None] = {}
        self.targets: dict[str, P.Target | None] = {}
        self.buffer_types: dict[str, tuple[str, tuple[int, ...]] | None] = {}
        self.var_uid: Iterator[int] = itertools.count()  # loop and repeat variables

    def err(self, code: str, message: str, span: Span | None, *notes: Note) -> None:
        self.diags.append(error(code, message, span, *notes))

    def warn(self, code: str, message: str, span: Span | None, *notes: Note) -> None:
        self.warnings.append(warning(code, message, span, *notes))


class Scope:
    """One program of a unit being elaborated: its target, its buffers (placed), the
    cores its tasks and reconfigurations use."""

    def __init__(self, ctx: Context, program: ast.Program, target: P.Target):
        self.ctx = ctx
        self.program = program
        self.target = target
        self.buffers: dict[str, P.Buffer] = {}
        self.fit_checked: set[str] = set()  # cores whose resources were compared (E030)
        self.used_cores: dict[str, P.Core] = {}

    def err(self, code: str, message: str, span: Span | None, *notes: Note) -> None:
        self.ctx.err(code, message, span, *notes)
