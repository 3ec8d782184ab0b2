"""Stage: decode and validate the bytes of an ACI image into an :class:`aci.image.Image`.

Mirrors :mod:`aci.encode`. ``decode(data)`` checks everything docs/format.md lists
(header, CRC, section table, every section, every instruction, every count, slot,
core id, parameter block and port's bytes after all strides) before returning, and
raises :class:`ImageError` with the rule's code (:data:`aci.format.ERRORS`) and the
offset of the offending byte otherwise. Every read is bounds-checked against the end
of its container; no input makes it raise anything else.
"""

from __future__ import annotations

from typing import NoReturn

from . import format as F
from .diagnostics import AciError
from .image import (
    BufferSymbol,
    CoreInfo,
    Image,
    InitChunk,
    Loop,
    MemoryInfo,
    Parsec,
    Port,
    Reconf,
    Repeat,
    Source,
    Symbols,
    TargetInfo,
    Task,
    Thread,
    Wait,
    Window,
)
from .timing import Timing, muldiv_ceil

MAX_TIME_NS = F.LIMITS["max_time_ns"]  # a duration field or computed duration: at most this
MAX_OPERATIONS = F.LIMITS["max_operations"]  # operations one run may execute
MAX_RATE = F.LIMITS["max_rate"]  # a rate or clock of TARGET: 1 .. this


class ImageError(AciError):
    """An image refused by the validator: ``name`` and ``code`` of the rule, byte ``offset``."""

    def __init__(self, name: str, offset: int, detail: str):
        self.name = name
        self.code = F.ERROR_BY_NAME[name].code
        self.offset = offset
        self.detail = detail
        super().__init__(f"invalid image: {name} (code {self.code}) at offset {offset}: {detail}")


def _fail(name: str, offset: int, detail: str) -> NoReturn:
    raise ImageError(name, offset, detail)


def _name(raw: bytes, offset: int, what: str, err: str) -> str:
    text, _, pad = raw.partition(b"\0")
    if pad.strip(b"\0") or not text or not all(0x21 <= c < 0x7F for c in text):
        _fail(err, offset, f"{what} is not a NUL-padded printable ASCII name")
    return text.decode("ascii")


def _zero(rec: dict, offset: int, struct: F.Struct):
    for f, off in struct.offsets():
        if f.name.startswith("reserved") and rec[f.name]:
            _fail(
                "reserved_nonzero", offset + off, f"{struct.name}.{f.name} is {rec[f.name]}, not 0"
            )


def _time(v: int, offset: int, what: str, err: str):
    if v > MAX_TIME_NS:
        _fail(err, offset, f"{what} is {v} ns, over the limit of {MAX_TIME_NS} ns")


def decode_header(data: bytes) -> tuple[dict, list[tuple[str, int, int, int]]]:
    if len(data) < F.HEADER.size:
        _fail(
            "bad_length",
            len(data),
            f"{len(data)} bytes is shorter than the {F.HEADER.size}-byte header",
        )
    h = F.HEADER.unpack(data)
    if h["magic"] != F.MAGIC:
        _fail("bad_magic", 0, f"magic is {h['magic']!r}, not {F.MAGIC!r}")
    if h["major"] != F.VERSION_MAJOR:
        _fail(
            "bad_version",
            4,
            f"format {h['major']}.{h['minor']} (this reader knows {F.VERSION_MAJOR}.x)",
        )
    if h["length"] != len(data) or len(data) > F.LIMITS["max_image_bytes"]:
        _fail("bad_length", 8, f"the header says {h['length']} bytes, the image has {len(data)}")
    crc = F.image_crc(data)
    if crc != h["crc32"]:
        _fail("bad_crc", 12, f"CRC-32 is 0x{crc:08x}, the header says 0x{h['crc32']:08x}")
    if h["flags"] & ~1:
        _fail("reserved_nonzero", 16, f"unknown flags 0x{h['flags']:x}")
    _zero(h, 0, F.HEADER)
    n = h["section_count"]
    table_end = F.HEADER.size + n * F.SECTION_ENTRY.size
    if n > F.LIMITS["max_sections"] or table_end > len(data):
        _fail(
            "bad_section_table",
            20,
            f"{n} sections do not fit the image or the limit of {F.LIMITS['max_sections']}",
        )
    kinds = {v: k for k, v in F.SECTION_KINDS.items()}
    sections, seen, prev_end = [], set(), table_end
    for i in range(n):
        at = F.HEADER.size + i * F.SECTION_ENTRY.size
        e = F.SECTION_ENTRY.unpack(data, at)
        _zero(e, at, F.SECTION_ENTRY)
        kind = kinds.get(e["kind"])
        if kind is None:
            _fail("section_unknown", at, f"unknown section kind {e['kind']}")
        if kind in seen:
            _fail("section_duplicate", at, f"a second {kind} section")
        seen.add(kind)
        off, length = e["offset"], e["length"]
        if off < table_end or off + length > len(data):
            _fail(
                "section_bounds",
                at + 4,
                f"{kind} at {off}..{off + length} leaves the image or overlaps the header",
            )
        if off < prev_end:
            _fail(
                "section_overlap",
                at + 4,
                f"{kind} at {off} overlaps or precedes the section before it",
            )
        prev_end = off + length
        sections.append((kind, off, length, at))
    for req in F.REQUIRED_SECTIONS:
        if req not in seen:
            _fail("section_missing", 20, f"no {req} section")
    return h, sections


