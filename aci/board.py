"""The simulated board: its memory, buffers by name and the SYNC words.

``Board.for_image(image)`` builds the memory of a decoded, validated
:class:`aci.image.Image`. Memory starts zeroed but for the image's INIT chunks (the
contents of buffers declared `from "FILE"`), written when the board accepts the image. It is not allocated memory by memory
(the zcu102 declares 2 GiB of DDR): only the **extents** an image can touch are
backed by ``uint8`` arrays, made on first access — every buffer of SYMBOLS, every bitstream of CORES and
every task port over all its loop and repeat iterations — merged when they lie in
the same memory and close together. Every access must lie inside one extent;
extents lie inside the memory map, so nothing outside a declared memory is ever read
or written.

Buffers are read and written by name (SYMBOLS): ``load``/``load_file`` take a numpy
array (the buffer's element type and shape; a ``bits`` buffer as its 1-D ``uint64``
words) or raw little-endian bytes of exactly the buffer's size (any file not named
``*.npy``); ``array``/``save`` give them back the same way.

Raises :class:`DataError` (an :class:`aci.diagnostics.AciError`: the user's input is
wrong — unknown buffer, wrong dtype, shape or size, unreadable file) and
:class:`aci._io.OutputError` when a file cannot be written. :class:`BoardFault` is a
broken invariant — an access outside the extents, which the validator and the
engine exclude — and so a bug, never the user's error.
"""

from __future__ import annotations

import bisect
import io
import os
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from . import format as F
from ._io import write_atomic
from .buffers import (
    DataError,
    buffer_bytes,
    expected_array,  # noqa: F401 (aci.board's API)
    read_buffer_file,
)
from .image import BufferSymbol, Image, Loop, Repeat, Symbols, TargetInfo, Task, Window

# Touched intervals of one memory closer than this share one array: fewer,
# larger extents make lookups cheap, and the gap costs at most this many bytes.
MERGE_GAP = 1 << 16


class BoardFault(RuntimeError):
    """A broken invariant of the simulated board (a bug in acic, not a user error)."""


def _port_spans(nodes, counts: tuple[int, ...]) -> Iterator[tuple[int, int]]:
    """(lo, hi) of every task port over all iterations of its enclosing levels."""
    for n in nodes:
        if isinstance(n, Task):
            for p in n.ports:
                lo = p.address + sum(
                    min(0, s * (c - 1)) for s, c in zip(p.strides, counts, strict=True)
                )
                hi = (
                    p.address
                    + sum(max(0, s * (c - 1)) for s, c in zip(p.strides, counts, strict=True))
                    + p.length
                )
                yield lo, hi
        elif isinstance(n, Loop):
            yield from _port_spans(n.body, counts + (n.count,))
        elif isinstance(n, Repeat):
            yield from _port_spans(n.windows, counts + (n.count,))
        elif isinstance(n, Window):
            for parsec in n.parsecs:
                for th in parsec.threads:
                    yield from _port_spans(th.body, counts)


def touched(img: Image) -> list[tuple[int, int]]:
    """Every byte interval an image's buffers, bitstreams, initial data and task ports cover."""
    spans = [(c.bitstream_addr, c.bitstream_addr + c.bitstream_size) for c in img.cores]
    spans += [(c.address, c.address + len(c.data)) for c in img.init]
    if img.symbols is not None:
        spans += [(b.address, b.address + b.size) for b in img.symbols.buffers]
    spans += _port_spans(img.body, ())
    return spans


