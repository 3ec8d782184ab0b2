"""The ACI image format, defined once, as data.

Everything about the bytes of an image lives here: the header, the section table,
each section's layout, every instruction with its fields, the limits, and the
validation error codes. The encoder (:mod:`aci.encode`), the decoder and validator
(:mod:`aci.decode`), the assembly text (:mod:`aci.asm`), the tables of
``docs/format.md`` and the C header ``firmware/include/aci_format.h`` are all derived
from these tables (:mod:`aci._generate` writes the last two; a test fails when they
are stale). The image is little-endian throughout.
"""

from __future__ import annotations

import struct
import zlib

from . import record

MAGIC = b"ACIX"
VERSION_MAJOR = 1
VERSION_MINOR = 0

# Limits of the image format, each the largest value allowed (inclusive). The
# validators refuse an image that exceeds one; the checker refuses a program that
# would need to.
LIMITS = {
    "max_slots": 16,  # slot indices are 0 .. max_slots - 1
    "max_memories": 8,  # memories of a target
    "max_cores": 64,  # core kinds in one image
    "max_loop_count": 1 << 24,  # iterations of one LOOP
    "max_repeat_count": 1 << 24,
    "max_loop_depth": 4,  # LOOPs nested in one THREAD
    "max_ports": 8,  # ports of one core
    "max_params": 16,  # parameter words of one task
    "max_waits": 16,  # waits of one TASK
    "max_wait_lag": 255,  # a wait looks back at most this many operations of a slot
    "max_cycles": (1 << 32) - 1,
    "max_image_bytes": 1 << 28,
    "max_sections": 8,
    "max_dims": 8,  # dimensions of a buffer in SYMBOLS
    # RECONFs and TASKs one run executes, loops unrolled: every counter SYNC carries
    # (slot_done* are u32) holds it, and simulated time cannot overflow.
    "max_operations": (1 << 32) - 1,
    # every time field of TARGET and every duration the timing model computes (a
    # task, a reconfiguration)
    "max_time_ns": (1 << 40) - 1,
    # every rate and clock of TARGET (nonzero; products with 10^9 stay below 2^78)
    "max_rate": (1 << 48) - 1,
}

FIELD_TYPES = {  # name -> (struct code, size)
    "u8": ("B", 1),
    "u16": ("H", 2),
    "u32": ("I", 4),
    "u64": ("Q", 8),
    "i64": ("q", 8),
    "name16": ("16s", 16),
    "name32": ("32s", 32),
    "name128": ("128s", 128),
    "magic": ("4s", 4),
}


@record.frozen
class Field:
    name: str
    type: str
    doc: str = ""


@record.frozen
class Struct:
    """A fixed-size little-endian record; fields named ``reserved*`` must be zero."""

    name: str
    fields: tuple[Field, ...]
    doc: str = ""

    @property
    def fmt(self) -> str:
        return "<" + "".join(FIELD_TYPES[f.type][0] for f in self.fields)

    @property
    def size(self) -> int:
        return struct.calcsize(self.fmt)

    def offsets(self) -> list[tuple[Field, int]]:
        out, off = [], 0
        for f in self.fields:
            out.append((f, off))
            off += FIELD_TYPES[f.type][1]
        return out

    def at(self, name: str) -> int:
        """Byte offset of a field in the record."""
        return next(off for f, off in self.offsets() if f.name == name)

    def pack(self, **values) -> bytes:
        return struct.pack(
            self.fmt,
            *(
                values.get(
                    f.name, 0 if f.type not in ("name16", "name32", "name128", "magic") else b""
                )
                for f in self.fields
            ),
        )

    def unpack(self, data: bytes, offset: int = 0) -> dict:
        vals = struct.unpack_from(self.fmt, data, offset)
        return {f.name: v for f, v in zip(self.fields, vals, strict=True)}


def S(name: str, doc: str, *fields: tuple) -> Struct:
    return Struct(name, tuple(Field(*f) for f in fields), doc)


