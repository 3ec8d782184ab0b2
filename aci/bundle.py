"""The bundle file (``.acb``): a whole system's program in one file, defined once, as data.

A bundle holds one ACI image per stage of a plan (the boards of a stage run the same
image), the system (boards, each of a target, and links), the buffers the host sends
and collects, and the host's steps in order: load each board's image, send inputs,
run, transfer between boards, collect outputs (:class:`aci.system.Plan`). The tables
below (header, records, limits, refusal codes) are the one definition of its bytes:
:func:`encode` and :func:`decode` follow them, and :mod:`aci._generate` writes the
tables of docs/system.md from them (a test fails when they are stale).

``encode(plan)`` gives the bytes, ``decode(data)`` validates everything (header, CRC,
every record, every step's ends and link, every move's bytes against the board's
memory or the host's buffer, every embedded image with :func:`aci.decode.decode`) and
returns a :class:`Bundle` whose ``plan`` encodes to the same bytes; it raises
:class:`BundleError` with the rule's code and the offset of the offending byte
otherwise, and nothing else, whatever the input. ``write(plan, path)`` and
``read(path)`` do the same with a file. Little-endian throughout; fields named
``reserved*`` are zero.
"""

from __future__ import annotations

import zlib
from typing import NoReturn

import attrs

from . import format as F
from .diagnostics import AciError
from .format import S
from .image import Image
from .system import HOST, STEP_KINDS, HostBuffer, Link, Move, Part, Plan, Step, System

MAGIC = b"ACIB"
VERSION_MAJOR = 1  # a reader refuses another major
VERSION_MINOR = 0  # newer minors only add meaning to reserved fields
HOST_END = 255  # the host, where a record names a board by its index
NO_STAGE = 0xFFFF  # a board of the system that the plan leaves idle
NO_BATCH = 0xFFFF_FFFF  # a step that belongs to no batch (a load, a send of constants)
ALIGN = 8  # the plan's name and every image start at a multiple of this

LIMITS = {
    "max_boards": 64,  # board indices are 0 .. max_boards - 1, below HOST_END
    "max_links": 64 * 65 // 2,  # one per pair of ends
    "max_host_buffers": 1024,
    "max_steps": 1 << 24,
    "max_moves": 1 << 24,
    "max_deps": 1 << 26,
    "max_name_bytes": 4096,  # the plan's name, UTF-8
    "max_bundle_bytes": (1 << 32) - 1,
}

HEADER = S(
    "bundle_header",
    "At offset 0. The CRC-32 (IEEE, as zlib.crc32) covers the whole bundle, its own field "
    "read as zero. The records follow in this order, each table right after the one before: "
    "LINK, HOST_BUFFER, STAGE, BOARD, STEP, MOVE, DEP; then the plan's name (UTF-8), then the "
    "stages' images in stage order, the name and each image starting at the next multiple of "
    "8 bytes, the gaps zero, nothing after the last image.",
    ("magic", "magic", "`ACIB`"),
    ("major", "u16", "bundle format major version; a reader refuses another major"),
    ("minor", "u16", "minor version; newer minors only add meaning to reserved fields"),
    ("length", "u32", "total bundle length in bytes"),
    ("crc32", "u32", "CRC-32 of bytes 0 .. length with this field read as zero"),
    ("reserved", "u32", "zero"),
    ("board_count", "u16", "BOARD records, 1 .. max_boards"),
    ("link_count", "u16", "LINK records, 0 .. max_links"),
    ("stage_count", "u16", "STAGE records (one image each), 1 .. board_count"),
    ("host_buffer_count", "u16", "HOST_BUFFER records, 0 .. max_host_buffers"),
    ("step_count", "u32", "STEP records, 0 .. max_steps"),
    ("move_count", "u32", "MOVE records, 0 .. max_moves: the steps' `move_count`s summed"),
    ("dep_count", "u32", "DEP records, 0 .. max_deps: the steps' `dep_count`s summed"),
    ("batches", "u32", "batches the plan runs, at least 1"),
    ("batch", "u32", "images per batch (one run of a stage's image), at least 1"),
    ("name_length", "u32", "bytes of the plan's name, 1 .. max_name_bytes"),
    ("reserved2", "u32", "zero"),
)

LINK = S(
    "link",
    "A link between two ends (a board's index, or 255 for the host), full duplex: a "
    "transfer of n bytes takes `latency_ns` + ceil(8 n 10^9 / `bits_per_s`) ns.",
    ("a", "u8", "one end"),
    ("b", "u8", "the other end; at most one link joins two ends"),
    ("reserved", "u16", "zero"),
    ("reserved2", "u32", "zero"),
    ("bits_per_s", "u64", "rate, 1 .. max_rate of the image format"),
    ("latency_ns", "u64", "0 .. max_time_ns of the image format"),
)

