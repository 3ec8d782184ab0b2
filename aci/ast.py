"""The abstract syntax tree of ``.aci`` files.

Immutable records, one class per construct; every node carries the :class:`Span` of
the text it came from. The parser (:mod:`aci._parser`) builds them; the checker
(:mod:`aci.check`) reads them. Nothing here evaluates or checks anything.

A node class is declared with :func:`node`: its annotated names are its fields, given
by keyword (``Ident(name="x", span=s)``). A node compares and hashes by the values of
its fields, refuses assignment, and has a ``repr`` that names them; :func:`fields`
lists a node's fields in order. ``node`` is typed as a dataclass transform, so mypy
checks every construction; at run time it costs a few microseconds a class (the
command line defines these classes at every start, docs/cli.md).
"""

from __future__ import annotations

from fractions import Fraction
from operator import attrgetter
from typing import Any, Callable, TypeVar, dataclass_transform

from .span import Span

_C = TypeVar("_C", bound=type)
_INITS: dict[tuple[str, ...], Callable[..., None]] = {}


def _init(names: tuple[str, ...]) -> Callable[..., None]:
    """``__init__(self, *, a, b, ...)`` storing each field (one per tuple of names)."""
    if names not in _INITS:
        stores = "".join(f"\n    _set(self, {n!r}, {n})" for n in names)
        space: dict[str, Any] = {"_set": object.__setattr__}
        exec(f"def __init__(self, *, {', '.join(names)}):{stores}", space)
        _INITS[names] = space["__init__"]
    return _INITS[names]


class _Node:
    """What every node class shares (its own ``_fields`` and ``_values`` are set by
    :func:`node`)."""

    __slots__ = ()
    _fields: tuple[str, ...]
    _values: Callable[[Any], tuple]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values(self) == self._values(other)

    def __ne__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values(self) != self._values(other)

    def __hash__(self) -> int:
        return hash((self.__class__.__name__, self._values(self)))

    def __repr__(self) -> str:
        items = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{self.__class__.__name__}({items})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{self.__class__.__name__} is immutable: cannot set `{name}`")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self.__class__.__name__} is immutable: cannot delete `{name}`")

    def __reduce__(self):  # copy and pickle: rebuilt through __init__
        return _rebuild, (self.__class__, self._values(self))


def _rebuild(cls: Any, values: tuple) -> Any:
    return cls(**dict(zip(cls._fields, values, strict=True)))


@dataclass_transform(kw_only_default=True, frozen_default=True, eq_default=True)
def node(cls: _C) -> _C:
    """The node class of ``cls``: its annotated names become slots, set by a
    keyword-only ``__init__`` (attrs and dataclasses generate many methods per class,
    tens of times the cost)."""
    names = tuple(cls.__dict__.get("__annotations__", {}))
    if not names:
        raise TypeError(f"node class {cls.__name__} declares no fields")
    body = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    body["__slots__"] = names
    body["_fields"] = names
    get = attrgetter(*names)  # the field values as a tuple (of one name: the bare value)
    body["_values"] = staticmethod(get if len(names) > 1 else lambda n: (get(n),))
    body["__init__"] = _init(names)
    return type(cls.__name__, (_Node,), body)  # type: ignore[return-value]


def fields(n: object) -> tuple[str, ...]:
    """The field names of a node, in declaration order; () for anything else."""
    return n._fields if isinstance(n, _Node) else ()


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
    memory: Ident | None
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
    memory: Ident | None
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
