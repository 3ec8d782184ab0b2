"""Assembly text (``.acs``): exactly what an image holds, one instruction per line.

``disassemble(image)`` prints an :class:`aci.image.Image`; ``assemble(text, name)``
reads it back (raising :class:`AsmError` with the line and column of the first
problem). ``encode(assemble(disassemble(decode(data))))`` gives ``data`` back for
every image the encoder writes. ``listing(data, ...)`` is the annotated form: offset,
bytes, instruction and, when the image has SYMBOLS, the source line.

Syntax: ``;`` starts a comment. Directives (``.mode``, ``.target``, ``.memory``,
``.core``, ``.params``, ``.symbols``, ``.file``, ``.buffer``, ``.init ADDRESS`` followed by
``.bytes HEX`` lines holding that INIT chunk's bytes) come first; then the
instructions, a container opening ``{`` at the end of its line and closing with a
line holding ``}``. Fields are ``key=value``; numbers are decimal or ``0x`` hex; a
trailing ``@F:L`` names source file F (a ``.file`` index) line L.
"""

from __future__ import annotations

import json
import re
from typing import cast

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
    children,
)
from .timing import Timing

Node = Task | Reconf | Loop | Repeat | Window | Parsec | Thread  # an instruction of COMPUTE

TIMING_FIELDS = [f.name for f in F.TARGET.fields if f.name.endswith(("_per_s", "_ns", "_hz"))]


class AsmError(AciError):
    def __init__(self, file: str, line: int, column: int, message: str):
        self.file, self.line, self.column = file, line, column
        super().__init__(f"{file}:{line}:{column}: {message}")


# ---- printing -------------------------------------------------------------------


def _src(node) -> str:
    return f" @{node.source.file}:{node.source.line}" if node.source else ""


def _port(p: Port) -> str:
    return f"0x{p.address:x}:{p.length}" + "".join(f"/{s}" for s in p.strides)


def instruction_text(node, params: tuple[int, ...] = ()) -> str:
    """One instruction's line, without indentation or braces."""
    if isinstance(node, Task):
        text = (
            f"task slot={node.slot} core={node.core} cycles={node.cycles} "
            f"params={node.param_offset}+{node.param_words} ports={','.join(_port(p) for p in node.ports)}"
        )
        if node.waits:
            text += " waits=" + ",".join(f"{w.slot}:{w.lag}" for w in node.waits)
        return text + _src(node)
    if isinstance(node, Reconf):
        return f"reconf slot={node.slot} core={node.core}" + _src(node)
    if isinstance(node, (Loop, Repeat)):
        return f"{type(node).__name__.lower()} {node.count}" + _src(node)
    return type(node).__name__.lower() + _src(node)


def disassemble(img: Image) -> str:
    t = img.target
    out = [
        f"; ACI image, format {F.VERSION_MAJOR}.{F.VERSION_MINOR}",
        f".mode {'dataflow' if img.dataflow else 'strict'}",
        ".target slots=%d " % t.slots
        + " ".join(f"{k}={getattr(t.timing, k)}" for k in TIMING_FIELDS),
    ]
    for m in t.memories:
        out.append(f".memory {m.name} base=0x{m.base:x} size=0x{m.size:x}")
    for c in img.cores:
        out.append(
            f".core id={c.id} name={c.name} ports={','.join(c.port_dirs)} params={c.param_words} "
            f"bitstream=0x{c.bitstream_addr:x}:{c.bitstream_size} "
            + " ".join(
                f"{k}={v}" for k, v in zip(("lut", "ff", "bram", "dsp"), c.resources, strict=True)
            )
        )
    for k in range(0, len(img.params), 16):
        out.append(".params " + " ".join(str(w) for w in img.params[k : k + 16]))
    if img.symbols is not None:
        out.append(".symbols")
        for i, f in enumerate(img.symbols.files):
            out.append(f".file {i} {json.dumps(f)}")
        for b in img.symbols.buffers:
            out.append(
                f".buffer {b.name} elem={b.elem} role={b.role} memory={b.memory} address=0x{b.address:x} "
                f"size={b.size} shape={'x'.join(map(str, b.shape))}"
            )
    for chunk in img.init:
        out.append(f".init 0x{chunk.address:x}")
        out.extend(f".bytes {chunk.data[k : k + 32].hex()}" for k in range(0, len(chunk.data), 32))

    def emit(node, depth):
        pad = "  " * depth
        kids = children(node)
        if isinstance(node, (Task, Reconf)):
            out.append(pad + instruction_text(node))
            return
        out.append(pad + instruction_text(node) + " {")
        for k in kids:
            emit(k, depth + 1)
        out.append(pad + "}")

    for node in img.body:
        emit(node, 0)
    return "\n".join(out) + "\n"