HOST_BUFFER = S(
    "host_buffer",
    "A buffer the host holds for the whole plan: an input it sends, or an output it "
    "collects. A per-batch buffer is `batches` slices of `size / batches` bytes, one per batch.",
    ("name", "name32", "NUL-padded printable ASCII, unique"),
    ("role", "u8", "1 input (the host sends it), 2 output (the host collects it)"),
    ("per_batch", "u8", "1: one slice per batch (an output always is); 0: sent whole"),
    ("reserved", "u16", "zero"),
    ("reserved2", "u32", "zero"),
    ("size", "u64", "bytes, at least 1; a multiple of `batches` when per batch"),
)

STAGE = S(
    "stage",
    "A part of the plan: one image, run by the boards whose BOARD record names this stage.",
    ("image_offset", "u32", "where the image starts in the bundle"),
    ("image_length", "u32", "its bytes, at least the image header's 24"),
    ("first", "u16", "a part of a network: its first window; a system's stage: its index"),
    ("last", "u16", "one past its last window (the index plus 1), over `first`"),
    ("reserved", "u32", "zero"),
    ("run_ns", "u64", "one run of the image as the timing model predicts it, 0 .. max_time_ns"),
    (
        "program",
        "name32",
        "a system's stage: the program it runs; NUL-padded printable ASCII, or empty",
    ),
)

BOARD = S(
    "board",
    "A board of the system, in the system's order (a record's index is the board's in LINK, STEP).",
    ("name", "name16", "NUL-padded printable ASCII, unique, not `host`"),
    ("target", "name16", "its target's name; NUL-padded printable ASCII, or empty"),
    ("stage", "u16", "the stage it runs, below `stage_count`, or 0xFFFF: idle"),
    ("reserved", "u16", "zero"),
    ("reserved2", "u32", "zero"),
)

STEP = S(
    "step",
    "One step of the host's plan, in order. Its `move_count` MOVE records and `dep_count` "
    "DEP records follow the previous step's in their tables.",
    ("kind", "u8", "STEP_KINDS"),
    ("src", "u8", "sending end (a board's index or 255, the host); a run's board"),
    ("dst", "u8", "receiving end; a run's board again"),
    ("reserved", "u8", "zero"),
    ("batch", "u32", "the batch, below `batches`; 0xFFFFFFFF: none (a load, a send of constants)"),
    ("nbytes", "u64", "a load: its image's length; a run: 0; else the moves' lengths summed"),
    ("move_count", "u32", "moves of a send, transfer or collect (at least 1); 0 otherwise"),
    ("dep_count", "u32", "steps this one starts after"),
)

MOVE = S(
    "move",
    "Bytes a step carries: `length` bytes of buffer `buffer` from `src` on the sending end "
    "to `dst` on the receiving end. On a board, an address; the bytes lie inside one memory "
    "of its stage's image. On the host, an offset into the HOST_BUFFER of that name "
    "(an input for a send, an output for a collect); the bytes lie inside it.",
    ("buffer", "name32", "NUL-padded printable ASCII"),
    ("src", "u64", ""),
    ("dst", "u64", ""),
    ("length", "u64", "at least 1"),
)

DEP = S("dep", "A step the current step starts after.", ("step", "u32", "an earlier step's index"))

STEP_KIND_CODES = {k: i + 1 for i, k in enumerate(STEP_KINDS)}
# The ends a step of each kind joins: (src, dst), "host" or "board"; a run's are one board.
STEP_ENDS = {
    "load": ("host", "board"),
    "send": ("host", "board"),
    "run": ("board", "board"),
    "transfer": ("board", "board"),
    "collect": ("board", "host"),
}
ROLES = {"input": 1, "output": 2}

RECORDS = [HEADER, LINK, HOST_BUFFER, STAGE, BOARD, STEP, MOVE, DEP]


@attrs.frozen
class ErrorCode:
    """A reason the reader refuses a bundle; ``rules`` lists every condition (``{max_...}``
    names a limit of :data:`LIMITS`, or of the image format's)."""

    code: int
    name: str
    doc: str
    rules: tuple[str, ...] = ()


