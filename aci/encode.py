"""Stage 9, encode: an :class:`aci.image.Image` into the bytes of an ACI image.

Mirrors :mod:`aci.decode` (same helper names, same order). Deterministic: the same
Image gives the same bytes. Layout: header, section table, then TARGET, CORES, SYNC,
PARAM, COMPUTE and (if present) SYMBOLS and INIT, each at an 8-byte boundary, zero padding.
Raises ``ValueError`` only for an Image that breaks the format's own limits (a bug
in the stage that built it).
"""

from __future__ import annotations

from . import format as F
from .image import (
    CoreInfo,
    Image,
    InitChunk,
    Loop,
    Parsec,
    Reconf,
    Repeat,
    Symbols,
    TargetInfo,
    Task,
    Thread,
    Window,
)

SECTION_ALIGN = 8


def _name(s: str, size: int) -> bytes:
    """NUL-padded, cut to ``size - 1`` bytes at a character boundary (a long source
    path keeps whole UTF-8 characters, as the validators require)."""
    b = s.encode("utf-8")[: size - 1].decode("utf-8", errors="ignore").encode("utf-8")
    return b + b"\0" * (size - len(b))


def encode_target(t: TargetInfo) -> bytes:
    tm = t.timing
    out = F.TARGET.pack(
        slots=t.slots,
        memory_count=len(t.memories),
        icap_bytes_per_s=tm.icap_bytes_per_s,
        pr_overhead_ns=tm.pr_overhead_ns,
        dma_bytes_per_s=tm.dma_bytes_per_s,
        clock_hz=tm.clock_hz,
        task_overhead_ns=tm.task_overhead_ns,
        pf_write_ns=tm.pf_write_ns,
        link_bits_per_s=tm.link_bits_per_s,
        link_latency_ns=tm.link_latency_ns,
        watchdog_ns=tm.watchdog_ns,
    )
    for m in t.memories:
        out += F.MEMORY.pack(name=_name(m.name, 16), base=m.base, size=m.size)
    return out


def encode_cores(cores: tuple[CoreInfo, ...]) -> bytes:
    out = F.CORES.pack(count=len(cores))
    for c in cores:
        dirs = sum(1 << k for k, d in enumerate(c.port_dirs) if d == "out")
        lut, ff, bram, dsp = c.resources
        out += F.CORE.pack(
            id=c.id,
            port_count=len(c.port_dirs),
            param_words=c.param_words,
            port_dirs=dirs,
            bitstream_size=c.bitstream_size,
            bitstream_addr=c.bitstream_addr,
            lut=lut,
            ff=ff,
            bram=bram,
            dsp=dsp,
            name=_name(c.name, 16),
        )
    return out


def encode_params(words: tuple[int, ...]) -> bytes:
    return b"".join((w & 0xFFFF_FFFF).to_bytes(4, "little") for w in words)


def _header(op: str, length: int) -> bytes:
    return F.INSN_HEADER.pack(opcode=F.BY_NAME[op].opcode, length=length)


class _Compute:
    """Emits COMPUTE and remembers (absolute offset, source) for the line table."""

    def __init__(self, base: int):
        self.out = bytearray()
        self.base = base
        self.lines: list[tuple[int, int, int]] = []

    def emit(self, node) -> None:
        start = len(self.out)
        if node.source is not None:
            self.lines.append((self.base + start, node.source.file, node.source.line))
        if isinstance(node, Task):
            self.out += self.task_bytes(node)
            return
        if isinstance(node, Reconf):
            self.out += _header("RECONF", 8 + F.BY_NAME["RECONF"].fields.size)
            self.out += F.BY_NAME["RECONF"].fields.pack(slot=node.slot, core=node.core)
            return
        name, fields, kids = {
            Repeat: (
                "REPEAT",
                lambda: F.BY_NAME["REPEAT"].fields.pack(count=node.count),
                lambda: node.windows,
            ),
            Window: ("WINDOW", lambda: b"", lambda: node.reconfs + node.parsecs),
            Parsec: ("PARSEC", lambda: b"", lambda: node.threads),
            Thread: ("THREAD", lambda: b"", lambda: node.body),
            Loop: (
                "LOOP",
                lambda: F.BY_NAME["LOOP"].fields.pack(count=node.count),
                lambda: node.body,
            ),
        }[type(node)]
        self.out += b"\0" * 8
        self.out += fields()
        for k in kids():
            self.emit(k)
        self.out[start : start + 8] = _header(name, len(self.out) - start)

    @staticmethod
    def task_bytes(t: Task) -> bytes:
        nstr = len(t.ports[0].strides) if t.ports else 0
        body = F.BY_NAME["TASK"].fields.pack(
            slot=t.slot,
            core=t.core,
            port_count=len(t.ports),
            stride_count=nstr,
            wait_count=len(t.waits),
            param_words=t.param_words,
            param_offset=t.param_offset,
            cycles=t.cycles,
        )
        for p in t.ports:
            if len(p.strides) != nstr:
                raise ValueError("every port of a task has one stride per counted level")
            body += F.PORT.pack(address=p.address, length=p.length)
            body += b"".join(s.to_bytes(8, "little", signed=True) for s in p.strides)
        for w in t.waits:
            body += F.WAIT.pack(slot=w.slot, lag=w.lag)
        return _header("TASK", 8 + len(body)) + body


