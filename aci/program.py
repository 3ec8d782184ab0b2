"""The checked program: what the checker produces and every later stage reads.

All names are resolved, all compile-time expressions evaluated, ``for`` expanded,
imports merged, every buffer and bitstream in its memory, every task's parameters and
the views its ports are bound to known (a buffer and an affine byte offset over loop
and repeat variables).
Addresses are stage 3's (aci.place): the checker gives only those the source fixes,
placement all of them. Slots may still be unassigned (``None``): the scheduler decides
those.
"""

from __future__ import annotations

import math
from typing import Union

import attrs

from . import ast
from .affine import Affine, Var
from .span import Span
from .timing import Timing

ELEMENT_BITS = {
    "bits": 1,
    "i8": 8,
    "u8": 8,
    "i16": 16,
    "u16": 16,
    "i32": 32,
    "u32": 32,
    "i64": 64,
    "u64": 64,
}
PARAM_TYPES = {
    "bool": (0, 1),
    "u8": (0, 2**8 - 1),
    "u16": (0, 2**16 - 1),
    "u32": (0, 2**32 - 1),
    "i8": (-(2**7), 2**7 - 1),
    "i16": (-(2**15), 2**15 - 1),
    "i32": (-(2**31), 2**31 - 1),
}
RESOURCES = ("lut", "ff", "bram", "dsp")


def tensor_bytes(elem: str, shape: tuple[int, ...]) -> int:
    """Bytes of a tensor; a ``bits`` tensor is rounded up to whole 64-bit words."""
    n = math.prod(shape)
    if elem == "bits":
        return (n + 63) // 64 * 8
    return n * ELEMENT_BITS[elem] // 8


def type_str(elem: str, shape: tuple[int, ...]) -> str:
    return elem + "".join(f"[{d}]" for d in shape)


@attrs.frozen
class Memory:
    name: str
    base: int
    size: int
    span: Span

    @property
    def end(self) -> int:
        return self.base + self.size


@attrs.frozen
class Target:
    name: str
    slots: int
    capacity: dict[str, int]
    memories: tuple[Memory, ...]
    timing: Timing
    span: Span

    def memory(self, name: str) -> Memory | None:
        return next((m for m in self.memories if m.name == name), None)


@attrs.frozen
class Param:
    name: str
    type: str
    lo: int
    hi: int
    values: frozenset[int] | None  # a set domain, else the range lo..hi
    span: Span

    def allows(self, v: int) -> bool:
        return self.lo <= v <= self.hi and (self.values is None or v in self.values)

    def domain_str(self) -> str:
        if self.values is not None:
            return "{" + ", ".join(map(str, sorted(self.values))) + "}"
        return f"{self.lo} .. {self.hi}"


@attrs.frozen
class Port:
    name: str
    direction: str  # "in" or "out"
    type: ast.PortType  # evaluated per task: its shape depends on the parameters
    span: Span


@attrs.frozen
class Core:
    name: str
    id: int
    bitstream_size: int
    bitstream_memory: str | None
    bitstream_address: int | None  # fixed address, if the source gives one
    resources: dict[str, int]
    params: tuple[Param, ...]
    ports: tuple[Port, ...]
    cycles: ast.Expr
    span: Span

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def port(self, name: str) -> Port | None:
        return next((p for p in self.ports if p.name == name), None)


@attrs.frozen
class Buffer:
    name: str
    role: str  # "input", "output", "scratch"
    elem: str
    shape: tuple[int, ...]
    memory: str  # the name of its memory
    address: int | None  # the source's fixed address, else None until placed (aci.place)
    init_file: str | None  # the file of `from "FILE"`, resolved
    span: Span
    fixed: bool = False  # placed by `at ADDR` in the source (the compiler may not move it)
    init: bytes | None = attrs.field(
        default=None, eq=False, repr=False
    )  # its bytes, as the board stores them

    @property
    def size(self) -> int:
        return tensor_bytes(self.elem, self.shape)

    @property
    def placed_at(self) -> int:
        """Its address in a placed program (stage 3, aci.place)."""
        assert self.address is not None, f"buffer `{self.name}` is not placed (aci.place)"
        return self.address


@attrs.frozen
class Bitstream:
    core: str
    memory: str  # the name of its memory
    address: int | None  # the source's fixed address, else None until placed (aci.place)
    size: int
    span: Span  # the core's `bitstream` item

    @property
    def placed_at(self) -> int:
        """Its address in a placed program (stage 3, aci.place)."""
        assert self.address is not None, f"the bitstream of `{self.core}` is not placed"
        return self.address


