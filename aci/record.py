"""Immutable records: the part of attrs that acic's compiler uses, at a fraction of
its cost when a command starts (importing attrs and creating a class with it cost
about a fifth of `acic compile`; docs/cli.md, "Start-up").

``@record.frozen`` (``order=True`` for ordering, ``kw_only=True`` for keyword-only
construction) makes a class (with no base class) whose annotated names are its
fields, in order, a ``ClassVar`` excepted: slots, an ``__init__`` taking them (a default from the class body or from
:func:`field`), comparison and hashing by the fields with ``eq`` (ordering by those
with ``order``), assignment refused, and a ``repr`` naming the fields with ``repr``.
:func:`evolve`, :func:`asdict`, :func:`fields` and :func:`has` behave as attrs'
functions of those names. ``frozen`` is typed as a dataclass transform, so mypy
checks every construction.
"""

from __future__ import annotations

from operator import attrgetter as _attrgetter
from typing import Any, Callable, TypeVar, dataclass_transform

_C = TypeVar("_C", bound=type)
_NOTHING: Any = type("NOTHING", (), {"__repr__": lambda self: "NOTHING"})()


class FrozenInstanceError(AttributeError):
    """An assignment to a field of a record."""


class Field:
    """One field of a record class (what :func:`fields` lists)."""

    __slots__ = ("name", "default", "factory", "eq", "order", "repr", "init")

    def __init__(self, name, default, factory, eq, order, repr, init):
        self.name, self.default, self.factory = name, default, factory
        self.eq, self.order, self.repr, self.init = eq, order, repr, init

    @property
    def alias(self) -> str:
        """The name of its ``__init__`` argument (attrs strips a leading underscore)."""
        return self.name.lstrip("_")


class _Spec:
    __slots__ = ("default", "factory", "eq", "order", "repr", "init")

    def __init__(self, default, factory, eq, order, repr, init):
        self.default, self.factory = default, factory
        self.eq, self.order, self.repr, self.init = eq, order, repr, init


def field(
    *,
    default: Any = _NOTHING,
    factory: Callable[[], Any] | None = None,
    eq: bool = True,
    order: bool | None = None,
    repr: bool | Callable[[Any], str] = True,
    init: bool = True,
) -> Any:
    """A field's options, as the value of its annotation in the class body."""
    return _Spec(default, factory, eq, eq if order is None else order, repr, init)


def _is_class_var(annotation: object) -> bool:
    text = str(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar", "t.ClassVar"))


def _make_init(cls_name: str, fs: tuple[Field, ...], kw_only: bool) -> Callable[..., None]:
    space: dict[str, Any] = {"_set": object.__setattr__, "NOTHING": _NOTHING}
    params, body = [], []
    for f in fs:
        if not f.init:
            if f.factory is not None:
                space[f"_factory_{f.name}"] = f.factory
                body.append(f"_set(self, {f.name!r}, _factory_{f.name}())")
            elif f.default is not _NOTHING:
                space[f"_default_{f.name}"] = f.default
                body.append(f"_set(self, {f.name!r}, _default_{f.name})")
            continue
        arg = f.alias
        if f.factory is not None:
            space[f"_factory_{f.name}"] = f.factory
            params.append(f"{arg}=NOTHING")
            body.append(
                f"_set(self, {f.name!r}, _factory_{f.name}() if {arg} is NOTHING else {arg})"
            )
        else:
            if f.default is not _NOTHING:
                space[f"_default_{f.name}"] = f.default
                params.append(f"{arg}=_default_{f.name}")
            else:
                params.append(arg)
            body.append(f"_set(self, {f.name!r}, {arg})")
    signature = ", ".join((["*"] if kw_only and params else []) + params)
    lines = "".join(f"\n    {b}" for b in body) or "\n    pass"
    exec(f"def __init__(self{', ' if signature else ''}{signature}):{lines}", space)
    init = space["__init__"]
    init.__qualname__ = f"{cls_name}.__init__"
    return init


class _Record:
    """The methods every record class shares; ``_eq_values`` and ``_order_values``
    give its compared fields as a tuple (set per class by :func:`frozen`)."""

    __slots__ = ()
    __record_fields__: tuple[Field, ...]
    _eq_values: Callable[[Any], tuple]
    _order_values: Callable[[Any], tuple]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._eq_values(self) == self._eq_values(other)

    def __ne__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._eq_values(self) != self._eq_values(other)

    def __hash__(self) -> int:
        return hash((self.__class__.__qualname__, self._eq_values(self)))

    def __repr__(self) -> str:
        parts = []
        for f in self.__record_fields__:
            if f.repr is False:
                continue
            value = getattr(self, f.name, _NOTHING)
            parts.append(f"{f.name}={f.repr(value) if callable(f.repr) else repr(value)}")
        name = self.__class__.__qualname__.rsplit(">.", 1)[-1]
        return f"{name}({', '.join(parts)})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r} of a record")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r} of a record")

    def __reduce__(self):  # copy and pickle, without __init__
        return _rebuild, (
            self.__class__,
            tuple(getattr(self, f.name, _NOTHING) for f in self.__record_fields__),
        )


