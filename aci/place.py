"""Stage 3, place: a checked program's buffers and bitstreams at addresses.

``place(program)`` takes a program as the checker gives it -- every buffer and every
core's bitstream of its unit, in declaration order, each in its memory of the target
and with the address the source fixes (``at ADDR``) or none -- and returns the same
program with every buffer and bitstream at an address (``Buffer.address``,
``Bitstream.address``), every task's port views pointing at the placed buffers, and
only the bitstreams of the cores it uses. It raises :class:`SourceError` with every
placement error (sorted by position): E070 (outside its memory, or no room left in
it), E071 (two fixed places overlap), E072 (a fixed address that is not a multiple
of 8).

Fixed addresses first, in declaration order, then first fit in declaration order,
each aligned to BUFFER_ALIGN: buffers before bitstreams, and the bitstreams of
cores the program does not use take their room too, so that one unit's programs
agree on the addresses of what they share.
"""

from __future__ import annotations

from . import program as P
from . import record
from .diagnostics import Diagnostic, Note, SourceError, error
from .span import Span

BUFFER_ALIGN = 64  # placement aligns buffers to a cache line (fixed addresses need 8)


@record.frozen
class _Item:
    """A buffer or a bitstream to place."""

    what: str  # as diagnostics name it
    key: tuple[str, str]  # (kind, name)
    memory: P.Memory
    size: int
    fixed: int | None
    span: Span


def place(program: P.Program) -> P.Program:
    target = program.target
    items = [
        _Item(
            f"buffer `{b.name}`",
            ("buffer", b.name),
            _memory(target, b.memory),
            b.size,
            b.address,
            b.span,
        )
        for b in program.buffers
    ] + [
        _Item(
            f"the bitstream of `{s.core}`",
            ("bitstream", s.core),
            _memory(target, s.memory),
            s.size,
            s.address,
            s.span,
        )
        for s in program.bitstreams
    ]
    diags: list[Diagnostic] = []
    placed: list[tuple[int, int, str, Span]] = []  # (start, end, what, span)
    addresses: dict[tuple[str, str], int] = {}
    for it in items:
        addr = it.fixed
        if addr is None:
            continue
        m = it.memory
        if addr % 8:
            diags.append(error("E072", f"{it.what} is at 0x{addr:x}, not a multiple of 8", it.span))
            continue
        if addr < m.base or addr + it.size > m.end:
            diags.append(
                error(
                    "E070",
                    f"{it.what} ({it.size} bytes at 0x{addr:x}) lies outside memory `{m.name}` "
                    f"(0x{m.base:x} .. 0x{m.end:x})",
                    it.span,
                    Note(f"`{m.name}` is declared here", m.span),
                )
            )
            continue
        for s, e, w, sp in placed:
            if addr < e and s < addr + it.size:
                lo, hi = max(s, addr), min(e, addr + it.size)
                diags.append(
                    error(
                        "E071",
                        f"{it.what} overlaps {w}: bytes 0x{lo:x} .. 0x{hi - 1:x} ({hi - lo} bytes)",
                        it.span,
                        Note(f"{w} is placed here", sp),
                    )
                )
                break
        placed.append((addr, addr + it.size, it.what, it.span))
        addresses[it.key] = addr
    for it in items:
        if it.fixed is not None:
            continue
        m = it.memory
        a = first_fit(m, it.size, placed)
        if a is None:
            used = sum(
                min(e, m.end) - max(s, m.base) for s, e, _, _ in placed if s < m.end and e > m.base
            )
            diags.append(
                error(
                    "E070",
                    f"{it.what} ({it.size} bytes) does not fit in memory `{m.name}` "
                    f"({m.size} bytes, {used} already used)",
                    it.span,
                    Note(f"`{m.name}` is declared here", m.span),
                )
            )
            continue
        placed.append((a, a + it.size, it.what, it.span))
        addresses[it.key] = a
    if diags:
        raise SourceError(list(dict.fromkeys(diags)))
    buffers = {
        b.name: record.evolve(b, address=addresses[("buffer", b.name)]) for b in program.buffers
    }
    cores = {c.name for c in program.cores}
    bitstreams = tuple(
        record.evolve(s, address=addresses[("bitstream", s.core)])
        for s in program.bitstreams
        if s.core in cores
    )
    return record.evolve(
        program,
        buffers=tuple(buffers.values()),
        bitstreams=bitstreams,
        body=tuple(_rebind(n, buffers) for n in program.body),
    )


def first_fit(memory: P.Memory, size: int, placed) -> int | None:
    """The lowest address aligned to BUFFER_ALIGN where ``size`` bytes fit in
    ``memory`` between the ``placed`` (start, end, ...) intervals, or None."""
    a = -(-memory.base // BUFFER_ALIGN) * BUFFER_ALIGN
    for s, e, *_ in sorted(placed):
        if a + size <= s:
            break
        if e > a:
            a = -(-e // BUFFER_ALIGN) * BUFFER_ALIGN
    return a if a + size <= memory.end else None


def _memory(target: P.Target, name: str) -> P.Memory:
    m = target.memory(name)
    assert m is not None, name  # the checker resolved it (E010)
    return m


def _rebind(node, buffers: dict[str, P.Buffer]):
    """The node with every port's view pointing at its placed buffer."""
    if isinstance(node, P.Repeat):
        return record.evolve(node, windows=tuple(_rebind(w, buffers) for w in node.windows))
    if isinstance(node, P.Window):
        return record.evolve(node, parsecs=tuple(_rebind(p, buffers) for p in node.parsecs))
    if isinstance(node, P.Parsec):
        return record.evolve(node, threads=tuple(_rebind(t, buffers) for t in node.threads))
    if isinstance(node, (P.Thread, P.Loop)):
        return record.evolve(node, body=tuple(_rebind(b, buffers) for b in node.body))
    return record.evolve(
        node, ports=tuple(record.evolve(r, buffer=buffers[r.buffer.name]) for r in node.ports)
    )