ERRORS = [
    ErrorCode(1, "bad_magic", "the bundle does not start with `ACIB`"),
    ErrorCode(2, "bad_version", "another major version"),
    ErrorCode(
        3,
        "bad_length",
        "the header's length differs from the bundle's size",
        (
            "the bundle is shorter than its header",
            "the header's `length` differs from the bundle's size",
        ),
    ),
    ErrorCode(4, "bad_crc", "CRC-32 mismatch"),
    ErrorCode(5, "reserved_nonzero", "a field named `reserved*` is not zero"),
    ErrorCode(
        6,
        "bad_counts",
        "a count out of range, or the records run past the bundle",
        (
            "`board_count` is 0 or over {max_boards}, `stage_count` is 0 or over `board_count`, "
            "`link_count` is over {max_links}, `host_buffer_count` over {max_host_buffers}",
            "`step_count` is over {max_steps}, `move_count` over {max_moves}, `dep_count` over {max_deps}",
            "`batches` or `batch` is 0, `name_length` is 0 or over {max_name_bytes}",
            "the records, the name or the images run past the bundle",
            "the steps' `move_count`s or `dep_count`s do not sum to the header's",
        ),
    ),
    ErrorCode(
        7, "bad_name", "the plan's name is not UTF-8 without NUL, or its padding is not zero"
    ),
    ErrorCode(
        8,
        "bad_link",
        "a link's ends, rate or latency",
        (
            "an end is neither a board's index nor 255 (the host), or both ends are the same",
            "two links join the same two ends",
            "`bits_per_s` is 0 or over the image format's `max_rate`; `latency_ns` is over its `max_time_ns`",
        ),
    ),
    ErrorCode(
        9,
        "bad_host_buffer",
        "a host buffer's name, role or size",
        (
            "a name is not NUL-padded printable ASCII, or repeats an earlier one",
            "`role` is not 1 or 2, `per_batch` not 0 or 1, or an output is not per batch",
            "`size` is 0, or a per-batch buffer's is not a multiple of `batches`",
        ),
    ),
    ErrorCode(
        10,
        "bad_stage",
        "a stage's image is out of place, or no board runs the stage",
        (
            "an image does not start at the next multiple of 8 after the name or the previous image",
            "an image runs past the bundle, a gap before it is not zero, or bytes follow the last",
            "`last` is not over `first`, or `run_ns` is over the image format's `max_time_ns`",
            "`program` is not NUL-padded printable ASCII (or empty)",
            "no board runs the stage",
        ),
    ),
    ErrorCode(
        11,
        "bad_board",
        "a board's name, target or stage",
        (
            "a name is not NUL-padded printable ASCII, repeats an earlier one, or is `host`",
            "a target name is not NUL-padded printable ASCII (or empty)",
            "`stage` is neither below `stage_count` nor 0xFFFF",
        ),
    ),
    ErrorCode(
        12,
        "bad_step",
        "a step's kind, ends, link, batch or size",
        (
            "`kind` is not one of STEP_KINDS",
            "its ends are not what its kind joins (load and send: the host to a board; run: a "
            "board, both ends; transfer: a board to another; collect: a board to the host), or "
            "a board end is idle (no stage)",
            "no link joins its ends (a transfer over a link that does not exist)",
            "`batch` is not below `batches`, or is 0xFFFFFFFF for a step other than a load or a send",
            "a load or run has moves, or a send, transfer or collect has none",
            "`nbytes` is not what its kind makes it",
            "a board is loaded twice, or a step uses a board before its load",
        ),
    ),
    ErrorCode(
        13,
        "bad_move",
        "a move's buffer or bytes",
        (
            "`buffer` is not NUL-padded printable ASCII, or `length` is 0",
            "on a board, its bytes do not lie inside one memory of the board's image",
            "on the host, no host buffer of that name and role (an input for a send, an output "
            "for a collect), or its bytes do not lie inside it",
        ),
    ),
    ErrorCode(14, "bad_dep", "a step depends on itself or on a later step"),
    ErrorCode(
        15,
        "bad_image",
        "an embedded image is refused by the image validator (docs/format.md); the detail "
        "names its code, the offset is the offending byte's in the bundle",
    ),
]
ERROR_BY_NAME = {e.name: e for e in ERRORS}


class BundleError(AciError):
    """A bundle refused by the reader: ``name`` and ``code`` of the rule, byte ``offset``."""

    def __init__(self, name: str, offset: int, detail: str):
        self.name = name
        self.code = ERROR_BY_NAME[name].code
        self.offset = offset
        self.detail = detail
        super().__init__(f"invalid bundle: {name} (code {self.code}) at offset {offset}: {detail}")


def rules(e: ErrorCode) -> tuple[str, ...]:
    names = {k: f"`{k}` ({F.number(v)})" for k, v in LIMITS.items()}
    return tuple(r.format(**names) for r in e.rules) if e.rules else (e.doc,)


def bundle_crc(data) -> int:
    """CRC-32 of the whole bundle with the crc32 field (bytes 12..16) read as zero."""
    at = HEADER.at("crc32")
    return (
        zlib.crc32(bytes(data[at + 4 :]), zlib.crc32(bytes(data[:at]) + b"\0\0\0\0")) & 0xFFFF_FFFF
    )


# ---- the value ------------------------------------------------------------------------