HEADER = S(
    "header",
    "At offset 0. The CRC-32 (IEEE, as zlib.crc32) covers the whole image, its own field read as zero.",
    ("magic", "magic", "`ACIX`"),
    ("major", "u16", "format major version; a board refuses another major"),
    ("minor", "u16", "format minor version; newer minors only add meaning to reserved fields"),
    ("length", "u32", "total image length in bytes"),
    ("crc32", "u32", "CRC-32 of bytes 0 .. length with this field read as zero"),
    (
        "flags",
        "u32",
        "bit 0: the image was scheduled for dataflow mode (the default mode of a run)",
    ),
    ("section_count", "u16", "entries in the section table"),
    ("reserved", "u16", "zero"),
)

SECTION_ENTRY = S(
    "section_entry",
    "The section table follows the header: one entry per section, "
    "sections in increasing offset order, none overlapping, each inside the image.",
    ("kind", "u16", "section kind (below)"),
    ("reserved", "u16", "zero"),
    ("offset", "u32", "offset of the section from the start of the image"),
    ("length", "u32", "section length in bytes"),
)

SECTION_KINDS = {
    "TARGET": 1,
    "CORES": 2,
    "SYNC": 3,
    "COMPUTE": 4,
    "PARAM": 5,
    "SYMBOLS": 6,
    "INIT": 7,
}
REQUIRED_SECTIONS = ("TARGET", "CORES", "SYNC", "COMPUTE", "PARAM")

TARGET = S(
    "target",
    "TARGET section: the board the image was built for, then `memory_count` MEMORY records.",
    ("slots", "u8", "number of slots, 1 .. max_slots"),
    ("memory_count", "u8", "memories, 1 .. max_memories"),
    ("reserved", "u16", "zero"),
    ("reserved2", "u32", "zero"),
    ("icap_bytes_per_s", "u64", "configuration port throughput"),
    ("pr_overhead_ns", "u64", "fixed cost of one partial reconfiguration"),
    ("dma_bytes_per_s", "u64", "DMA throughput of one slot"),
    ("clock_hz", "u64", "core clock"),
    ("task_overhead_ns", "u64", "fixed cost of one task"),
    ("pf_write_ns", "u64", "time to write one 32-bit parameter word"),
    ("link_bits_per_s", "u64", "host link throughput"),
    ("link_latency_ns", "u64", "host link latency"),
    ("watchdog_ns", "u64", "a task longer than this stops the run (0: no watchdog)"),
)

MEMORY = S(
    "memory",
    "A memory that DMA may touch.",
    ("name", "name16", "its name, NUL-padded"),
    ("base", "u64", "first byte"),
    ("size", "u64", "bytes; base + size must not exceed 2^64"),
)

CORES = S(
    "cores",
    "CORES section: a count, then `count` CORE records.",
    ("count", "u16", "core kinds, 1 .. max_cores"),
    ("reserved", "u16", "zero"),
    ("reserved2", "u32", "zero"),
)

CORE = S(
    "core",
    "A core kind the image uses.",
    ("id", "u8", "core id, unique in the image"),
    ("port_count", "u8", "ports, 1 .. max_ports"),
    ("param_words", "u8", "parameter words of its tasks, 0 .. max_params"),
    ("port_dirs", "u8", "bit k set: port k is an output (written by the core)"),
    ("bitstream_size", "u32", "partial bitstream bytes"),
    ("bitstream_addr", "u64", "where the bitstream lies; inside one memory"),
    ("lut", "u32", ""),
    ("ff", "u32", ""),
    ("bram", "u32", ""),
    ("dsp", "u32", ""),
    ("name", "name16", "core name, NUL-padded (traces show it)"),
)