@attrs.frozen
class View:
    """What a port is bound to: ``length`` bytes of ``buffer`` starting at byte
    ``offset`` (affine) of it (``buf``, ``buf[i]``, ``buf[a .. b]``)."""

    buffer: Buffer
    offset: Affine
    length: int
    span: Span

    def address(self) -> Affine:
        return self.offset + Affine.of(self.buffer.placed_at)


@attrs.frozen
class Task:
    core: Core
    slot: int | None
    params: tuple[tuple[str, int], ...]  # in the core's parameter order
    ports: tuple[View, ...]  # in the core's port order
    port_types: tuple[tuple[str, tuple[int, ...]], ...]  # (elem, shape) per port
    cycles: int
    span: Span
    # Its dataflow WAIT records (slot, lag), set by the waits stage (aci.waits); None
    # until then, and aci.lower refuses to build a dataflow image from such a task.
    waits: tuple[tuple[int, int], ...] | None = None

    def reads(self):
        return [r for p, r in zip(self.core.ports, self.ports, strict=True) if p.direction == "in"]

    def writes(self):
        return [r for p, r in zip(self.core.ports, self.ports, strict=True) if p.direction == "out"]


@attrs.frozen
class Loop:
    var: Var
    body: tuple[Union["Loop", Task], ...]
    span: Span


@attrs.frozen
class Thread:
    slot: int | None
    body: tuple[Loop | Task, ...]
    span: Span


@attrs.frozen
class Parsec:
    threads: tuple[Thread, ...]
    span: Span


@attrs.frozen
class Reconfigure:
    slot: int
    core: Core
    span: Span


@attrs.frozen
class Window:
    reconfigure: tuple[Reconfigure, ...]
    parsecs: tuple[Parsec, ...]
    span: Span


@attrs.frozen
class Repeat:
    var: Var
    windows: tuple[Window, ...]
    span: Span


@attrs.frozen
class Program:
    name: str
    target: Target
    cores: tuple[Core, ...]  # the cores its tasks and requests use, by id
    buffers: tuple[Buffer, ...]  # every buffer of its unit, in declaration order
    # checked: every core's of its unit, in declaration order; placed: of ``cores`` only
    bitstreams: tuple[Bitstream, ...]
    body: tuple[Window | Repeat, ...]
    consts: dict[str, int]
    span: Span


@attrs.frozen
class SystemBoard:
    name: str
    target: str  # the target's name
    span: Span


@attrs.frozen
class SystemLink:
    a: str  # a board's name, or "host"
    b: str
    bits_per_s: int
    latency_ns: int
    span: Span


@attrs.frozen
class Stage:
    """``run PROGRAM on BOARDS``: batch k runs on ``boards[k % len(boards)]``."""

    program: str
    boards: tuple[str, ...]
    span: Span


@attrs.frozen
class Flow:
    """Bytes of a buffer that move each batch (or, for a constant input, once per board):
    ``send`` from the host to stage ``dst``, ``transfer`` from stage ``src`` to stage
    ``dst``, ``collect`` from stage ``src`` to the host (-1: the host)."""

    kind: str
    buffer: str
    src: int
    dst: int
    per_batch: bool


@attrs.frozen
class System:
    """A checked ``system``: its boards, links, stages in order and data flow."""

    name: str
    boards: tuple[SystemBoard, ...]
    links: tuple[SystemLink, ...]
    stages: tuple[Stage, ...]
    streams: tuple[str, ...]
    batches: int
    batch: int  # images per batch, for figures
    flows: tuple[Flow, ...]
    span: Span


def walk_tasks(node):
    """Every Task under a node, in program order (loops not unrolled)."""
    if isinstance(node, Task):
        yield node
        return
    for child in (
        node.body
        if isinstance(node, (Loop, Thread, Program))
        else node.threads
        if isinstance(node, Parsec)
        else node.parsecs
        if isinstance(node, Window)
        else node.windows
        if isinstance(node, Repeat)
        else ()
    ):
        yield from walk_tasks(child)


def operations(node) -> int:
    """The operations a node of a checked program runs: its tasks and RECONFs, with
    loops and repeats multiplied out (as the image's operation count)."""
    if isinstance(node, Task):
        return 1
    if isinstance(node, Loop):
        return node.var.count * sum(operations(b) for b in node.body)
    if isinstance(node, Window):
        return len(node.reconfigure) + sum(operations(t) for p in node.parsecs for t in p.threads)
    if isinstance(node, Thread):
        return sum(operations(b) for b in node.body)
    if isinstance(node, Repeat):
        return node.var.count * sum(operations(w) for w in node.windows)
    raise AssertionError(node)