def decode_target(data: bytes, off: int, length: int) -> TargetInfo:
    if length < F.TARGET.size:
        _fail("section_size", off, f"TARGET is {length} bytes, shorter than {F.TARGET.size}")
    t = F.TARGET.unpack(data, off)
    _zero(t, off, F.TARGET)
    if length != F.TARGET.size + t["memory_count"] * F.MEMORY.size:
        _fail(
            "section_size", off, f"TARGET is {length} bytes but holds {t['memory_count']} memories"
        )
    if not 1 <= t["slots"] <= F.LIMITS["max_slots"]:
        _fail("bad_target", off, f"{t['slots']} slots (1 .. {F.LIMITS['max_slots']})")
    if not 1 <= t["memory_count"] <= F.LIMITS["max_memories"]:
        _fail(
            "bad_target",
            off + F.TARGET.at("memory_count"),
            f"{t['memory_count']} memories (1 .. {F.LIMITS['max_memories']})",
        )
    for f, fo in F.TARGET.offsets():
        if f.name.endswith("_per_s") or f.name == "clock_hz":
            if not 1 <= t[f.name] <= MAX_RATE:
                _fail("bad_target", off + fo, f"{f.name} is {t[f.name]} (1 .. {MAX_RATE})")
        elif f.name.endswith("_ns"):
            _time(t[f.name], off + fo, f.name, "bad_target")
    timing = Timing(
        **{
            k: t[k]
            for k in (
                "icap_bytes_per_s",
                "pr_overhead_ns",
                "dma_bytes_per_s",
                "clock_hz",
                "task_overhead_ns",
                "pf_write_ns",
                "link_bits_per_s",
                "link_latency_ns",
                "watchdog_ns",
            )
        }
    )
    mems: list[MemoryInfo] = []
    for i in range(t["memory_count"]):
        at = off + F.TARGET.size + i * F.MEMORY.size
        m = F.MEMORY.unpack(data, at)
        name = _name(m["name"], at, "a memory name", "bad_target")
        if m["size"] == 0 or m["base"] + m["size"] > 1 << 64:
            _fail("bad_target", at + 16, f"memory `{name}` is empty or wraps around")
        for o in mems:
            if m["base"] < o.base + o.size and o.base < m["base"] + m["size"]:
                _fail("bad_target", at + 16, f"memory `{name}` overlaps `{o.name}`")
            if o.name == name:
                _fail("bad_target", at, f"two memories named `{name}`")
        mems.append(MemoryInfo(name, m["base"], m["size"]))
    return TargetInfo(t["slots"], timing, tuple(mems))


def inside_memory(target: TargetInfo, lo: int, hi: int) -> bool:
    """Whether bytes lo .. hi-1 lie within one memory."""
    return any(m.base <= lo and hi <= m.base + m.size for m in target.memories)