SYNC = S(
    "sync",
    "SYNC section: words the host and the board write during a run. An image "
    "is built with all of them zero.",
    ("doorbell", "u32", "host: sequence number of the run it requests"),
    ("ack", "u32", "board: sequence number of the run it finished"),
    ("status", "u32", "board: 0 idle, 1 running, 2 done, 3 error"),
    ("error_code", "u32", "board: validation or run-time error code (below), 0 if none"),
    ("error_offset", "u32", "board: image offset of the offending byte or instruction"),
    ("reserved", "u32", "zero"),
    ("progress", "u64", "board: tasks completed"),
    *[
        (
            f"slot_done{i}",
            "u32",
            f"board: operations completed on slot {i} (never over max_operations)"
            if i == 0
            else "",
        )
        for i in range(16)
    ],
)

SYNC_STATUS = {"idle": 0, "running": 1, "done": 2, "error": 3}

# Execution modes (docs/execution.md), as a run names them and as the firmware numbers
# them. A run without a mode takes the image's own (MODE_DEFAULT in C): header flags
# bit 0 set means dataflow.
MODES = {"strict": 0, "dataflow": 1}
MODE_DEFAULT = -1

PARAM_DOC = (
    "PARAM section: 32-bit parameter words. A task's block is `param_words` words "
    "at word `param_offset`; identical blocks are stored once. A parameter is one "
    "word (two's complement for signed types, 0/1 for bool), in the order its core declares them."
)

SYMBOLS = S(
    "symbols",
    "SYMBOLS section (optional, strippable): buffer names for hosts and a line "
    "table for listings. Then `buffer_count` BUFFER records, `file_count` FILE records "
    "and `line_count` LINE records.",
    ("buffer_count", "u16", ""),
    ("file_count", "u16", ""),
    ("line_count", "u32", ""),
)

BUFFER = S(
    "buffer",
    "A named buffer.",
    ("name", "name32", "NUL-padded"),
    ("elem", "u8", "element type (ELEMENT_TYPES)"),
    ("role", "u8", "0 scratch, 1 input, 2 output"),
    ("ndims", "u8", "1 .. max_dims"),
    ("memory", "u8", "index of its memory in TARGET"),
    ("reserved", "u32", "zero"),
    ("address", "u64", ""),
    ("size", "u64", "bytes"),
    *[(f"dim{i}", "u32", "") for i in range(8)],
)

FILE = S("file", "A source file name.", ("name", "name128", "NUL-padded, truncated to 127 bytes"))

LINE = S(
    "line",
    "COMPUTE offset of an instruction and the source line it came from.",
    ("offset", "u32", "offset of the instruction in the image"),
    ("file", "u16", "index into the FILE records"),
    ("reserved", "u16", "zero"),
    ("line", "u32", "1-based line"),
)

INIT = S(
    "init",
    "INIT section (optional): the initial contents of memory, written by the board "
    "when it accepts the image, before the host writes any input (a buffer declared "
    "`from FILE` carries that file's bytes here, so the image alone runs as compiled). "
    "Then `count` CHUNK records, in increasing address order, none overlapping.",
    ("count", "u32", "chunks, at least 1 (each needs 24 bytes of the section, which bounds it)"),
    ("reserved", "u32", "zero"),
)

INIT_CHUNK = S(
    "init_chunk",
    "A run of initial bytes. The `length` bytes follow the record, then "
    "zero bytes up to the next multiple of 8.",
    ("address", "u64", "first byte written; the chunk lies inside one memory"),
    ("length", "u32", "bytes, at least 1"),
    ("reserved", "u32", "zero"),
)

ELEMENT_TYPES = {
    "bits": 0,
    "i8": 1,
    "u8": 2,
    "i16": 3,
    "u16": 4,
    "i32": 5,
    "u32": 6,
    "i64": 7,
    "u64": 8,
}
ROLES = {"scratch": 0, "input": 1, "output": 2}

# ---- instructions ----------------------------------------------------------------

INSN_HEADER = S(
    "insn_header",
    "Every instruction starts with this header; `length` counts the "
    "header, the fields and, for a container, its body.",
    ("opcode", "u8", ""),
    ("flags", "u8", "zero"),
    ("reserved", "u16", "zero"),
    ("length", "u32", "bytes of the whole instruction"),
)