def _rebuild(cls: Any, values: tuple) -> Any:
    obj = object.__new__(cls)
    for f, v in zip(cls.__record_fields__, values, strict=True):
        if v is not _NOTHING:
            object.__setattr__(obj, f.name, v)
    return obj


def _ordering(cls: type) -> None:
    def compare(op: str):
        def method(self, other):
            if other.__class__ is not self.__class__:
                return NotImplemented
            return getattr(self._order_values(self), op)(self._order_values(other))

        method.__name__ = op
        return method

    for op in ("__lt__", "__le__", "__gt__", "__ge__"):
        setattr(cls, op, compare(op))


def _getter(names: list[str]) -> Callable[[Any], tuple]:
    if not names:
        return lambda _: ()
    get = _attrgetter(*names)
    return get if len(names) > 1 else lambda obj: (get(obj),)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: _C | None = None, *, order: bool = False, kw_only: bool = False) -> Any:
    """The record class of ``cls`` (see the module's docstring)."""

    def make(cls: type) -> type:
        if cls.__bases__ != (object,):
            raise TypeError(f"record class {cls.__name__} has a base class")
        own: list[Field] = []
        body = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if _is_class_var(annotation):
                continue
            value = body.pop(name, _NOTHING)
            if isinstance(value, _Spec):
                f = Field(
                    name,
                    value.default,
                    value.factory,
                    value.eq,
                    value.order,
                    value.repr,
                    value.init,
                )
            else:
                f = Field(name, value, None, True, True, True, True)
            own.append(f)
        fs = tuple(own)
        if not kw_only:
            seen_default = False
            for f in fs:
                if not f.init:
                    continue
                if f.default is not _NOTHING or f.factory is not None:
                    seen_default = True
                elif seen_default:
                    raise ValueError(
                        f"{cls.__name__}: field {f.name!r} without a default follows one with a default"
                    )
        body["__slots__"] = tuple(f.name for f in fs)
        body["__record_fields__"] = fs
        body["__match_args__"] = () if kw_only else tuple(f.name for f in fs if f.init)
        body["_eq_values"] = staticmethod(_getter([f.name for f in fs if f.eq]))
        body["_order_values"] = staticmethod(_getter([f.name for f in fs if f.order]))
        body["__init__"] = _make_init(cls.__qualname__, fs, kw_only)
        new = type(cls.__name__, (_Record,), body)
        if order:
            _ordering(new)
        return new

    return make if cls is None else make(cls)


def has(cls: type) -> bool:
    return isinstance(cls, type) and issubclass(cls, _Record)


def fields(cls: type) -> tuple[Field, ...]:
    if not has(cls):
        raise TypeError(f"{cls!r} is not a record class")
    return cls.__record_fields__  # type: ignore[attr-defined]


_R = TypeVar("_R")


def evolve(inst: _R, **changes: Any) -> _R:
    """A copy of the record ``inst`` with the fields ``changes`` names replaced."""
    cls = inst.__class__
    for f in fields(cls):
        if f.init and f.alias not in changes:
            changes[f.alias] = getattr(inst, f.name)
    return cls(**changes)


_ATOMIC = frozenset(
    {type(None), bool, int, float, str, complex, bytes, type(...), type, range, property}
)


def asdict(inst: Any, recurse: bool = True, filter=None, value_serializer=None) -> dict:
    """attrs.asdict of a record (its dict_factory dict, collections as lists)."""
    out = {}
    for f in fields(inst.__class__):
        v = getattr(inst, f.name)
        if filter is not None and not filter(f, v):
            continue
        if value_serializer is not None:
            v = value_serializer(inst, f, v)
        if recurse:
            kind = type(v)
            if kind in _ATOMIC:
                pass
            elif has(kind):
                v = asdict(v, True, filter, value_serializer)
            elif issubclass(kind, (tuple, list, set, frozenset)):
                v = [_anything(i, False, filter, value_serializer) for i in v]
            elif issubclass(kind, dict):
                v = {
                    _anything(k, True, filter, value_serializer): _anything(
                        x, False, filter, value_serializer
                    )
                    for k, x in v.items()
                }
        out[f.name] = v
    return out


def _anything(v: Any, is_key: bool, filter, value_serializer) -> Any:
    kind = type(v)
    if kind in _ATOMIC:
        return v if value_serializer is None else value_serializer(None, None, v)
    if has(kind):
        return asdict(v, True, filter, value_serializer)
    if issubclass(kind, (tuple, list, set, frozenset)):
        items = [_anything(i, False, filter, value_serializer) for i in v]
        return tuple(items) if is_key else items
    if issubclass(kind, dict):
        return {
            _anything(k, True, filter, value_serializer): _anything(
                x, False, filter, value_serializer
            )
            for k, x in v.items()
        }
    return v if value_serializer is None else value_serializer(None, None, v)