@attrs.frozen
class Bundle:
    """A decoded bundle: the plan (its parts' images decoded) and each board's image bytes."""

    plan: Plan
    major: int = VERSION_MAJOR
    minor: int = VERSION_MINOR

    @property
    def images(self) -> dict[str, bytes]:
        """Board name -> the image it runs (boards the plan leaves idle have none)."""
        return {b: part.data for part, boards in self.plan.stages for b in boards}

    def image(self, board: str) -> bytes:
        return self.images[board]


# ---- writing --------------------------------------------------------------------------


def _pad(n: int) -> int:
    return -n % ALIGN


def _name(s: str, size: int, what: str) -> bytes:
    raw = s.encode("ascii")
    if len(raw) >= size:
        raise BundleError("bad_name", 0, f"{what} `{s}` is over {size - 1} bytes")
    return raw


def _end(system: System, end: str) -> int:
    return HOST_END if end == HOST else system.boards.index(end)


def encode(plan: Plan) -> bytes:
    """The bundle of ``plan``; BundleError (offset 0) for a plan the format cannot hold."""
    system = plan.system
    stage_of = {b: s for s, (_, boards) in enumerate(plan.stages) for b in boards}
    name = plan.name.encode("utf-8")
    for what, n, low, high in (
        ("boards", len(system.boards), 1, LIMITS["max_boards"]),
        ("links", len(system.links), 0, LIMITS["max_links"]),
        ("host buffers", len(plan.host_buffers), 0, LIMITS["max_host_buffers"]),
        ("steps", len(plan.steps), 0, LIMITS["max_steps"]),
        ("moves", sum(len(s.moves) for s in plan.steps), 0, LIMITS["max_moves"]),
        ("dependencies", sum(len(s.deps) for s in plan.steps), 0, LIMITS["max_deps"]),
        ("bytes of the plan's name", len(name), 1, LIMITS["max_name_bytes"]),
    ):
        if not low <= n <= high:
            raise BundleError("bad_counts", 0, f"{n} {what}, not in {low} .. {high}")
    out = bytearray(
        HEADER.pack(
            magic=MAGIC,
            major=VERSION_MAJOR,
            minor=VERSION_MINOR,
            board_count=len(system.boards),
            link_count=len(system.links),
            stage_count=len(plan.stages),
            host_buffer_count=len(plan.host_buffers),
            step_count=len(plan.steps),
            move_count=sum(len(s.moves) for s in plan.steps),
            dep_count=sum(len(s.deps) for s in plan.steps),
            batches=plan.batches,
            batch=plan.batch,
            name_length=len(name),
        )
    )
    for k in system.links:
        out += LINK.pack(
            a=_end(system, k.a),
            b=_end(system, k.b),
            bits_per_s=k.bits_per_s,
            latency_ns=k.latency_ns,
        )
    for h in plan.host_buffers:
        out += HOST_BUFFER.pack(
            name=_name(h.name, 32, "host buffer"),
            role=ROLES[h.role],
            per_batch=int(h.per_batch),
            size=h.size,
        )
    tables = len(out) + len(plan.stages) * STAGE.size + len(system.boards) * BOARD.size
    tables += sum(STEP.size + len(s.moves) * MOVE.size + len(s.deps) * DEP.size for s in plan.steps)
    at = tables + _pad(tables) + len(name)
    for part, _ in plan.stages:
        at += _pad(at)
        out += STAGE.pack(
            image_offset=at,
            image_length=len(part.data),
            first=part.first,
            last=part.last,
            run_ns=part.run_ns,
            program=_name(part.program, 32, "program name"),
        )
        at += len(part.data)
    for b in system.boards:
        out += BOARD.pack(
            name=_name(b, 16, "board name"),
            target=_name(system.target(b), 16, "target name"),
            stage=stage_of.get(b, NO_STAGE),
        )
    for s in plan.steps:
        out += STEP.pack(
            kind=STEP_KIND_CODES[s.kind],
            src=_end(system, s.src),
            dst=_end(system, s.dst),
            batch=NO_BATCH if s.batch < 0 else s.batch,
            nbytes=s.nbytes,
            move_count=len(s.moves),
            dep_count=len(s.deps),
        )
    for s in plan.steps:
        for m in s.moves:
            out += MOVE.pack(
                buffer=_name(m.buffer, 32, "buffer"), src=m.src, dst=m.dst, length=m.length
            )
    for s in plan.steps:
        for d in s.deps:
            out += DEP.pack(step=d)
    assert len(out) == tables
    out += bytes(_pad(len(out))) + name
    for part, _ in plan.stages:
        out += bytes(_pad(len(out))) + part.data
    if len(out) > LIMITS["max_bundle_bytes"]:
        raise BundleError("bad_counts", 0, f"{len(out)} bytes, over {LIMITS['max_bundle_bytes']}")
    out[HEADER.at("length") : HEADER.at("length") + 4] = len(out).to_bytes(4, "little")
    out[HEADER.at("crc32") : HEADER.at("crc32") + 4] = bundle_crc(out).to_bytes(4, "little")
    return bytes(out)