@record.frozen
class Instruction:
    name: str
    opcode: int
    fields: Struct
    container: bool  # a body of instructions follows the fields
    children: tuple[str, ...]  # what its body may hold, in this order of kinds
    doc: str


PORT = S(
    "port",
    "A task's port: the bytes of board memory its view covers. Then `stride_count` i64 strides, "
    "outermost first: the address moves by stride k at each step of enclosing "
    "counted level k (the REPEAT, if any, then the LOOPs from the outside in).",
    ("address", "u64", "address at the first iteration of every enclosing level"),
    ("length", "u32", "bytes"),
    ("reserved", "u32", "zero"),
)

WAIT = S(
    "wait",
    "Dataflow: before starting, wait until slot `slot` has completed all but the "
    "last `lag` operations issued to it before this task (in program order).",
    ("slot", "u8", ""),
    ("reserved", "u8", "zero"),
    ("reserved2", "u16", "zero"),
    ("lag", "u32", "0 .. max_wait_lag"),
)

INSTRUCTIONS = [
    Instruction(
        "REPEAT",
        7,
        S("repeat", "", ("count", "u32", "1 .. max_repeat_count"), ("reserved", "u32", "zero")),
        True,
        ("WINDOW",),
        "Run the body (windows) `count` times; each TASK port inside has a stride for it.",
    ),
    Instruction(
        "WINDOW",
        1,
        S("window", ""),
        True,
        ("RECONF", "PARSEC"),
        "PR requests (RECONF) first, then PARSECs in order.",
    ),
    Instruction(
        "RECONF",
        6,
        S(
            "reconf",
            "",
            ("slot", "u8", ""),
            ("core", "u8", "core id"),
            ("reserved", "u16", "zero"),
            ("reserved2", "u32", "zero"),
        ),
        False,
        (),
        "Partially reconfigure `slot` with `core`'s bitstream through the ICAP.",
    ),
    Instruction(
        "PARSEC",
        2,
        S("parsec", ""),
        True,
        ("THREAD",),
        "Threads that run concurrently; no two of them use the same slot.",
    ),
    Instruction(
        "THREAD",
        3,
        S("thread", ""),
        True,
        ("LOOP", "TASK"),
        "A sequence of LOOPs and TASKs, one after another.",
    ),
    Instruction(
        "LOOP",
        4,
        S("loop", "", ("count", "u32", "1 .. max_loop_count"), ("reserved", "u32", "zero")),
        True,
        ("LOOP", "TASK"),
        "Run the body `count` times.",
    ),
    Instruction(
        "TASK",
        5,
        S(
            "task",
            "",
            ("slot", "u8", ""),
            ("core", "u8", "core id"),
            ("port_count", "u8", "must equal the core's"),
            ("stride_count", "u8", "enclosing counted levels (REPEAT and LOOPs)"),
            ("wait_count", "u8", "0 .. max_waits"),
            ("reserved", "u8", "zero"),
            ("param_words", "u16", "must equal the core's"),
            ("param_offset", "u32", "first word of the block in PARAM"),
            ("cycles", "u32", "the core's cycle count for these parameters"),
        ),
        False,
        (),
        "Write the parameter block into the slot's PF, bind the ports, run the core. "
        "Followed by `port_count` PORT records (each with its strides) and `wait_count` WAIT records.",
    ),
]
BY_NAME = {i.name: i for i in INSTRUCTIONS}
BY_OPCODE = {i.opcode: i for i in INSTRUCTIONS}
TOP_LEVEL = ("REPEAT", "WINDOW")  # what COMPUTE may hold

# ---- errors --------------------------------------------------------------------