# ---- reading ------------------------------------------------------------------

_NUM = re.compile(r"-?(0x[0-9a-fA-F]+|\d+)$")


class _Reader:
    def __init__(self, text: str, name: str):
        self.name = name
        self.lines = text.split("\n")
        self.k = 0

    def fail(self, message: str, col: int = 1):
        raise AsmError(self.name, self.k, col, message)

    def num(self, s: str, what: str, lo: int = 0, hi: int = (1 << 64) - 1) -> int:
        if not _NUM.match(s):
            self.fail(f"{what} must be a number, not `{s}`", self.col(s))
        v = int(s, 0)
        if not lo <= v <= hi:
            self.fail(f"{what} {v} is outside {lo} .. {hi}", self.col(s))
        return v

    def col(self, s: str) -> int:
        line = self.lines[self.k - 1] if self.k else ""
        i = line.find(s)
        return i + 1 if i >= 0 else 1

    def fields(self, words: list[str], allowed: set[str], required: set[str]) -> dict[str, str]:
        out = {}
        for w in words:
            key, eq, val = w.partition("=")
            if not eq or key not in allowed:
                self.fail(f"unexpected `{w}` (expected {', '.join(sorted(allowed))})", self.col(w))
            if key in out:
                self.fail(f"`{key}` given twice", self.col(w))
            out[key] = val
        missing = required - set(out)
        if missing:
            self.fail(f"missing {', '.join(sorted(missing))}")
        return out

    def next_line(self) -> tuple[list[str], str | None] | None:
        """(words, source) of the next non-empty line, or None at the end."""
        while self.k < len(self.lines):
            raw = self.lines[self.k]
            self.k += 1
            line = raw.split(";", 1)[0].strip()
            if not line:
                continue
            return line.split(), line
        return None

    def source(self, words: list[str]) -> tuple[list[str], Source | None]:
        if words and words[-1].startswith("@") and words[-1] != "@":
            f, colon, ln = words[-1][1:].partition(":")
            if not colon:
                self.fail(
                    f"a source reference is @FILE:LINE, not `{words[-1]}`", self.col(words[-1])
                )
            return words[:-1], Source(
                self.num(f, "a file index", 0, 0xFFFF), self.num(ln, "a line", 0, 0xFFFF_FFFF)
            )
        return words, None