def encode_symbols(s: Symbols, lines: list[tuple[int, int, int]]) -> bytes:
    out = F.SYMBOLS.pack(
        buffer_count=len(s.buffers), file_count=len(s.files), line_count=len(lines)
    )
    for b in s.buffers:
        dims = {f"dim{i}": d for i, d in enumerate(b.shape)}
        out += F.BUFFER.pack(
            name=_name(b.name, 32),
            elem=F.ELEMENT_TYPES[b.elem],
            role=F.ROLES[b.role],
            ndims=len(b.shape),
            memory=b.memory,
            address=b.address,
            size=b.size,
            **dims,
        )
    for f in s.files:
        out += F.FILE.pack(name=_name(f, 128))
    for off, file, line in lines:
        out += F.LINE.pack(offset=off, file=file, line=line)
    return out


def encode_init(chunks: tuple[InitChunk, ...]) -> bytes:
    out = bytearray(F.INIT.pack(count=len(chunks)))
    for c in chunks:
        out += F.INIT_CHUNK.pack(address=c.address, length=len(c.data))
        out += c.data + b"\0" * (-len(c.data) % 8)
    return bytes(out)


def _align(n: int) -> int:
    return -(-n // SECTION_ALIGN) * SECTION_ALIGN


def encode(img: Image) -> bytes:
    fixed = [
        ("TARGET", encode_target(img.target)),
        ("CORES", encode_cores(img.cores)),
        ("SYNC", F.SYNC.pack()),
        ("PARAM", encode_params(img.params)),
    ]
    nsec = len(fixed) + 1 + (img.symbols is not None) + bool(img.init)
    pos = _align(F.HEADER.size + nsec * F.SECTION_ENTRY.size)
    placed = []
    for kind, data in fixed:
        placed.append((kind, pos, data))
        pos = _align(pos + len(data))
    comp = _Compute(pos)
    for node in img.body:
        comp.emit(node)
    placed.append(("COMPUTE", pos, bytes(comp.out)))
    pos = _align(pos + len(comp.out))
    if img.symbols is not None:
        data = encode_symbols(img.symbols, comp.lines)
        placed.append(("SYMBOLS", pos, data))
        pos += len(data)
    if img.init:
        pos = _align(pos)
        data = encode_init(img.init)
        placed.append(("INIT", pos, data))
        pos += len(data)
    total = pos
    out = bytearray(total)
    table = b"".join(
        F.SECTION_ENTRY.pack(kind=F.SECTION_KINDS[k], offset=o, length=len(d)) for k, o, d in placed
    )
    out[F.HEADER.size : F.HEADER.size + len(table)] = table
    for _, o, d in placed:
        out[o : o + len(d)] = d
    if total > F.LIMITS["max_image_bytes"]:
        raise ValueError(f"the image would be {total} bytes, over the format's limit")
    head = F.HEADER.pack(
        magic=F.MAGIC,
        major=F.VERSION_MAJOR,
        minor=F.VERSION_MINOR,
        length=total,
        crc32=0,
        flags=int(img.dataflow),
        section_count=len(placed),
    )
    out[: F.HEADER.size] = head
    crc = F.image_crc(out)
    out[12:16] = crc.to_bytes(4, "little")
    return bytes(out)