@record.frozen
class ErrorCode:
    """An error code: what the board writes to SYNC ``error_code`` (and both engines report).

    ``kind`` is ``"image"`` (the validators refuse the image), ``"run"`` (a run stops)
    or ``"board"`` (the firmware alone: a limit or a fault of the board, never the
    image's). ``rules`` lists every condition under which a validator refuses an image
    with this code; ``{max_...}`` names a limit of :data:`LIMITS` (docs/format.md
    shows its value). Empty: ``doc`` is the one rule."""

    code: int
    name: str
    doc: str
    rules: tuple[str, ...] = ()
    kind: str = "image"


ERRORS = [
    ErrorCode(1, "bad_magic", "the image does not start with `ACIX`"),
    ErrorCode(2, "bad_version", "unknown major version"),
    ErrorCode(
        3,
        "bad_length",
        "the header's length differs from the image's, or the image is shorter than a header or longer than max_image_bytes",
        (
            "the image is shorter than the 24-byte header",
            "the header's `length` differs from the image's size",
            "the image is longer than {max_image_bytes} bytes",
        ),
    ),
    ErrorCode(4, "bad_crc", "CRC-32 mismatch"),
    ErrorCode(
        5,
        "bad_section_table",
        "too many sections, or the table runs past the image",
        ("`section_count` is over {max_sections}", "the section table runs past the image"),
    ),
    ErrorCode(
        6, "section_bounds", "a section runs past the end of the image or into the header or table"
    ),
    ErrorCode(7, "section_overlap", "two sections overlap or are out of order"),
    ErrorCode(8, "section_missing", "a required section is missing"),
    ErrorCode(9, "section_duplicate", "a section kind appears twice"),
    ErrorCode(10, "section_unknown", "an unknown section kind"),
    ErrorCode(
        11,
        "section_size",
        "a section's length does not match its contents",
        (
            "TARGET is not its record and `memory_count` MEMORY records",
            "CORES is not its record and `count` CORE records",
            "SYNC is not exactly one SYNC record",
            "PARAM is not a whole number of 32-bit words",
            "SYMBOLS is not its record and the BUFFER, FILE and LINE records its counts make",
        ),
    ),
    ErrorCode(
        12,
        "bad_target",
        "slot or memory count out of range, a rate or clock of 0 or over max_rate, a time over max_time_ns, memories that overlap or wrap",
        (
            "`slots` is 0 or over {max_slots}",
            "`memory_count` is 0 or over {max_memories}",
            "a rate or clock (`icap_bytes_per_s`, `dma_bytes_per_s`, `clock_hz`, `link_bits_per_s`) is 0 or over {max_rate}",
            "a time field (`pr_overhead_ns`, `task_overhead_ns`, `pf_write_ns`, `link_latency_ns`, `watchdog_ns`) is over {max_time_ns}",
            "a memory name is not NUL-padded printable ASCII (at least one byte)",
            "a memory is empty or runs past 2^64",
            "two memories overlap or have the same name",
        ),
    ),
    ErrorCode(
        13,
        "bad_core",
        "duplicate core id, port or parameter count out of range, bitstream outside memory",
        (
            "`count` is 0 or over {max_cores}",
            "a core name is not NUL-padded printable ASCII (at least one byte)",
            "a core id appears twice",
            "`port_count` is 0 or over {max_ports}, or `param_words` is over {max_params}",
            "`port_dirs` marks a port the core does not have",
            "the bitstream is empty or does not lie inside one memory",
            "one reconfiguration with the core (`pr_overhead_ns` + ceil(`bitstream_size` * 10^9 / `icap_bytes_per_s`)) takes over {max_time_ns} ns",
        ),
    ),
    ErrorCode(
        14,
        "reserved_nonzero",
        "a reserved field or flag is not zero",
        (
            "a header flag other than bit 0 is set",
            "a field named `reserved*` (header, section entry, TARGET, CORES, BUFFER, LINE, INIT, INIT_CHUNK, instruction header and fields, PORT, WAIT) is not zero",
        ),
    ),
    ErrorCode(
        15,
        "bad_symbols",
        "a SYMBOLS record is malformed (counts, names, memory index)",
        (
            "a buffer name is not NUL-padded printable ASCII, or repeats an earlier one",
            "a buffer's element type or role is unknown, its `ndims` is 0 or over {max_dims}, a dimension up to `ndims` is 0 or one after it is not",
            "a buffer's memory index is not below `memory_count`, or its bytes do not lie inside one memory",
            "a file name is not UTF-8 or not NUL-padded",
            "a line record names a file index not below `file_count`, repeats an earlier record's offset, or points at no instruction",
        ),
    ),
    ErrorCode(
        16,
        "bad_init",
        "an INIT chunk is malformed (count, bounds, order, padding)",
        (
            "`count` is 0",
            "a chunk record or a chunk's bytes run past the INIT section",
            "a chunk is empty or does not lie inside one memory",
            "a chunk starts before the end of the chunk before it (chunks in increasing address order, none overlapping)",
            "a chunk's padding (to a multiple of 8 bytes) is not zero",
            "bytes follow the last chunk",
        ),
    ),
    ErrorCode(20, "bad_opcode", "an unknown opcode"),
    ErrorCode(
        21,
        "bad_insn_length",
        "an instruction's length is shorter than its fields or runs past its container",
        (
            "fewer than 8 bytes (an instruction header) are left in the container",
            "`length` is shorter than the header and the fields, or runs past the container",
            "a RECONF has a body",
            "a TASK's `length` differs from what its port, stride and wait counts make",
        ),
    ),
    ErrorCode(
        22,
        "bad_nesting",
        "an instruction where its container does not allow it (a TASK in a PARSEC, RECONF after a PARSEC)",
        (
            "an instruction its container may not hold (COMPUTE: REPEAT, WINDOW; REPEAT: WINDOW; WINDOW: RECONF, PARSEC; PARSEC: THREAD; THREAD and LOOP: LOOP, TASK)",
            "a RECONF after a PARSEC in a WINDOW",
        ),
    ),
    ErrorCode(
        23,
        "too_deep",
        "LOOPs nested deeper than max_loop_depth",
        ("LOOPs nested more than {max_loop_depth} deep",),
    ),
    ErrorCode(
        24,
        "bad_count",
        "a LOOP or REPEAT count of zero or over its limit, or over max_operations operations in one run",
        (
            "a LOOP count is 0 or over {max_loop_count}",
            "a REPEAT count is 0 or over {max_repeat_count}",
            "one run would execute over {max_operations} operations (RECONFs and TASKs, loops unrolled; "
            "the offset is that of the first instruction past the limit)",
        ),
    ),
    ErrorCode(25, "bad_slot", "a slot index not below the target's slot count"),
    ErrorCode(26, "unknown_core", "a core id not in CORES"),
    ErrorCode(27, "bad_ports", "a TASK's port or parameter count differs from its core's"),
    ErrorCode(28, "bad_strides", "a TASK's stride count differs from its enclosing counted levels"),
    ErrorCode(
        29,
        "bad_region",
        "a port's bytes are empty or leave every memory on some iteration",
        (
            "a port's `length` is 0",
            "a port's bytes leave every memory on some iteration (checked at the corners of the iteration space)",
        ),
    ),
    ErrorCode(30, "bad_params", "a parameter block runs past the PARAM section"),
    ErrorCode(
        31,
        "bad_wait",
        "a wait names a slot out of range, or a lag over max_wait_lag, or too many waits",
        (
            "`wait_count` is over {max_waits}",
            "a wait's slot is not below the target's slot count, or its lag is over {max_wait_lag}",
        ),
    ),
    ErrorCode(32, "parsec_slot_conflict", "two threads of one PARSEC use the same slot"),
    ErrorCode(
        33,
        "bad_cycles",
        "a task's duration cannot be represented",
        (
            "a task takes over {max_time_ns} ns (`task_overhead_ns` + `param_words` * `pf_write_ns` + the longest of its "
            "input DMA, its cycles at `clock_hz` and its output DMA)",
        ),
    ),
    ErrorCode(40, "wrong_core", "run time: a task's slot holds another core (or none)", kind="run"),
    ErrorCode(
        41, "watchdog", "run time: a task would run longer than the target's watchdog", kind="run"
    ),
    ErrorCode(
        42, "no_model", "run time (simulator): no functional model for a core id", kind="run"
    ),
    ErrorCode(
        254,
        "work_area",
        "board: the work area the board gave the executor is smaller than the image "
        "needs (a limit of the board, never the image's fault); the run stops before anything starts",
        kind="board",
    ),
    ErrorCode(
        255,
        "internal",
        "board: a broken invariant of the firmware itself (a bug), never the image's fault",
        kind="board",
    ),
]
ERROR_BY_NAME = {e.name: e for e in ERRORS}