def write(plan: Plan, path: str) -> int:
    """Write ``plan``'s bundle to ``path`` (whole or not at all); its size in bytes."""
    from ._io import write_atomic

    data = encode(plan)
    write_atomic(path, data)
    return len(data)


# ---- reading --------------------------------------------------------------------------


def _fail(name: str, offset: int, detail: str) -> NoReturn:
    raise BundleError(name, offset, detail)


def _zero(rec: dict, offset: int, struct: F.Struct):
    for f, off in struct.offsets():
        if f.name.startswith("reserved") and rec[f.name]:
            _fail(
                "reserved_nonzero", offset + off, f"{struct.name}.{f.name} is {rec[f.name]}, not 0"
            )


def _text(raw: bytes, offset: int, what: str, err: str, empty: bool = False) -> str:
    text, _, pad = raw.partition(b"\0")
    if pad.strip(b"\0") or (not text and not empty) or not all(0x21 <= c < 0x7F for c in text):
        _fail(err, offset, f"{what} is not a NUL-padded printable ASCII name")
    return text.decode("ascii")


class _Records:
    """The header's tables, read in order with every record's offset kept."""

    def __init__(self, data: bytes, at: int):
        self.data, self.at = data, at

    def take(self, struct: F.Struct, n: int) -> list[tuple[int, dict]]:
        out = []
        for _ in range(n):
            out.append((self.at, struct.unpack(self.data, self.at)))
            self.at += struct.size
        return out