def decode_cores(data: bytes, off: int, length: int, target: TargetInfo) -> tuple[CoreInfo, ...]:
    if length < F.CORES.size:
        _fail("section_size", off, "CORES is shorter than its count")
    h = F.CORES.unpack(data, off)
    _zero(h, off, F.CORES)
    if length != F.CORES.size + h["count"] * F.CORE.size:
        _fail("section_size", off, f"CORES is {length} bytes but holds {h['count']} cores")
    if not 1 <= h["count"] <= F.LIMITS["max_cores"]:
        _fail("bad_core", off, f"{h['count']} cores (1 .. {F.LIMITS['max_cores']})")
    cores: list[CoreInfo] = []
    for i in range(h["count"]):
        at = off + F.CORES.size + i * F.CORE.size
        c = F.CORE.unpack(data, at)
        name = _name(c["name"], at + F.CORE.at("name"), "a core name", "bad_core")
        if any(x.id == c["id"] for x in cores):
            _fail("bad_core", at, f"core id {c['id']} appears twice")
        if (
            not 1 <= c["port_count"] <= F.LIMITS["max_ports"]
            or c["param_words"] > F.LIMITS["max_params"]
        ):
            _fail(
                "bad_core",
                at + F.CORE.at("port_count"),
                f"core `{name}` has {c['port_count']} ports and {c['param_words']} parameter words",
            )
        if c["port_dirs"] >> c["port_count"]:
            _fail(
                "bad_core",
                at + F.CORE.at("port_dirs"),
                f"core `{name}` marks a port it does not have as an output",
            )
        if c["bitstream_size"] == 0 or not inside_memory(
            target, c["bitstream_addr"], c["bitstream_addr"] + c["bitstream_size"]
        ):
            _fail(
                "bad_core",
                at + F.CORE.at("bitstream_addr"),
                f"the bitstream of `{name}` does not lie inside one memory",
            )
        pr = target.timing.pr_overhead_ns + muldiv_ceil(
            c["bitstream_size"], 10**9, target.timing.icap_bytes_per_s
        )
        _time(pr, at + F.CORE.at("bitstream_size"), f"reconfiguring `{name}`", "bad_core")
        dirs = tuple("out" if c["port_dirs"] >> k & 1 else "in" for k in range(c["port_count"]))
        cores.append(
            CoreInfo(
                c["id"],
                name,
                dirs,
                c["param_words"],
                c["bitstream_size"],
                c["bitstream_addr"],
                (c["lut"], c["ff"], c["bram"], c["dsp"]),
            )
        )
    return tuple(cores)


def decode_params(data: bytes, off: int, length: int) -> tuple[int, ...]:
    if length % 4:
        _fail("section_size", off, f"PARAM is {length} bytes, not a whole number of words")
    return tuple(int.from_bytes(data[off + k : off + k + 4], "little") for k in range(0, length, 4))