def assemble(text: str, name: str = "<asm>") -> Image:
    r = _Reader(text, name)
    mode, target_fields, symbols = None, None, None
    memories: list[MemoryInfo] = []
    cores: list[CoreInfo] = []
    params: list[int] = []
    files: list[str] = []
    buffers: list[BufferSymbol] = []
    init: list[tuple[int, bytearray]] = []
    body: list[Node] = []
    while True:
        item = r.next_line()
        if item is None:
            break
        words, _ = item
        head = words[0]
        if not head.startswith("."):
            r.k -= 1
            body = _read_body(r, F.TOP_LEVEL, 0, "the image")
            break
        rest = words[1:]
        if head == ".mode":
            if rest not in (["strict"], ["dataflow"]):
                r.fail("`.mode` is `strict` or `dataflow`")
            mode = rest[0]
        elif head == ".target":
            f = r.fields(rest, {"slots", *TIMING_FIELDS}, {"slots", *TIMING_FIELDS})
            target_fields = {k: r.num(v, k) for k, v in f.items()}
        elif head == ".memory":
            if not rest:
                r.fail("`.memory NAME base=... size=...`")
            f = r.fields(rest[1:], {"base", "size"}, {"base", "size"})
            memories.append(MemoryInfo(rest[0], r.num(f["base"], "base"), r.num(f["size"], "size")))
        elif head == ".core":
            f = r.fields(
                rest,
                {"id", "name", "ports", "params", "bitstream", "lut", "ff", "bram", "dsp"},
                {"id", "name", "ports", "params", "bitstream"},
            )
            dirs = tuple(f["ports"].split(","))
            if any(d not in ("in", "out") for d in dirs):
                r.fail("ports are a comma-separated list of `in` and `out`")
            addr, colon, size = f["bitstream"].partition(":")
            if not colon:
                r.fail("bitstream=ADDRESS:SIZE")
            ident = r.num(f["id"], "id", 0, 255)
            n_params = r.num(f["params"], "params", 0, 255)
            bitstream = (
                r.num(size, "bitstream size", 0, 0xFFFF_FFFF),
                r.num(addr, "bitstream address"),
            )
            lut, ff, bram, dsp = (
                r.num(f.get(k, "0"), k, 0, 0xFFFF_FFFF) for k in ("lut", "ff", "bram", "dsp")
            )
            cores.append(
                CoreInfo(ident, f["name"], dirs, n_params, *bitstream, (lut, ff, bram, dsp))
            )
        elif head == ".params":
            params.extend(r.num(w, "a parameter word", 0, 0xFFFF_FFFF) for w in rest)
        elif head == ".symbols":
            symbols = True
        elif head == ".file":
            if len(rest) < 2 or symbols is None:
                r.fail('`.file INDEX "NAME"` follows `.symbols`')
            if r.num(rest[0], "a file index") != len(files):
                r.fail(f"expected file index {len(files)}")
            try:
                files.append(json.loads(" ".join(rest[1:])))
            except ValueError:
                r.fail("a file name is a JSON string in double quotes")
        elif head == ".buffer":
            if not rest or symbols is None:
                r.fail("`.buffer NAME ...` follows `.symbols`")
            f = r.fields(
                rest[1:],
                {"elem", "role", "memory", "address", "size", "shape"},
                {"elem", "role", "memory", "address", "size", "shape"},
            )
            if f["elem"] not in F.ELEMENT_TYPES or f["role"] not in F.ROLES:
                r.fail("unknown element type or role")
            shape = tuple(r.num(d, "a dimension") for d in f["shape"].split("x"))
            buffers.append(
                BufferSymbol(
                    rest[0],
                    f["elem"],
                    f["role"],
                    shape,
                    r.num(f["memory"], "memory", 0, 255),
                    r.num(f["address"], "address"),
                    r.num(f["size"], "size"),
                )
            )
        elif head == ".init":
            if len(rest) != 1:
                r.fail("`.init ADDRESS`, then its bytes on `.bytes HEX` lines")
            init.append((r.num(rest[0], "an address"), bytearray()))
        elif head == ".bytes":
            if not init:
                r.fail("`.bytes HEX` follows `.init ADDRESS`")
            try:
                init[-1][1].extend(bytes.fromhex("".join(rest)))
            except ValueError:
                r.fail("`.bytes` takes hexadecimal digits, two per byte")
        else:
            r.fail(f"unknown directive `{head}`")
    if mode is None or target_fields is None:
        raise AsmError(
            name, 1, 1, "an assembly file needs `.mode` and `.target` before its instructions"
        )
    slots = target_fields.pop("slots")
    target = TargetInfo(slots, Timing(**target_fields), tuple(memories))
    syms = Symbols(tuple(buffers), tuple(files)) if symbols else None
    return Image(
        target,
        tuple(cores),
        tuple(params),
        cast(tuple[Window | Repeat, ...], tuple(body)),  # what F.TOP_LEVEL admits
        mode == "dataflow",
        syms,
        init=tuple(InitChunk(a, bytes(d)) for a, d in init),
    )


