"""The abstract syntax tree of ``.aci`` files.

Frozen attrs classes, one per construct; every node carries the :class:`Span` of the
text it came from. The parser (:mod:`aci._parser`) builds them; the checker
(:mod:`aci.check`) reads them. Nothing here evaluates or checks anything.
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from .span import Span

node = attrs.frozen(kw_only=True)


@node
class Ident:
    name: str
    span: Span


# ---- expressions ---------------------------------------------------------------


@node
class Number:
    value: Fraction
    text: str
    span: Span


@node
class Quantity:
    """A number with a unit, such as ``2.5 MB`` or ``150 MHz``."""

    value: Fraction
    unit: str
    text: str
    span: Span


@node
class Bool:
    value: bool
    span: Span


@node
class Name:
    name: str
    span: Span


@node
class Index:
    base: "Expr"
    index: "Expr"
    span: Span


@node
class Slice:
    base: "Expr"
    lo: "Expr"
    hi: "Expr"
    span: Span


@node
class Unary:
    op: str  # "-" or "!"
    operand: "Expr"
    span: Span


@node
class Binary:
    op: str  # + - * / % == != < <= > >= && ||
    left: "Expr"
    right: "Expr"
    span: Span


@node
class Cond:
    cond: "Expr"
    then: "Expr"
    else_: "Expr"
    span: Span


@node
class Call:
    func: Ident
    args: tuple["Expr", ...]
    span: Span


Expr = Number | Quantity | Bool | Name | Index | Slice | Unary | Binary | Cond | Call


# ---- declarations -------------------------------------------------------------


@node
class Import:
    path: str
    span: Span


@node
class Const:
    name: Ident
    value: Expr
    span: Span


@node
class Resource:
    name: Ident
    value: Expr
    span: Span


@node
class TargetSlots:
    count: Expr
    capacity: tuple[Resource, ...] | None
    span: Span


@node
class TargetMemory:
    name: Ident
    base: Expr
    size: Expr
    span: Span


@node
class TargetField:
    name: Ident
    value: Expr
    span: Span


@node
class Target:
    name: Ident
    items: tuple[TargetSlots | TargetMemory | TargetField, ...]
    span: Span


@node
class TensorType:
    elem: Ident
    dims: tuple[Expr, ...]
    span: Span


@node
class PortType:
    """``tensor`` or, when ``cond`` is given, ``tensor if cond else otherwise``."""

    tensor: TensorType
    cond: Expr | None
    otherwise: "PortType | None"
    span: Span


@node
class DomainRange:
    lo: Expr
    hi: Expr  # inclusive: a parameter range names its largest allowed value
    span: Span


@node
class DomainSet:
    values: tuple[Expr, ...]
    span: Span


@node
class CoreId:
    value: Expr
    span: Span


@node
class CoreBitstream:
    size: Expr
    region: Ident | None
    address: Expr | None
    span: Span


@node
class CoreResources:
    items: tuple[Resource, ...]
    span: Span


@node
class CoreParam:
    name: Ident
    type: Ident
    domain: DomainRange | DomainSet | None
    span: Span


@node
class CorePort:
    direction: str  # "in" or "out"
    name: Ident
    type: PortType
    span: Span


@node
class CoreCycles:
    value: Expr
    span: Span


CoreItem = CoreId | CoreBitstream | CoreResources | CoreParam | CorePort | CoreCycles


@node
class Core:
    name: Ident
    items: tuple[CoreItem, ...]
    span: Span


@node
class Buffer:
    role: str  # "input", "output" or "scratch"
    name: Ident
    type: TensorType
    region: Ident | None
    address: Expr | None
    init_file: str | None
    init_span: Span | None
    span: Span


# ---- programs ---------------------------------------------------------------


@node
class Arg:
    name: Ident
    value: Expr
    span: Span


@node
class Task:
    core: Ident
    args: tuple[Arg, ...]
    slot: Expr | None
    span: Span


@node
class Reconfigure:
    slot: Expr
    core: Ident
    span: Span


@node
class Loop:
    var: Ident
    lo: Expr
    hi: Expr
    body: tuple["Stmt", ...]
    span: Span


@node
class Repeat:
    var: Ident
    lo: Expr
    hi: Expr
    body: tuple["Stmt", ...]
    span: Span


@node
class For:
    """Compile-time expansion: the body is written once per value of ``var``."""

    var: Ident
    lo: Expr
    hi: Expr
    body: tuple["Stmt", ...]
    span: Span


@node
class Thread:
    slot: Expr | None
    body: tuple["Stmt", ...]
    span: Span


@node
class Parsec:
    body: tuple["Stmt", ...]
    span: Span


@node
class Window:
    body: tuple["Stmt", ...]
    span: Span


Stmt = Window | Parsec | Thread | Loop | Repeat | For | Task | Reconfigure


@node
class Program:
    name: Ident
    target: Ident
    body: tuple[Stmt, ...]
    span: Span


@node
class SystemBoard:
    """``board NAME : TARGET`` (``word``: the item's first word, ``board`` when right)."""

    word: Ident
    name: Ident
    target: Ident
    span: Span


@node
class SystemLink:
    """``link A <-> B { rate R latency L }``: ends are board names or ``host``."""

    word: Ident
    a: Ident
    b: Ident
    fields: tuple[Resource, ...]
    span: Span


@node
class SystemRun:
    """``run PROGRAM on BOARD, ...``: a stage of the system."""

    word: Ident
    program: Ident
    boards: tuple[Ident, ...]
    span: Span


@node
class SystemField:
    """``batches N``, ``batch N``, ``stream BUFFER, ...``: a name and its values."""

    name: Ident
    values: tuple[Expr, ...]
    span: Span


@node
class System:
    name: Ident
    items: tuple[SystemBoard | SystemLink | SystemRun | SystemField, ...]
    span: Span


Decl = Import | Target | Core | Const | Buffer | Program | System


@node
class Module:
    """One parsed file."""

    path: str
    decls: tuple[Decl, ...]