# The words of each run-time error, as data: both engines fill the same template with
# the same numbers (aci.machine and aci.run here; the firmware's simulator through
# the generated firmware/include/aci_messages.h, never the firmware core, which
# reports a code, an offset and a time). ``{field}`` names one of MESSAGE_FIELDS; a
# key is its error's name, or that name, `_` and a variant.
MESSAGES = {
    "wrong_core": "the task needs `{core}` on slot {slot}, which holds `{held}` (core id {held_id})",
    "wrong_core_empty": "the task needs `{core}` on slot {slot}, which holds no core",
    "watchdog": "the task would take {duration_ns} ns, over the watchdog's {watchdog_ns} ns",
    # the board only: the hardware did not report an operation done in time
    "watchdog_hung": "slot {slot} did not report its operation done within {hang_ns} ns of the end "
    "the timing model gives it",
    "no_model": "no functional model for core `{core}` (core id {core_id}): run with --timing-only to simulate "
    "time only, or give the core a model: `--models FILE.py` (python engine), `--models LIB.so` "
    "(firmware engine); docs/models.md says how",
    "no_model_mismatch": "the functional model of `{core}` does not take this task "
    "(parameter words [{params}], port lengths [{lengths}])",
}
# Field -> kind: "str" (a core name), "int" (a number, decimal), "ints" (numbers
# joined with MESSAGE_LIST_SEP).
MESSAGE_FIELDS = {
    "core": "str",
    "held": "str",
    "slot": "int",
    "held_id": "int",
    "core_id": "int",
    "duration_ns": "int",
    "watchdog_ns": "int",
    "hang_ns": "int",
    "params": "ints",
    "lengths": "ints",
}
MESSAGE_LIST_SEP = ", "