def decode(data: bytes) -> Bundle:
    """Validate ``data`` and return its :class:`Bundle`; BundleError otherwise."""
    from .decode import ImageError
    from .decode import decode as decode_image

    data = bytes(data)
    if len(data) < HEADER.size:
        _fail(
            "bad_length",
            len(data),
            f"{len(data)} bytes is shorter than the {HEADER.size}-byte header",
        )
    h = HEADER.unpack(data)
    if h["magic"] != MAGIC:
        _fail("bad_magic", 0, f"magic is {h['magic']!r}, not {MAGIC!r}")
    if h["major"] != VERSION_MAJOR:
        _fail(
            "bad_version",
            HEADER.at("major"),
            f"bundle format {h['major']}.{h['minor']} (this reader knows {VERSION_MAJOR}.x)",
        )
    if h["length"] != len(data):
        _fail(
            "bad_length",
            HEADER.at("length"),
            f"the header says {h['length']} bytes, the bundle has {len(data)}",
        )
    crc = bundle_crc(data)
    if crc != h["crc32"]:
        _fail(
            "bad_crc",
            HEADER.at("crc32"),
            f"CRC-32 is 0x{crc:08x}, the header says 0x{h['crc32']:08x}",
        )
    _zero(h, 0, HEADER)
    nb, ns, batches = h["board_count"], h["stage_count"], h["batches"]
    for field, low, high in (
        ("board_count", 1, LIMITS["max_boards"]),
        ("stage_count", 1, nb),
        ("link_count", 0, LIMITS["max_links"]),
        ("host_buffer_count", 0, LIMITS["max_host_buffers"]),
        ("step_count", 0, LIMITS["max_steps"]),
        ("move_count", 0, LIMITS["max_moves"]),
        ("dep_count", 0, LIMITS["max_deps"]),
        ("batches", 1, NO_BATCH - 1),
        ("batch", 1, NO_BATCH),
        ("name_length", 1, LIMITS["max_name_bytes"]),
    ):
        if not low <= h[field] <= high:
            _fail(
                "bad_counts", HEADER.at(field), f"`{field}` is {h[field]}, not in {low} .. {high}"
            )
    tables = HEADER.size + sum(
        h[count] * struct.size
        for count, struct in (
            ("link_count", LINK),
            ("host_buffer_count", HOST_BUFFER),
            ("stage_count", STAGE),
            ("board_count", BOARD),
            ("step_count", STEP),
            ("move_count", MOVE),
            ("dep_count", DEP),
        )
    )
    name_at = tables + _pad(tables)
    if name_at + h["name_length"] > len(data):
        _fail(
            "bad_counts",
            HEADER.size,
            f"the records and the name need {name_at + h['name_length']} bytes, the bundle has {len(data)}",
        )
    r = _Records(data, HEADER.size)
    links_raw = r.take(LINK, h["link_count"])
    hosts_raw = r.take(HOST_BUFFER, h["host_buffer_count"])
    stages_raw = r.take(STAGE, ns)
    boards_raw = r.take(BOARD, nb)
    steps_raw = r.take(STEP, h["step_count"])
    moves_raw = r.take(MOVE, h["move_count"])
    deps_raw = r.take(DEP, h["dep_count"])
    for struct, recs in (
        (LINK, links_raw),
        (HOST_BUFFER, hosts_raw),
        (STAGE, stages_raw),
        (BOARD, boards_raw),
        (STEP, steps_raw),
    ):
        for at, rec in recs:
            _zero(rec, at, struct)
    if any(data[tables:name_at]):
        _fail("bad_name", tables, "the padding before the plan's name is not zero")
    raw_name = data[name_at : name_at + h["name_length"]]
    try:
        name = raw_name.decode("utf-8")
    except UnicodeDecodeError as e:
        _fail("bad_name", name_at + e.start, "the plan's name is not UTF-8")
    if "\0" in name:
        _fail("bad_name", name_at + raw_name.index(b"\0"), "the plan's name holds a NUL byte")

    # boards
    boards: list[str] = []
    targets: list[str] = []
    board_stage: list[int] = []
    for at, rec in boards_raw:
        b = _text(rec["name"], at, "a board name", "bad_board")
        if b == HOST or b in boards:
            _fail("bad_board", at, f"board name `{b}` is `host` or repeats an earlier one")
        boards.append(b)
        targets.append(
            _text(rec["target"], at + BOARD.at("target"), "a target name", "bad_board", True)
        )
        if rec["stage"] != NO_STAGE and rec["stage"] >= ns:
            _fail("bad_board", at + BOARD.at("stage"), f"stage {rec['stage']} is not below {ns}")
        board_stage.append(rec["stage"])

    def end(i: int, at: int, err: str) -> str:
        if i == HOST_END:
            return HOST
        if i >= nb:
            _fail(err, at, f"end {i} is neither a board (0 .. {nb - 1}) nor 255 (the host)")
        return boards[i]

    # links
    links: list[Link] = []
    joined: set[frozenset] = set()
    for at, rec in links_raw:
        a, b = end(rec["a"], at, "bad_link"), end(rec["b"], at + 1, "bad_link")
        if a == b or frozenset((a, b)) in joined:
            _fail(
                "bad_link", at, f"a link from `{a}` to `{b}` joins an end to itself or repeats one"
            )
        joined.add(frozenset((a, b)))
        if not 1 <= rec["bits_per_s"] <= F.LIMITS["max_rate"]:
            _fail(
                "bad_link",
                at + LINK.at("bits_per_s"),
                f"rate {rec['bits_per_s']} is 0 or over max_rate",
            )
        if rec["latency_ns"] > F.LIMITS["max_time_ns"]:
            _fail(
                "bad_link",
                at + LINK.at("latency_ns"),
                f"latency {rec['latency_ns']} ns is over max_time_ns",
            )
        links.append(Link(a, b, rec["bits_per_s"], rec["latency_ns"]))

    # host buffers
    host: dict[str, HostBuffer] = {}
    roles = {v: k for k, v in ROLES.items()}
    for at, rec in hosts_raw:
        n = _text(rec["name"], at, "a host buffer name", "bad_host_buffer")
        if n in host:
            _fail("bad_host_buffer", at, f"host buffer `{n}` repeats an earlier one")
        role = roles.get(rec["role"])
        if role is None or rec["per_batch"] > 1 or (role == "output" and not rec["per_batch"]):
            _fail(
                "bad_host_buffer",
                at + HOST_BUFFER.at("role"),
                f"host buffer `{n}`: role {rec['role']}, per_batch {rec['per_batch']}",
            )
        if rec["size"] == 0 or (rec["per_batch"] and rec["size"] % batches):
            _fail(
                "bad_host_buffer",
                at + HOST_BUFFER.at("size"),
                f"host buffer `{n}`: size {rec['size']} is 0 or not a multiple of {batches} batches",
            )
        host[n] = HostBuffer(n, role, bool(rec["per_batch"]), rec["size"])

    # stages and their images
    images: list[tuple[bytes, Image]] = []
    prev = name_at + h["name_length"]
    for s, (at, rec) in enumerate(stages_raw):
        off, length = rec["image_offset"], rec["image_length"]
        if off != prev + _pad(prev) or off + length > len(data):
            _fail(
                "bad_stage",
                at,
                f"stage {s}'s image at {off} ({length} bytes) is not at {prev + _pad(prev)} or runs past the bundle",
            )
        if any(data[prev:off]):
            _fail("bad_stage", prev, f"the padding before stage {s}'s image is not zero")
        if rec["last"] <= rec["first"] or rec["run_ns"] > F.LIMITS["max_time_ns"]:
            _fail(
                "bad_stage",
                at + STAGE.at("first"),
                f"stage {s}: windows {rec['first']} .. {rec['last']}, run {rec['run_ns']} ns",
            )
        if s not in board_stage:
            _fail("bad_stage", at, f"no board runs stage {s}")
        blob = data[off : off + length]
        try:
            images.append((blob, decode_image(blob)))
        except ImageError as e:
            _fail(
                "bad_image",
                off + e.offset,
                f"stage {s}'s image: {e.name} (image code {e.code}): {e.detail}",
            )
        prev = off + length
    if prev != len(data):
        _fail("bad_stage", prev, f"{len(data) - prev} bytes follow the last image")

    # steps, their moves and deps
    steps: list[Step] = []
    loaded: set[str] = set()
    mi = di = 0
    by_pair = {frozenset((k.a, k.b)) for k in links}
    for i, (at, rec) in enumerate(steps_raw):
        kind = STEP_KINDS[rec["kind"] - 1] if 1 <= rec["kind"] <= len(STEP_KINDS) else None
        if kind is None:
            _fail("bad_step", at, f"step {i}: unknown kind {rec['kind']}")
        src = end(rec["src"], at + STEP.at("src"), "bad_step")
        dst = end(rec["dst"], at + STEP.at("dst"), "bad_step")
        want = STEP_ENDS[kind]
        ok = all(
            (e == HOST) == (w == "host") and (e == HOST or board_stage[boards.index(e)] != NO_STAGE)
            for e, w in ((src, want[0]), (dst, want[1]))
        ) and ((src == dst) == (kind == "run"))
        if not ok:
            _fail(
                "bad_step",
                at + STEP.at("src"),
                f"step {i}: a {kind} from `{src}` to `{dst}` (idle boards take no step)",
            )
        if kind != "run" and frozenset((src, dst)) not in by_pair:
            _fail(
                "bad_step",
                at + STEP.at("src"),
                f"step {i}: a {kind} from `{src}` to `{dst}`, but no link joins them",
            )
        batch = -1 if rec["batch"] == NO_BATCH else rec["batch"]
        if batch >= batches or (batch < 0 and kind not in ("load", "send")):
            _fail(
                "bad_step",
                at + STEP.at("batch"),
                f"step {i}: batch {rec['batch']} of a {kind} (batches: {batches})",
            )
        board = dst if kind in ("load", "send") else src
        if kind == "load":
            if board in loaded:
                _fail("bad_step", at, f"step {i}: `{board}` is loaded a second time")
            loaded.add(board)
        for b in {src, dst} - {HOST}:
            if b not in loaded:
                _fail("bad_step", at, f"step {i}: a {kind} on `{b}` before its load")
        nmoves = rec["move_count"]
        if (nmoves == 0) != (kind in ("load", "run")):
            _fail("bad_step", at + STEP.at("move_count"), f"step {i}: a {kind} with {nmoves} moves")
        if mi + nmoves > len(moves_raw) or di + rec["dep_count"] > len(deps_raw):
            _fail(
                "bad_counts",
                at + STEP.at("move_count"),
                f"step {i}'s moves or deps run past the header's counts",
            )
        moves = []
        for mat, m in moves_raw[mi : mi + nmoves]:
            moves.append(_move(m, mat, kind, src, dst, boards, board_stage, images, host))
        mi += nmoves
        expect = (
            len(images[board_stage[boards.index(dst)]][0])
            if kind == "load"
            else sum(m.length for m in moves)
        )
        if rec["nbytes"] != expect:
            _fail(
                "bad_step",
                at + STEP.at("nbytes"),
                f"step {i}: nbytes is {rec['nbytes']}, its {kind} makes {expect}",
            )
        deps = []
        for dat, d in deps_raw[di : di + rec["dep_count"]]:
            if d["step"] >= i:
                _fail("bad_dep", dat, f"step {i} depends on step {d['step']}, not an earlier one")
            deps.append(d["step"])
        di += rec["dep_count"]
        steps.append(Step(kind, src, dst, rec["nbytes"], batch, tuple(deps), tuple(moves)))
    if mi != len(moves_raw) or di != len(deps_raw):
        _fail(
            "bad_counts",
            HEADER.at("move_count"),
            f"the steps hold {mi} moves and {di} deps, the header says {len(moves_raw)} and {len(deps_raw)}",
        )

    system = System(tuple(boards), tuple(links), tuple(targets) if any(targets) else ())
    stages = []
    for s, (at, rec) in enumerate(stages_raw):
        on = tuple(b for b, st in zip(boards, board_stage, strict=True) if st == s)
        # what one batch (the first) brings to the stage and takes from it
        ins = sum(
            x.nbytes
            for x in steps
            if x.dst in on and x.batch == 0 and x.kind in ("send", "transfer")
        )
        outs = sum(
            x.nbytes
            for x in steps
            if x.src in on and x.batch == 0 and x.kind in ("transfer", "collect")
        )
        blob, img = images[s]
        program = _text(
            rec["program"], at + STAGE.at("program"), "a program name", "bad_stage", True
        )
        part = Part(rec["first"], rec["last"], img, blob, rec["run_ns"], ins, outs, program)
        stages.append((part, on))
    plan = Plan(
        name, system, tuple(stages), batches, h["batch"], tuple(steps), tuple(host.values())
    )
    return Bundle(plan, h["major"], h["minor"])