class _Compute:
    """Reads COMPUTE with an explicit container stack of bounded depth."""

    def __init__(
        self,
        data: bytes,
        target: TargetInfo,
        cores: tuple[CoreInfo, ...],
        params: int,
        lines: dict[int, Source],
    ):
        self.data = data
        self.target = target
        self.cores = {c.id: c for c in cores}
        self.param_words = params
        self.lines = lines
        self.operations = 0

    def read(self, off: int, end: int) -> tuple:
        return self.sequence(off, end, F.TOP_LEVEL, levels=(), depth=0, parent="COMPUTE")

    def sequence(
        self,
        off: int,
        end: int,
        allowed: tuple[str, ...],
        levels: tuple[int, ...],
        depth: int,
        parent: str,
    ) -> tuple:
        out, rank = [], 0
        while off < end:
            if end - off < F.INSN_HEADER.size:
                _fail(
                    "bad_insn_length",
                    off,
                    f"{end - off} bytes left in {parent}, too few for an instruction",
                )
            h = F.INSN_HEADER.unpack(self.data, off)
            insn = F.BY_OPCODE.get(h["opcode"])
            if insn is None:
                _fail("bad_opcode", off, f"unknown opcode {h['opcode']}")
            if h["flags"] or h["reserved"]:
                _fail(
                    "reserved_nonzero", off + 1, f"{insn.name} has nonzero flags or reserved bits"
                )
            length = h["length"]
            if length < F.INSN_HEADER.size + insn.fields.size or length > end - off:
                _fail(
                    "bad_insn_length",
                    off + 4,
                    f"{insn.name} claims {length} bytes; {end - off} remain in {parent}",
                )
            if insn.name not in allowed:
                _fail("bad_nesting", off, f"{insn.name} is not allowed in {parent}")
            if parent == "WINDOW" and allowed.index(insn.name) < rank:
                _fail("bad_nesting", off, f"{insn.name} after {allowed[rank]} in {parent}")
            rank = allowed.index(insn.name)
            out.append(self.instruction(insn, off, length, levels, depth))
            off += length
        return tuple(out)

    def instruction(self, insn: F.Instruction, off: int, length: int, levels, depth: int):
        fo = off + F.INSN_HEADER.size
        f = insn.fields.unpack(self.data, fo)
        _zero(f, fo, insn.fields)
        body, end = fo + insn.fields.size, off + length
        src = self.lines.get(off)
        if insn.name == "TASK":
            return self.task(f, off, fo, end, levels, src)
        if insn.name == "RECONF":
            if end != body:
                _fail("bad_insn_length", off + 4, "RECONF has no body")
            self.slot(f["slot"], fo)
            core = self.core(f["core"], fo + 1)
            self.count_ops(1, levels, off)
            _time(
                self.target.timing.pr_overhead_ns
                + muldiv_ceil(core.bitstream_size, 10**9, self.target.timing.icap_bytes_per_s),
                fo,
                "a reconfiguration",
                "bad_cycles",
            )
            return Reconf(f["slot"], f["core"], src, off)
        if insn.name in ("LOOP", "REPEAT"):
            limit = F.LIMITS["max_loop_count" if insn.name == "LOOP" else "max_repeat_count"]
            if not 1 <= f["count"] <= limit:
                _fail("bad_count", fo, f"{insn.name} count {f['count']} (1 .. {limit})")
            if insn.name == "LOOP" and depth >= F.LIMITS["max_loop_depth"]:
                _fail("too_deep", off, f"LOOPs nested more than {F.LIMITS['max_loop_depth']} deep")
            kids = self.sequence(
                body,
                end,
                insn.children,
                levels + (f["count"],),
                depth + (insn.name == "LOOP"),
                insn.name,
            )
            if insn.name == "LOOP":
                return Loop(f["count"], kids, src, off)
            return Repeat(f["count"], kids, src, off)
        kids = self.sequence(body, end, insn.children, levels, depth, insn.name)
        if insn.name == "WINDOW":
            return Window(
                tuple(k for k in kids if isinstance(k, Reconf)),
                tuple(k for k in kids if isinstance(k, Parsec)),
                src,
                off,
            )
        if insn.name == "PARSEC":
            self.parsec_slots(kids, off)
            return Parsec(kids, src, off)
        return Thread(kids, src, off)

    def count_ops(self, n: int, levels, off: int):
        for c in levels:
            n *= c
        self.operations += n
        if self.operations > MAX_OPERATIONS:
            _fail("bad_count", off, f"the image would run more than {MAX_OPERATIONS} operations")

    def slot(self, slot: int, at: int):
        if slot >= self.target.slots:
            _fail("bad_slot", at, f"slot {slot}; the target has {self.target.slots}")

    def core(self, ident: int, at: int) -> CoreInfo:
        c = self.cores.get(ident)
        if c is None:
            _fail("unknown_core", at, f"core id {ident} is not in CORES")
        return c

    def task(self, f: dict, off: int, fo: int, end: int, levels, src) -> Task:
        self.slot(f["slot"], fo)
        core = self.core(f["core"], fo + 1)
        if f["port_count"] != len(core.port_dirs) or f["param_words"] != core.param_words:
            _fail(
                "bad_ports",
                fo + 2,
                f"{f['port_count']} ports and {f['param_words']} parameter words; "
                f"core `{core.name}` has {len(core.port_dirs)} and {core.param_words}",
            )
        if f["stride_count"] != len(levels):
            _fail(
                "bad_strides",
                fo + 3,
                f"{f['stride_count']} strides but {len(levels)} enclosing counted levels",
            )
        if f["wait_count"] > F.LIMITS["max_waits"]:
            _fail("bad_wait", fo + 4, f"{f['wait_count']} waits (at most {F.LIMITS['max_waits']})")
        if f["param_offset"] + f["param_words"] > self.param_words:
            _fail(
                "bad_params",
                fo + 8,
                f"words {f['param_offset']} .. {f['param_offset'] + f['param_words']} "
                f"run past PARAM ({self.param_words} words)",
            )
        need = (
            F.INSN_HEADER.size
            + F.BY_NAME["TASK"].fields.size
            + f["port_count"] * (F.PORT.size + 8 * f["stride_count"])
            + f["wait_count"] * F.WAIT.size
        )
        if end - off != need:
            _fail("bad_insn_length", off + 4, f"TASK is {end - off} bytes; its counts make {need}")
        at = fo + F.BY_NAME["TASK"].fields.size
        ports, total_in, total_out = [], 0, 0
        for k in range(f["port_count"]):
            p = F.PORT.unpack(self.data, at)
            _zero(p, at, F.PORT)
            strides = tuple(
                int.from_bytes(self.data[at + 16 + 8 * j : at + 24 + 8 * j], "little", signed=True)
                for j in range(f["stride_count"])
            )
            lo = p["address"] + sum(
                min(0, s * (c - 1)) for s, c in zip(strides, levels, strict=True)
            )
            hi = (
                p["address"]
                + sum(max(0, s * (c - 1)) for s, c in zip(strides, levels, strict=True))
                + p["length"]
            )
            if p["length"] == 0 or not inside_memory(self.target, lo, hi):
                _fail(
                    "bad_region",
                    at,
                    f"port {k} covers 0x{max(lo, 0):x} .. 0x{max(hi, 0):x} over its iterations, "
                    "outside every memory"
                    if p["length"]
                    else f"port {k} is empty",
                )
            if core.port_dirs[k] == "out":
                total_out += p["length"]
            else:
                total_in += p["length"]
            ports.append(Port(p["address"], p["length"], strides))
            at += F.PORT.size + 8 * f["stride_count"]
        waits = []
        for _ in range(f["wait_count"]):
            w = F.WAIT.unpack(self.data, at)
            _zero(w, at, F.WAIT)
            if w["slot"] >= self.target.slots or w["lag"] > F.LIMITS["max_wait_lag"]:
                _fail("bad_wait", at, f"wait on slot {w['slot']} with lag {w['lag']}")
            waits.append(Wait(w["slot"], w["lag"]))
            at += F.WAIT.size
        tm = self.target.timing
        longest = max(
            muldiv_ceil(total_in, 10**9, tm.dma_bytes_per_s),
            muldiv_ceil(f["cycles"], 10**9, tm.clock_hz),
            muldiv_ceil(total_out, 10**9, tm.dma_bytes_per_s),
        )
        _time(
            tm.task_overhead_ns + f["param_words"] * tm.pf_write_ns + longest,
            fo + 12,
            "a task's duration",
            "bad_cycles",
        )
        self.count_ops(1, levels, off)
        return Task(
            f["slot"],
            f["core"],
            tuple(ports),
            f["param_offset"],
            f["param_words"],
            f["cycles"],
            tuple(waits),
            src,
            off,
        )

    def parsec_slots(self, threads, off: int):
        owner: dict[int, int] = {}
        for k, th in enumerate(threads):
            for slot in set(task_slots(th)):
                if owner.setdefault(slot, k) != k:
                    _fail(
                        "parsec_slot_conflict",
                        th.offset,
                        f"threads {owner[slot]} and {k} both use slot {slot}",
                    )