def _read_body(r: _Reader, allowed, depth: int, parent: str) -> list[Node]:
    out: list[Node] = []
    while True:
        item = r.next_line()
        if item is None:
            if depth:
                r.fail(f"the file ends inside {parent}: a `}}` is missing")
            return out
        words, _ = item
        if words == ["}"]:
            if not depth:
                r.fail("`}` closes nothing")
            return out
        opener = words[-1] == "{"
        if opener:
            words = words[:-1]
        words, src = r.source(words)
        op = words[0].upper() if words else ""
        if op not in F.BY_NAME:
            r.fail(f"unknown instruction `{words[0] if words else ''}`")
        if op not in allowed:
            r.fail(f"`{words[0]}` is not allowed in {parent}")
        insn = F.BY_NAME[op]
        if insn.container != opener:
            r.fail(
                f"`{words[0]}` {'opens a block: end the line with `{`' if insn.container else 'takes no block'}"
            )
        args = words[1:]
        if op == "TASK":
            out.append(_task(r, args, src))
        elif op == "RECONF":
            f = r.fields(args, {"slot", "core"}, {"slot", "core"})
            out.append(
                Reconf(r.num(f["slot"], "slot", 0, 255), r.num(f["core"], "core", 0, 255), src)
            )
        elif op in ("LOOP", "REPEAT"):
            if len(args) != 1:
                r.fail(f"`{words[0]} COUNT {{`")
            count = r.num(args[0], "a count", 0, 0xFFFF_FFFF)
            kids = tuple(_read_body(r, insn.children, depth + 1, words[0]))
            # _read_body admitted only insn.children: tasks and loops, or windows
            if op == "LOOP":
                out.append(Loop(count, cast(tuple[Loop | Task, ...], kids), src))
            else:
                out.append(Repeat(count, cast(tuple[Window, ...], kids), src))
        else:
            if args:
                r.fail(f"`{words[0]}` takes no fields")
            kids = tuple(_read_body(r, insn.children, depth + 1, words[0]))
            if op == "WINDOW":
                out.append(
                    Window(
                        tuple(k for k in kids if isinstance(k, Reconf)),
                        tuple(k for k in kids if isinstance(k, Parsec)),
                        src,
                    )
                )
            elif op == "PARSEC":  # its children: threads only (insn.children)
                out.append(Parsec(cast(tuple[Thread, ...], kids), src))
            else:  # a thread's: tasks and loops
                out.append(Thread(cast(tuple[Loop | Task, ...], kids), src))


def _task(r: _Reader, args, src) -> Task:
    f = r.fields(
        args,
        {"slot", "core", "cycles", "params", "ports", "waits"},
        {"slot", "core", "cycles", "params", "ports"},
    )
    off, plus, n = f["params"].partition("+")
    if not plus:
        r.fail("params=OFFSET+WORDS")
    ports = []
    for p in f["ports"].split(","):
        parts = p.split("/")
        addr, colon, length = parts[0].partition(":")
        if not colon:
            r.fail(f"a port is ADDRESS:LENGTH[/STRIDE...], not `{p}`", r.col(p))
        ports.append(
            Port(
                r.num(addr, "an address"),
                r.num(length, "a length", 0, 0xFFFF_FFFF),
                tuple(r.num(s, "a stride", -(1 << 63), (1 << 63) - 1) for s in parts[1:]),
            )
        )
    if len({len(p.strides) for p in ports}) > 1:
        r.fail("every port of a task has the same number of strides")
    waits = []
    if "waits" in f:
        for w in f["waits"].split(","):
            s, colon, lag = w.partition(":")
            if not colon:
                r.fail(f"a wait is SLOT:LAG, not `{w}`", r.col(w))
            waits.append(Wait(r.num(s, "a slot", 0, 255), r.num(lag, "a lag", 0, 0xFFFF_FFFF)))
    return Task(
        r.num(f["slot"], "slot", 0, 255),
        r.num(f["core"], "core", 0, 255),
        tuple(ports),
        r.num(off, "a parameter offset", 0, 0xFFFF_FFFF),
        r.num(n, "a parameter count", 0, 0xFFFF),
        r.num(f["cycles"], "cycles", 0, 0xFFFF_FFFF),
        tuple(waits),
        src,
    )


# ---- annotated listing ------------------------------------------------------------


def listing(data: bytes, img: Image, sources: dict[str, list[str]] | None = None) -> str:
    """Offset, bytes (up to 16 shown), instruction and source line of every instruction."""
    files = img.symbols.files if img.symbols else ()
    out = []

    def emit(node, depth):
        head = data[node.offset : node.offset + 8]
        length = int.from_bytes(head[4:8], "little")
        shown = data[
            node.offset : node.offset
            + (
                length
                if not children(node)
                else 8 + F.BY_NAME[type(node).__name__.upper()].fields.size
            )
        ]
        hexes = shown[:16].hex(" ") + (" ..." if len(shown) > 16 else "")
        line = f"{node.offset:08x}  {hexes:<52} {'  ' * depth}{instruction_text(node)}"
        if node.source and node.source.file < len(files):
            name = files[node.source.file]
            text = (sources or {}).get(name)
            if text is not None and 0 < node.source.line <= len(text):
                line += f"    ; {name}:{node.source.line}: {text[node.source.line - 1].strip()}"
            else:
                line += f"    ; {name}:{node.source.line}"
        out.append(line)
        for k in children(node):
            emit(k, depth + 1)

    for node in img.body:
        emit(node, 0)
    return "\n".join(out) + "\n"
