"""The instruction-level program: exactly what an ACI image holds, as values.

The encoder turns an :class:`Image` into bytes and the decoder turns bytes back into
an equal :class:`Image` (round trips reach a fixed point). Decoded instructions also
carry ``offset``, their position in the image (the ``pc`` of traces); it takes no
part in equality.
"""

from __future__ import annotations

from typing import Union

from . import record
from .timing import Timing


@record.frozen
class MemoryInfo:
    name: str
    base: int
    size: int


@record.frozen
class TargetInfo:
    slots: int
    timing: Timing
    memories: tuple[MemoryInfo, ...]


@record.frozen
class CoreInfo:
    id: int
    name: str
    port_dirs: tuple[str, ...]  # "in" / "out" per port
    param_words: int
    bitstream_size: int
    bitstream_addr: int
    resources: tuple[int, int, int, int] = (0, 0, 0, 0)  # lut, ff, bram, dsp


@record.frozen
class Port:
    address: int
    length: int
    strides: tuple[int, ...]  # outermost counted level first


@record.frozen
class Wait:
    slot: int
    lag: int


@record.frozen
class Source:
    file: int  # index into Symbols.files
    line: int


@record.frozen
class Task:
    slot: int
    core: int
    ports: tuple[Port, ...]
    param_offset: int  # first word in PARAM
    param_words: int
    cycles: int
    waits: tuple[Wait, ...] = ()
    source: Source | None = None
    offset: int = record.field(default=-1, eq=False)


@record.frozen
class Reconf:
    slot: int
    core: int
    source: Source | None = None
    offset: int = record.field(default=-1, eq=False)


@record.frozen
class Loop:
    count: int
    body: tuple[Union["Loop", Task], ...]
    source: Source | None = None
    offset: int = record.field(default=-1, eq=False)


@record.frozen
class Thread:
    body: tuple[Loop | Task, ...]
    source: Source | None = None
    offset: int = record.field(default=-1, eq=False)


@record.frozen
class Parsec:
    threads: tuple[Thread, ...]
    source: Source | None = None
    offset: int = record.field(default=-1, eq=False)


@record.frozen
class Window:
    reconfs: tuple[Reconf, ...]
    parsecs: tuple[Parsec, ...]
    source: Source | None = None
    offset: int = record.field(default=-1, eq=False)


@record.frozen
class Repeat:
    count: int
    windows: tuple[Window, ...]
    source: Source | None = None
    offset: int = record.field(default=-1, eq=False)


@record.frozen
class BufferSymbol:
    name: str
    elem: str
    role: str
    shape: tuple[int, ...]
    memory: int
    address: int
    size: int


@record.frozen
class Symbols:
    buffers: tuple[BufferSymbol, ...] = ()
    files: tuple[str, ...] = ()


@record.frozen
class InitChunk:
    """Initial bytes of board memory at ``address`` (the INIT section)."""

    address: int
    data: bytes = record.field(repr=lambda d: f"<{len(d)} bytes>")


@record.frozen
class Image:
    target: TargetInfo
    cores: tuple[CoreInfo, ...]
    params: tuple[int, ...]  # the PARAM section's words
    body: tuple[Window | Repeat, ...]
    dataflow: bool = False
    symbols: Symbols | None = None
    sync: bytes = record.field(default=b"", eq=False)  # as decoded; encoded as zeros
    init: tuple[InitChunk, ...] = ()  # increasing addresses, none overlapping

    def core(self, ident: int) -> CoreInfo:
        return next(c for c in self.cores if c.id == ident)

    def buffer(self, name: str) -> BufferSymbol | None:
        if self.symbols is None:
            return None
        return next((b for b in self.symbols.buffers if b.name == name), None)


def as_json(img: Image) -> dict:
    """Every section of an image as JSON values (``acic dump``): bytes as hex."""
    return record.asdict(
        img,
        filter=lambda a, v: a.name not in ("sync",),
        value_serializer=lambda _, a, v: v.hex() if isinstance(v, bytes) else v,
    )


def children(node) -> tuple:
    """The instructions directly inside a container, in order."""
    if isinstance(node, Repeat):
        return node.windows
    if isinstance(node, Window):
        return node.reconfs + node.parsecs
    if isinstance(node, Parsec):
        return node.threads
    if isinstance(node, (Thread, Loop)):
        return node.body
    return ()


def opcode_name(node) -> str:
    return type(node).__name__.upper()