def task_slots(node):
    if isinstance(node, Task):
        yield node.slot
    for k in getattr(node, "body", ()):
        yield from task_slots(k)


def decode_symbols(data: bytes, off: int, length: int, target: TargetInfo):
    if length < F.SYMBOLS.size:
        _fail("section_size", off, "SYMBOLS is shorter than its counts")
    h = F.SYMBOLS.unpack(data, off)
    need = (
        F.SYMBOLS.size
        + h["buffer_count"] * F.BUFFER.size
        + h["file_count"] * F.FILE.size
        + h["line_count"] * F.LINE.size
    )
    if length != need:
        _fail("section_size", off, f"SYMBOLS is {length} bytes; its counts make {need}")
    at = off + F.SYMBOLS.size
    buffers = []
    names = set()
    elems = {v: k for k, v in F.ELEMENT_TYPES.items()}
    roles = {v: k for k, v in F.ROLES.items()}
    for _ in range(h["buffer_count"]):
        b = F.BUFFER.unpack(data, at)
        _zero(b, at, F.BUFFER)
        name = _name(b["name"], at, "a buffer name", "bad_symbols")
        nd = b["ndims"]
        dims = tuple(b[f"dim{i}"] for i in range(8))
        if (
            name in names
            or b["elem"] not in elems
            or b["role"] not in roles
            or not 1 <= nd <= F.LIMITS["max_dims"]
            or b["memory"] >= len(target.memories)
            or any(dims[nd:])
            or not all(dims[:nd])
            or not inside_memory(target, b["address"], b["address"] + b["size"])
        ):
            _fail("bad_symbols", at, f"buffer record `{name}` is malformed")
        names.add(name)
        buffers.append(
            BufferSymbol(
                name,
                elems[b["elem"]],
                roles[b["role"]],
                dims[:nd],
                b["memory"],
                b["address"],
                b["size"],
            )
        )
        at += F.BUFFER.size
    files = []
    for _ in range(h["file_count"]):
        raw = F.FILE.unpack(data, at)["name"]
        text, _, pad = raw.partition(b"\0")
        try:
            files.append(text.decode("utf-8"))
        except UnicodeDecodeError:
            _fail("bad_symbols", at, "a file name is not UTF-8")
        if pad.strip(b"\0"):
            _fail("bad_symbols", at, "a file name is not NUL-padded")
        at += F.FILE.size
    lines = {}
    for _ in range(h["line_count"]):
        ln = F.LINE.unpack(data, at)
        _zero(ln, at, F.LINE)
        if ln["file"] >= len(files) or ln["offset"] in lines:
            _fail("bad_symbols", at, "a line record names no file or repeats an offset")
        lines[ln["offset"]] = Source(ln["file"], ln["line"])
        at += F.LINE.size
    return Symbols(tuple(buffers), tuple(files)), lines


