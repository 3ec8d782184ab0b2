"""Memory: the memory of the target each buffer and each core's bitstream of a unit
lies in (E010 for a memory the target lacks), the address the source fixes for it
(``at ADDR``), and a buffer's initial bytes (``from "FILE"``, E073).

The addresses themselves are stage 3's (:mod:`aci.place`): the checked program
carries every buffer and bitstream of its unit, in declaration order, with the
fixed address or None.
"""

from __future__ import annotations

from pathlib import Path

from .. import ast
from .. import program as P
from .consts import want_int
from .context import Scope


def memories(sc: Scope) -> list[P.Bitstream]:
    """Every buffer of the unit into ``sc.buffers``; every core's bitstream, returned."""
    for b in sc.ctx.buffers.values():
        elem_shape = sc.ctx.buffer_types[b.name.name]
        if elem_shape is None:
            continue
        memory = _memory(sc, b.memory, f"buffer `{b.name.name}`")
        if memory is None:
            continue
        addr = (
            want_int(sc.ctx, b.address, {}, "a buffer address") if b.address is not None else None
        )
        elem, shape = elem_shape
        init = _init_file(sc, b, elem, shape)
        sc.buffers[b.name.name] = P.Buffer(
            b.name.name,
            b.role,
            elem,
            shape,
            memory.name,
            addr,
            init and init[0],
            b.span,
            addr is not None,
            init and init[1],
        )
    bitstreams = []
    for core in sc.ctx.cores.values():
        if core is None:
            continue
        decl = sc.ctx.core_asts[core.name]
        bs = next(i for i in decl.items if isinstance(i, ast.CoreBitstream))
        memory = _memory(sc, bs.memory, f"the bitstream of `{core.name}`")
        if memory is None:
            continue
        bitstreams.append(
            P.Bitstream(
                core.name, memory.name, core.bitstream_address, core.bitstream_size, bs.span
            )
        )
    return bitstreams


def _memory(sc: Scope, ident: ast.Ident | None, what: str) -> P.Memory | None:
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
