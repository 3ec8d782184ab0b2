"""Placement: every buffer and core bitstream of a unit at an address in one of the
program's target's memories.

Fixed addresses (``at ADDR``) first, checked against their memory (E070), each
other (E071) and alignment to 8 bytes (E072); then first fit in declaration order,
aligned to BUFFER_ALIGN (E070 when nothing fits). A buffer declared ``from "FILE"``
gets the file's bytes (E073). A memory a declaration names must be one of the
target's (E010).
"""

from __future__ import annotations

from pathlib import Path

from .. import ast
from .. import program as P
from ..diagnostics import Note
from ..span import Span
from .consts import want_int
from .context import Scope

BUFFER_ALIGN = 64  # placement aligns buffers to a cache line (fixed addresses need 8)


def place(sc: Scope) -> list[P.Bitstream]:
    """Fixed addresses first, then first fit in declaration order."""
    items = []  # (name, kind, region Memory, size, fixed address or None, span, decl)
    for b in sc.ctx.buffers.values():
        elem_shape = sc.ctx.buffer_types[b.name.name]
        if elem_shape is None:
            continue
        region = _region(sc, b.region, f"buffer `{b.name.name}`")
        if region is None:
            continue
        addr = (
            want_int(sc.ctx, b.address, {}, "a buffer address") if b.address is not None else None
        )
        items.append(
            (
                b.name.name,
                "buffer",
                region,
                P.tensor_bytes(*elem_shape),
                addr,
                b.span,
                (b, elem_shape),
            )
        )
    for core in sc.ctx.cores.values():
        if core is None:
            continue
        decl = sc.ctx.core_asts[core.name]
        bs = next(i for i in decl.items if isinstance(i, ast.CoreBitstream))
        region = _region(sc, bs.region, f"the bitstream of `{core.name}`")
        if region is None:
            continue
        items.append(
            (
                core.name,
                "bitstream",
                region,
                core.bitstream_size,
                core.bitstream_address,
                bs.span,
                core,
            )
        )
    placed: list[tuple[int, int, str, Span]] = []  # (start, end, what, span)
    addresses: dict[tuple[str, str], tuple[int, str]] = {}
    for name, kind, region, size, addr, span, _ in items:
        what = f"buffer `{name}`" if kind == "buffer" else f"the bitstream of `{name}`"
        if addr is None:
            continue
        if addr % 8:
            sc.err("E072", f"{what} is at 0x{addr:x}, not a multiple of 8", span)
            continue
        if addr < region.base or addr + size > region.end:
            sc.err(
                "E070",
                f"{what} ({size} bytes at 0x{addr:x}) lies outside memory `{region.name}` "
                f"(0x{region.base:x} .. 0x{region.end:x})",
                span,
                Note(f"`{region.name}` is declared here", region.span),
            )
            continue
        for s, e, w, sp in placed:
            if addr < e and s < addr + size:
                lo, hi = max(s, addr), min(e, addr + size)
                sc.err(
                    "E071",
                    f"{what} overlaps {w}: bytes 0x{lo:x} .. 0x{hi - 1:x} ({hi - lo} bytes)",
                    span,
                    Note(f"{w} is placed here", sp),
                )
                break
        placed.append((addr, addr + size, what, span))
        addresses[(kind, name)] = (addr, region.name)
    for name, kind, region, size, addr, span, _ in items:
        if addr is not None:
            continue
        what = f"buffer `{name}`" if kind == "buffer" else f"the bitstream of `{name}`"
        a = _first_fit(region, size, placed)
        if a is None:
            used = sum(
                min(e, region.end) - max(s, region.base)
                for s, e, _, _ in placed
                if s < region.end and e > region.base
            )
            sc.err(
                "E070",
                f"{what} ({size} bytes) does not fit in memory `{region.name}` "
                f"({region.size} bytes, {used} already used)",
                span,
                Note(f"`{region.name}` is declared here", region.span),
            )
            continue
        placed.append((a, a + size, what, span))
        addresses[(kind, name)] = (a, region.name)
    bitstreams = []
    for name, kind, _, size, addr, _, decl in items:
        if (kind, name) not in addresses:
            continue
        a, rname = addresses[(kind, name)]
        if kind == "buffer":
            b, (elem, shape) = decl
            init = _init_file(sc, b, elem, shape)
            sc.buffers[name] = P.Buffer(
                name,
                b.role,
                elem,
                shape,
                rname,
                a,
                init and init[0],
                b.span,
                addr is not None,
                init and init[1],
            )
        else:
            bitstreams.append(P.Bitstream(name, rname, a, size))
    return bitstreams


def _region(sc: Scope, ident: ast.Ident | None, what: str) -> P.Memory | None:
    if ident is None:
        return sc.target.memories[0]
    m = sc.target.memory(ident.name)
    if m is None:
        known = ", ".join(x.name for x in sc.target.memories)
        sc.err(
            "E010",
            f"target `{sc.target.name}` has no memory `{ident.name}` for {what} (memories: {known})",
            ident.span,
        )
    return m


def _first_fit(region: P.Memory, size: int, placed) -> int | None:
    a = -(-region.base // BUFFER_ALIGN) * BUFFER_ALIGN
    for s, e, _, _ in sorted(placed):
        if a + size <= s:
            break
        if e > a:
            a = -(-e // BUFFER_ALIGN) * BUFFER_ALIGN
    return a if a + size <= region.end else None


def _init_file(
    sc: Scope, b: ast.Buffer, elem: str, shape: tuple[int, ...]
) -> tuple[str, bytes] | None:
    """The resolved path and the bytes of `from "FILE"`: a .npy array of the
    buffer's element type and shape, or raw bytes of its size (as ``--set``)."""
    if b.init_file is None:
        return None
    path = Path(b.span.file).resolve().parent / b.init_file
    if path.is_dir():
        sc.err("E073", f"cannot read `{b.init_file}`: it is a directory", b.init_span)
        return None
    from ..buffers import DataError, read_buffer_file  # numpy, only for programs that need it

    try:
        return str(path), read_buffer_file(str(path), b.name.name, elem, shape)
    except DataError as e:
        sc.err("E073", f"`{b.init_file}`: {e.reason}", b.init_span)
        return None