def _move(m, at, kind, src, dst, boards, board_stage, images, host) -> Move:
    buf = _text(m["buffer"], at, "a move's buffer name", "bad_move")
    length = m["length"]
    if length == 0:
        _fail("bad_move", at + MOVE.at("length"), f"a move of `{buf}` of 0 bytes")
    for end_, field in ((src, "src"), (dst, "dst")):
        where = m[field]
        if end_ == HOST:
            role = "input" if kind == "send" else "output"
            hb = host.get(buf)
            if hb is None or hb.role != role or where + length > hb.size:
                _fail(
                    "bad_move",
                    at + MOVE.at(field),
                    f"`{buf}` bytes {where} .. {where + length} are not in an {role} host buffer of that name",
                )
        else:
            img = images[board_stage[boards.index(end_)]][1]
            if not any(
                mem.base <= where and where + length <= mem.base + mem.size
                for mem in img.target.memories
            ):
                _fail(
                    "bad_move",
                    at + MOVE.at(field),
                    f"`{buf}` bytes at {where:#x} ({length} bytes) are not inside one memory of `{end_}`",
                )
    return Move(buf, m["src"], m["dst"], length)


def read(path: str) -> Bundle:
    """The bundle in ``path``; BundleError if it is refused, OutputError if unreadable."""
    from ._io import read_input

    return decode(read_input(path, "bundle"))