class Board:
    """Memory extents, named buffers and SYNC words of one simulated board."""

    def __init__(
        self, target: TargetInfo, spans: Iterable[tuple[int, int]], symbols: Symbols | None = None
    ):
        self.target = target
        self.symbols = symbols
        self.sync = {f.name: 0 for f in F.SYNC.fields}
        merged: list[list[int]] = []  # [lo, hi, memory index]
        for lo, hi, m in sorted((lo, hi, self._memory_of(lo, hi)) for lo, hi in spans if hi > lo):
            if merged and merged[-1][2] == m and lo <= merged[-1][1] + MERGE_GAP:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi, m])
        self._starts = [lo for lo, _, _ in merged]
        # Arrays are made on first access: a timing-only run touches no memory.
        self._extents: list[list] = [[lo, hi, None] for lo, hi, _ in merged]

    @classmethod
    def for_image(cls, img: Image) -> Board:
        """The board as it is when it accepts ``img``: its INIT chunks written, the
        rest of memory zero (docs/machine.md)."""
        board = cls(img.target, touched(img), img.symbols)
        for c in img.init:
            board.write(c.address, c.data)
        return board

    def _memory_of(self, lo: int, hi: int) -> int:
        for k, m in enumerate(self.target.memories):
            if m.base <= lo and hi <= m.base + m.size:
                return k
        raise BoardFault(f"bytes 0x{lo:x} .. 0x{hi:x} lie in no memory of the target")

    @property
    def allocated(self) -> int:
        """Bytes of host memory backing the board's memory so far."""
        return sum(hi - lo for lo, hi, data in self._extents if data is not None)

    @property
    def extents(self) -> list[tuple[int, int]]:
        """The (lo, hi) byte ranges the board can hold."""
        return [(lo, hi) for lo, hi, _ in self._extents]

    # ---- raw memory ----------------------------------------------------------

    def _extent(self, lo: int, hi: int) -> tuple[int, np.ndarray]:
        k = bisect.bisect_right(self._starts, lo) - 1
        if k >= 0:
            extent = self._extents[k]
            base, end, data = extent
            if hi <= end:
                if data is None:
                    data = extent[2] = np.zeros(end - base, np.uint8)
                return base, data
        raise BoardFault(f"access to 0x{lo:x} .. 0x{hi:x} outside the memory the image declares")

    def view(self, address: int, length: int) -> np.ndarray:
        """The ``length`` bytes at ``address`` as a writable uint8 view."""
        base, data = self._extent(address, address + length)
        return data[address - base : address - base + length]

    def rows(self, address: int, stride: int, count: int, length: int) -> np.ndarray:
        """``count`` rows of ``length`` bytes, row i at ``address + i * stride``, as a
        (count, length) view (rows may overlap when |stride| < length)."""
        lo = address + min(0, stride * (count - 1))
        hi = address + max(0, stride * (count - 1)) + length
        base, data = self._extent(lo, hi)
        first = data[lo - base :]
        view = np.lib.stride_tricks.as_strided(
            first, shape=(count, length), strides=(abs(stride), 1)
        )
        return view[::-1] if stride < 0 else view

    def read(self, address: int, length: int) -> bytes:
        return self.view(address, length).tobytes()

    def write(self, address: int, data) -> None:
        raw = np.frombuffer(bytes(data), np.uint8) if not isinstance(data, np.ndarray) else data
        self.view(address, raw.size)[:] = raw.reshape(-1)

    # ---- buffers ----------------------------------------------------------------

    def buffer(self, name: str) -> BufferSymbol:
        """The buffer called ``name``; DataError when the image has none."""
        if self.symbols is None:
            raise DataError(
                f"buffer `{name}`: the image has no SYMBOLS section (it was stripped)", name
            )
        for b in self.symbols.buffers:
            if b.name == name:
                return b
        names = ", ".join(b.name for b in self.symbols.buffers) or "none"
        raise DataError(f"no buffer `{name}` in the image (buffers: {names})", name)

    def load(self, name: str, value) -> None:
        """Write a buffer from an array (its dtype and shape) or from raw bytes (its size)."""
        b = self.buffer(name)
        self.view(b.address, b.size)[:] = np.frombuffer(buffer_bytes(b, value), np.uint8)

    def load_file(self, name: str, path: str) -> None:
        """Write a buffer from a ``.npy`` file or a raw file of exactly its size."""
        b = self.buffer(name)
        self.view(b.address, b.size)[:] = np.frombuffer(
            read_buffer_file(path, name, b.elem, b.shape), np.uint8
        )

    def array(self, name: str) -> np.ndarray:
        """A copy of a buffer in its dtype and shape (bits: its 64-bit words)."""
        b = self.buffer(name)
        dtype, shape = expected_array(b)
        return self.view(b.address, b.size).copy().view(dtype).reshape(shape)

    def save(self, name: str, path: str) -> None:
        """Write a buffer to ``path``: ``.npy`` (dtype and shape) or raw bytes, atomically."""
        if path.endswith(".npy"):
            out = io.BytesIO()
            np.save(out, self.array(name), allow_pickle=False)
            write_atomic(path, out.getvalue())
        else:
            b = self.buffer(name)
            write_atomic(path, self.read(b.address, b.size))

    # ---- SYNC ---------------------------------------------------------------

    def sync_bytes(self) -> bytes:
        """The SYNC section as the board leaves it."""
        return F.SYNC.pack(**self.sync)


def load_inputs(board: Board, inputs: Mapping | None, outputs: Iterable[str]) -> None:
    """Check that every output names a buffer, then load every input (by name:
    an array, raw bytes or an os.PathLike of a .npy or raw file)."""
    for name in outputs:
        board.buffer(name)
    for name, value in (inputs or {}).items():
        if isinstance(value, os.PathLike):
            board.load_file(name, os.fspath(value))
        else:
            board.load(name, value)