def decode_init(data: bytes, off: int, length: int, target: TargetInfo) -> tuple[InitChunk, ...]:
    end = off + length
    if length < F.INIT.size:
        _fail("section_size", off, "INIT is shorter than its count")
    h = F.INIT.unpack(data, off)
    _zero(h, off, F.INIT)
    if h["count"] == 0:
        _fail("bad_init", off, "INIT holds no chunk")
    at, prev_end, chunks = off + F.INIT.size, 0, []
    for _ in range(h["count"]):
        if at + F.INIT_CHUNK.size > end:
            _fail("bad_init", at, "a chunk record runs past the INIT section")
        c = F.INIT_CHUNK.unpack(data, at)
        _zero(c, at, F.INIT_CHUNK)
        a, n = c["address"], c["length"]
        if n == 0 or not inside_memory(target, a, a + n):
            _fail(
                "bad_init",
                at,
                f"chunk of {n} bytes at 0x{a:x} is empty or leaves every memory",
            )
        if a < prev_end:
            _fail("bad_init", at, f"chunk at 0x{a:x} overlaps or precedes the chunk before it")
        body = at + F.INIT_CHUNK.size
        padded = n + (-n % 8)
        if body + padded > end:
            _fail(
                "bad_init",
                at + F.INIT_CHUNK.at("length"),
                f"chunk of {n} bytes runs past the INIT section",
            )
        for p in range(body + n, body + padded):
            if data[p]:
                _fail("bad_init", p, "a chunk's padding is not zero")
        chunks.append(InitChunk(a, data[body : body + n]))
        prev_end, at = a + n, body + padded
    if at != end:
        _fail("bad_init", at, f"{end - at} bytes follow the last chunk of INIT")
    return tuple(chunks)


def decode(data: bytes) -> Image:
    """Validate and decode an image; raises ImageError."""
    data = bytes(data)
    h, sections = decode_header(data)
    where = {k: (o, n) for k, o, n, _ in sections}
    target = decode_target(data, *where["TARGET"])
    cores = decode_cores(data, *where["CORES"], target)
    if where["SYNC"][1] != F.SYNC.size:
        _fail(
            "section_size", where["SYNC"][0], f"SYNC is {where['SYNC'][1]} bytes, not {F.SYNC.size}"
        )
    params = decode_params(data, *where["PARAM"])
    symbols, lines = (
        decode_symbols(data, *where["SYMBOLS"], target) if "SYMBOLS" in where else (None, {})
    )
    c_off, c_len = where["COMPUTE"]
    reader = _Compute(data, target, cores, len(params), lines)
    body = reader.read(c_off, c_off + c_len)
    if lines:
        starts: set[int] = set()
        _collect_offsets(body, starts)
        stray = sorted(set(lines) - starts)
        if stray:
            _fail(
                "bad_symbols",
                where["SYMBOLS"][0],
                f"a line record points at {stray[0]}, not an instruction",
            )
    init = decode_init(data, *where["INIT"], target) if "INIT" in where else ()
    s_off = where["SYNC"][0]
    return Image(
        target,
        cores,
        params,
        body,
        bool(h["flags"] & 1),
        symbols,
        data[s_off : s_off + F.SYNC.size],
        init,
    )


def _collect_offsets(nodes, out: set):
    from .image import children

    for n in nodes:
        out.add(n.offset)
        _collect_offsets(children(n), out)