def is_bundle(data: bytes) -> bool:
    """Whether ``data`` starts like a bundle (its magic), not an image."""
    return bytes(data[:4]) == MAGIC


# ---- for people ---------------------------------------------------------------------


def to_json(b: Bundle) -> dict:
    """Every record of a bundle as JSON values (``acic dump --json``), each image as
    :func:`aci.image.as_json` gives it."""
    from .image import as_json

    p = b.plan
    return {
        "bundle": {"major": b.major, "minor": b.minor},
        "name": p.name,
        "batches": p.batches,
        "batch": p.batch,
        "boards": [
            {"name": x, "target": p.system.target(x), "stage": _stage_index(p, x)}
            for x in p.system.boards
        ],
        "links": [attrs.asdict(k) for k in p.system.links],
        "host_buffers": [attrs.asdict(h) for h in p.host_buffers],
        "stages": [
            {
                "program": part.program,
                "windows": [part.first, part.last - 1],
                "boards": list(boards),
                "run_ns": part.run_ns,
                "image_bytes": len(part.data),
                "image": as_json(part.image),
            }
            for part, boards in p.stages
        ],
        "steps": [attrs.asdict(s) for s in p.steps],
    }


def _stage_index(p: Plan, board: str) -> int | None:
    return next((i for i, (_, boards) in enumerate(p.stages) if board in boards), None)


def listing(b: Bundle) -> str:
    """A bundle as text (``acic disasm``): its records, one directive a line, then each
    stage's image as :func:`aci.asm.disassemble` prints it."""
    from .asm import disassemble

    p = b.plan
    out = [
        f"; ACI bundle, format {b.major}.{b.minor}",
        f".bundle name={_quote(p.name)} batches={p.batches} batch={p.batch}",
    ]
    for x in p.system.boards:
        s = _stage_index(p, x)
        out.append(f".board {x} target={p.system.target(x) or '-'} stage={'-' if s is None else s}")
    for k in p.system.links:
        out.append(f".link {k.a} {k.b} bits_per_s={k.bits_per_s} latency_ns={k.latency_ns}")
    for h in p.host_buffers:
        out.append(f".host {h.name} role={h.role} per_batch={int(h.per_batch)} size={h.size}")
    for i, step in enumerate(p.steps):
        deps = ",".join(map(str, step.deps)) or "-"
        batch = "-" if step.batch < 0 else step.batch
        out.append(
            f".step {i} {step.kind} {step.src}->{step.dst} batch={batch} nbytes={step.nbytes} "
            f"deps={deps}"
        )
        for m in step.moves:
            out.append(f"    .move {m.buffer} src=0x{m.src:x} dst=0x{m.dst:x} length={m.length}")
    for i, (part, boards) in enumerate(p.stages):
        out += [
            "",
            f".stage {i} {part.program or '-'} windows={part.first}..{part.last - 1} "
            f"run_ns={part.run_ns} "
            f"boards={','.join(boards)}",
            disassemble(part.image).rstrip("\n"),
        ]
    return "\n".join(out) + "\n"


def _quote(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=False)