def message_error(key: str) -> ErrorCode:
    """The error a message belongs to: its key is the error's name, or starts with it and `_`."""
    return next(e for e in ERRORS if key == e.name or key.startswith(e.name + "_"))


def message(key: str, **fields) -> str:
    """The run-time error message ``key`` filled with ``fields``."""
    return MESSAGES[key].format(
        **{
            k: MESSAGE_LIST_SEP.join(map(str, v)) if MESSAGE_FIELDS[k] == "ints" else v
            for k, v in fields.items()
        }
    )


ERROR_BY_CODE = {e.code: e for e in ERRORS}


def image_crc(data) -> int:
    """CRC-32 of the whole image with the crc32 field (bytes 12..16) read as zero."""
    return zlib.crc32(bytes(data[16:]), zlib.crc32(bytes(data[:12]) + b"\0\0\0\0")) & 0xFFFF_FFFF


def rules(e: ErrorCode) -> tuple[str, ...]:
    """Every condition under which a validator refuses an image with ``e``, limits
    named as `` `max_slots` (16)``."""
    names = {k: f"`{k}` ({number(v)})" for k, v in LIMITS.items()}
    return tuple(r.format(**names) for r in e.rules) if e.rules else (e.doc,)


def number(v: int) -> str:
    """A limit as people read it: 2^k, 2^k - 1, or decimal."""
    for k in range(10, 65):
        if v == 1 << k:
            return f"2^{k}"
        if v == (1 << k) - 1:
            return f"2^{k} - 1"
    return str(v)
