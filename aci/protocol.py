"""The board protocol, defined once, as data: what a host and a board daemon say to
each other over ZeroMQ (docs/protocol.md is the normative description).

Every message is one ZeroMQ frame: a 32-byte HEADER, the fixed fields of its type,
then its payload (bytes whose meaning the type gives: an image, memory, a trace
chunk, a text). Requests go host -> board; every request gets exactly one reply with
the same ``request_id`` (its type's reply, or ERROR). Everything is little-endian;
fields named ``reserved*`` are zero.

This module holds the tables (header, messages, fields, limits, error codes, the
idempotency window) and a small codec, :func:`pack` and :func:`unpack`, which
validates everything and raises :class:`ProtocolError` naming the error code. The
board daemon (``firmware/daemon/``) reads the same tables through the generated
``firmware/include/aci_protocol.h``; :mod:`aci._generate` writes it and the tables
of ``docs/protocol.md``, and a test fails when either is stale.
"""

from __future__ import annotations

import re
import zlib

import attrs

from . import format as F
from .format import FIELD_TYPES, S, Struct

MAGIC = b"ACIP"
VERSION_MAJOR = 2  # a board refuses a message of another major version
VERSION_MINOR = 0  # newer minors only add meaning to reserved fields and new types
FIRMWARE_VERSION = "acifw 1.0"  # what the daemon reports in HELLO

LIMITS = {
    # Largest message the protocol allows: a header, LOAD's fields and an image of
    # the format's largest size. A board announces its own (smaller) maximum in
    # HELLO; a bigger message is dropped unread and its connection closed.
    "max_message_bytes": (1 << 28) + 4096,
    "max_data_bytes": 1 << 24,  # bytes of one WRITE, READ or TRACE reply's payload
    "max_text_bytes": 512,  # ERROR's detail, UTF-8
    "remembered_requests": 64,  # replies a board keeps per client (idempotency window)
    "remembered_runs": 16,  # results of the last runs a board keeps, by sequence number
    "max_clients": 16,  # clients (public keys) a board tracks at once
    "max_wait_ms": 60_000,  # the longest a RUN may ask the board to hold its reply
}

HEADER = S(
    "msg_header",
    "Every message starts with this header, in both directions.",
    ("magic", "magic", "`ACIP`"),
    ("major", "u16", "protocol major version; another major is refused with `protocol_mismatch`"),
    ("minor", "u16", "protocol minor version"),
    ("type", "u16", "message type (below)"),
    ("reserved", "u16", "zero"),
    ("length", "u32", "bytes of the whole message: header, fields, payload"),
    ("request_id", "u64", "request: chosen by the host, nonzero; reply: the request's"),
    (
        "epoch",
        "u64",
        "request: the board's boot epoch as the host knows it (0: any, HELLO and "
        "STATUS only); reply: the board's current epoch",
    ),
)

# A board's target description (HELLO's reply, the daemon's --target file): a name,
# then the image format's TARGET section (the TARGET record and its MEMORY records).
TARGET_DESC = S(
    "target_desc",
    "The board's target: its name, then a TARGET section "
    "exactly as in an image (docs/format.md), or nothing for a board that "
    "takes any target.",
    ("name", "name16", "the target's name, NUL-padded (`zcu102`)"),
)


@attrs.frozen
class Payload:
    """What follows a message's fields: its meaning and its largest size (a LIMITS key)."""

    doc: str
    limit: str


@attrs.frozen
class Message:
    name: str
    type: int
    fields: Struct
    payload: Payload | None
    doc: str
    # Requests: whether the board remembers its reply for retries (it changes
    # state), and whether it must carry the board's current epoch.
    mutating: bool = False
    needs_epoch: bool = False

    @property
    def is_request(self) -> bool:
        return self.type < 0x80


# RUN's mode: 0 takes the image's own, else 1 + the mode's number (aci.format.MODES)
RUN_MODES = {"image": 0, **{name: 1 + v for name, v in F.MODES.items()}}
RUN_FLAGS = {"timing_only": 1, "trace": 2}  # RUN's flags: bit values
BOARD_STATES = {"empty": 0, "loaded": 1, "running": 2}
RUN_STATES = {
    "running": 1,
    "done": 2,
    "error": 3,
    "reset": 4,
}  # RUN_RESULT's state; 1..3 as SYNC's status
TRACE_STATES = {"none": 0, "kept": 1, "too_large": 2}

_SYNC_FIELDS = tuple(
    (f"sync_{f.name}", f.type, f"SYNC `{f.name}`" if i < 7 else "")
    for i, f in enumerate(F.SYNC.fields)
)

RESULT_FIELDS = (
    ("seq", "u32", "the run's sequence number"),
    (
        "state",
        "u8",
        "RUN_STATES: 1 running (no result yet), 2 done, 3 error (error_code says why), "
        "4 stopped by a RESET (no result; only to RUNs held for it)",
    ),
    ("mode", "u8", "the mode it ran in: 1 strict, 2 dataflow"),
    (
        "trace_state",
        "u8",
        "TRACE_STATES: 0 not kept, 1 kept (read it with TRACE), 2 larger than the board keeps",
    ),
    ("reserved", "u8", "zero"),
    ("image_crc32", "u32", "the CRC of the image it ran"),
    ("error_code", "u32", "0, or the run-time error code (docs/format.md)"),
    ("error_offset", "u32", "image offset of the offending instruction"),
    ("image_bytes", "u32", "its length"),
    ("error_t", "u64", "simulated time of the error (ns)"),
    ("t0", "u64", "simulated arrival of the image (ns)"),
    ("t_end", "u64", "last completion (ns)"),
    ("total_ns", "u64", "what the host sees (ns)"),
    ("tasks", "u64", ""),
    ("prs", "u64", "reconfigurations performed"),
    ("pr_ns", "u64", "time spent reconfiguring, all slots"),
    ("operations", "u64", ""),
    ("trace_bytes", "u64", "bytes of its canonical trace (JSON lines) when kept"),
    ("wall_ns", "u64", "wall-clock time the run took on the board"),
    *[(f"busy_ns{i}", "u64", "per slot: time running tasks" if i == 0 else "") for i in range(16)],
    *[
        (f"reconf_ns{i}", "u64", "per slot: time reconfiguring" if i == 0 else "")
        for i in range(16)
    ],
    *_SYNC_FIELDS,
    # The words of a run-time error: the template of aci.format.MESSAGES and its
    # arguments (MESSAGE_ARGUMENTS), which the host fills as the local engines do.
    (
        "message",
        "u8",
        "the run-time error's words: 0 none, else 1 + the index of their template in "
        "aci/format.py MESSAGES (docs/execution.md); the fields below are its arguments",
    ),
    ("msg_slot", "u8", "`slot`"),
    ("msg_params_count", "u8", "entries of `params` (msg_params*)"),
    ("msg_lengths_count", "u8", "entries of `lengths` (msg_lengths*)"),
    ("msg_core_id", "u16", "`core_id`; `core` is its name in the image's CORES"),
    ("msg_held_id", "u16", "`held_id` (0xFFFF: none); `held` is its name in the image's CORES"),
    ("msg_duration_ns", "u64", "`duration_ns`"),
    ("msg_watchdog_ns", "u64", "`watchdog_ns`"),
    ("msg_hang_ns", "u64", "`hang_ns`"),
    *[
        (f"msg_params{i}", "u32", "`params`: the task's parameter words" if i == 0 else "")
        for i in range(F.LIMITS["max_params"])
    ],
    *[
        (f"msg_lengths{i}", "u32", "`lengths`: the task's port lengths" if i == 0 else "")
        for i in range(F.LIMITS["max_ports"])
    ],
)
# How each argument of a template (aci.format.MESSAGE_FIELDS) travels in RUN_RESULT:
# a field, a core id whose name the image's CORES give, or a counted list of fields.
MESSAGE_ARGUMENTS = {
    "core": ("name_of", "msg_core_id"),
    "held": ("name_of", "msg_held_id"),
    "slot": ("field", "msg_slot"),
    "held_id": ("field", "msg_held_id"),
    "core_id": ("field", "msg_core_id"),
    "duration_ns": ("field", "msg_duration_ns"),
    "watchdog_ns": ("field", "msg_watchdog_ns"),
    "hang_ns": ("field", "msg_hang_ns"),
    "params": ("list", "msg_params"),
    "lengths": ("list", "msg_lengths"),
}

MESSAGES = [
    # ---- requests --------------------------------------------------------------------
    Message(
        "HELLO",
        1,
        S(
            "hello",
            "",
            ("major", "u16", "the host's protocol major"),
            ("minor", "u16", "the host's protocol minor"),
            ("image_major", "u16", "the image format major the host writes"),
            ("image_minor", "u16", ""),
            ("client", "name32", "the host's name, for the board's log"),
        ),
        None,
        "Opens a session: versions are checked, the board answers with its own, its "
        "target and its epoch. Also raises this client's request-id floor to its id (below).",
    ),
    Message(
        "LOAD",
        2,
        S(
            "load",
            "",
            ("image_bytes", "u32", "bytes of the image (the payload)"),
            ("image_crc32", "u32", "zlib.crc32 of the image, as a check of the transfer"),
            ("check_target", "u8", "1: refuse an image whose TARGET differs from the board's"),
            ("reserved", "u8", "zero"),
            ("reserved2", "u16", "zero"),
            ("reserved3", "u32", "zero"),
        ),
        Payload("the image", "max_message_bytes"),
        "Validates the image (as the firmware does), checks its format version and target, "
        "backs the memory it can touch (zeroed), writes its initial memory (INIT) and "
        "prepares it; replaces any image.",
        mutating=True,
        needs_epoch=True,
    ),
    Message(
        "WRITE",
        3,
        S(
            "write",
            "",
            ("address", "u64", "by range: board address; by symbol: byte offset in the buffer"),
            ("length", "u32", "bytes (the payload)"),
            ("reserved", "u32", "zero"),
            ("symbol", "name32", "a SYMBOLS buffer name, or empty for a range"),
        ),
        Payload("the bytes", "max_data_bytes"),
        "Writes memory the loaded image declares (its ports, bitstreams and buffers).",
        mutating=True,
        needs_epoch=True,
    ),
    Message(
        "READ",
        4,
        S(
            "read",
            "",
            ("address", "u64", "as WRITE"),
            ("length", "u32", "bytes, 1 .. max_data_bytes"),
            ("reserved", "u32", "zero"),
            ("symbol", "name32", "as WRITE"),
        ),
        None,
        "Reads memory the loaded image declares.",
        needs_epoch=True,
    ),
    Message(
        "RUN",
        5,
        S(
            "run",
            "",
            (
                "seq",
                "u32",
                "sequence number: nonzero; a new run's is above every earlier one of this epoch",
            ),
            ("mode", "u8", "RUN_MODES: 0 the image's own, 1 strict, 2 dataflow"),
            ("flags", "u8", "RUN_FLAGS: bit 0 timing only, bit 1 keep the trace"),
            ("reserved", "u16", "zero"),
            (
                "wait_ms",
                "u32",
                "how long the board may hold the reply for the run to end "
                "(0 .. max_wait_ms); then RUN_RESULT says running",
            ),
            ("reserved2", "u32", "zero"),
        ),
        None,
        "Rings the doorbell: starts a run of the loaded image (one at a time), or "
        "answers for the run with that sequence number.",
        mutating=True,
        needs_epoch=True,
    ),
    Message(
        "STATUS",
        6,
        S("status", ""),
        None,
        "The board's state and the SYNC words; answered at once, also while a run goes on.",
    ),
    Message(
        "RESET",
        7,
        S("reset", ""),
        None,
        "Stops a run (its result is dropped), forgets the image, memory and results, and "
        "draws a new epoch.",
        mutating=True,
        needs_epoch=True,
    ),
    Message(
        "TRACE",
        8,
        S(
            "trace",
            "",
            ("seq", "u32", "the run's sequence number"),
            ("length", "u32", "bytes wanted, 1 .. max_data_bytes"),
            ("offset", "u64", "first byte of the trace"),
        ),
        None,
        "Reads a chunk of the canonical trace of the last run that kept one.",
        needs_epoch=True,
    ),
    # ---- replies ---------------------------------------------------------------------
    Message(
        "HELLO_REPLY",
        0x81,
        S(
            "hello_reply",
            "",
            ("major", "u16", "the board's protocol major"),
            ("minor", "u16", ""),
            ("image_major", "u16", "the image format major the board runs"),
            ("image_minor", "u16", ""),
            ("max_message_bytes", "u32", "the largest message it takes"),
            ("max_data_bytes", "u32", "the largest WRITE/READ/TRACE payload"),
            ("max_trace_bytes", "u64", "the largest trace it keeps"),
            ("firmware", "name32", "firmware name and version"),
            ("target", "name16", "the board's target name (empty: any target)"),
            ("pace", "u32", "wall-clock ns per 1000 simulated ns (0: unpaced)"),
            ("reserved", "u32", "zero"),
        ),
        Payload(
            "the board's TARGET section (docs/format.md), empty when it takes any target",
            "max_data_bytes",
        ),
        "The board's versions, limits, target and (in the header) epoch.",
    ),
    Message(
        "LOAD_REPLY",
        0x82,
        S(
            "load_reply",
            "",
            ("image_bytes", "u32", ""),
            ("image_crc32", "u32", ""),
            ("operations", "u64", "RECONFs and TASKs of one run"),
            ("backed_bytes", "u64", "board memory backed for it"),
        ),
        None,
        "The image is valid, prepared and loaded.",
    ),
    Message(
        "WRITE_REPLY",
        0x83,
        S(
            "write_reply",
            "",
            ("address", "u64", "the absolute board address written"),
            ("length", "u32", ""),
            ("reserved", "u32", "zero"),
        ),
        None,
        "The bytes are written.",
    ),
    Message(
        "READ_REPLY",
        0x84,
        S(
            "read_reply",
            "",
            ("address", "u64", "the absolute board address read"),
            ("length", "u32", ""),
            ("reserved", "u32", "zero"),
        ),
        Payload("the bytes", "max_data_bytes"),
        "The bytes read.",
    ),
    Message(
        "RUN_RESULT",
        0x85,
        S("run_result", "", *RESULT_FIELDS),
        None,
        "A run's state and, once it ended, its result (as `acifw-sim --json`), per-slot times and SYNC words.",
    ),
    Message(
        "STATUS_REPLY",
        0x86,
        S(
            "status_reply",
            "",
            ("state", "u8", "BOARD_STATES: 0 empty, 1 loaded, 2 running"),
            ("reserved", "u8", "zero"),
            ("reserved2", "u16", "zero"),
            ("image_crc32", "u32", "the loaded image's CRC (0: none)"),
            ("image_bytes", "u32", ""),
            ("running_seq", "u32", "the run going on (0: none)"),
            ("last_seq", "u32", "the last run that ended in this epoch (0: none)"),
            ("reserved3", "u32", "zero"),
            ("uptime_ns", "u64", "wall-clock time since the epoch began"),
            *_SYNC_FIELDS,
        ),
        None,
        "The board's state; the SYNC words as the running (or last) run leaves them.",
    ),
    Message(
        "RESET_REPLY",
        0x87,
        S("reset_reply", "", ("old_epoch", "u64", "the epoch that ended")),
        None,
        "The board is empty; the header carries its new epoch.",
    ),
    Message(
        "TRACE_REPLY",
        0x88,
        S(
            "trace_reply",
            "",
            ("seq", "u32", ""),
            ("length", "u32", "bytes in the payload"),
            ("offset", "u64", ""),
            ("total", "u64", "bytes of the whole trace"),
        ),
        Payload("the trace's bytes offset .. offset + length", "max_data_bytes"),
        "A chunk of a trace.",
    ),
    Message(
        "ERROR",
        0xFF,
        S(
            "error",
            "",
            ("code", "u16", "protocol error code (below)"),
            ("reserved", "u16", "zero"),
            (
                "image_error",
                "u32",
                "image_refused, run errors: the firmware's code (docs/format.md)",
            ),
            ("image_offset", "u32", "its byte offset"),
            ("text_bytes", "u32", "bytes of the detail (the payload)"),
        ),
        Payload("the detail: UTF-8 text naming what did not match or fit", "max_text_bytes"),
        "The request was refused (nothing changed on the board) or failed.",
    ),
]
BY_NAME = {m.name: m for m in MESSAGES}
BY_TYPE = {m.type: m for m in MESSAGES}
REPLY = {
    m.name: BY_NAME[m.name + ("_RESULT" if m.name == "RUN" else "_REPLY")]
    for m in MESSAGES
    if m.is_request
}


@attrs.frozen
class ErrorCode:
    code: int
    name: str
    doc: str


ERRORS = [
    ErrorCode(
        1,
        "malformed",
        "the message is too short, its length field or payload size is wrong, a "
        "reserved field is not zero, a name is not NUL-padded ASCII",
    ),
    ErrorCode(2, "protocol_mismatch", "the message's protocol major version is not the board's"),
    ErrorCode(3, "unknown_type", "no request has this type"),
    ErrorCode(4, "too_large", "a length over a limit of the protocol or of this board"),
    ErrorCode(
        5,
        "stale_epoch",
        "the request names an epoch that is not the board's: the board restarted "
        "or was reset since the host learnt it; nothing was done",
    ),
    ErrorCode(
        6,
        "stale_request",
        "a mutating request whose id is not above this client's highest and "
        "whose reply is no longer remembered; nothing was done",
    ),
    ErrorCode(7, "no_image", "no image is loaded"),
    ErrorCode(
        8, "image_refused", "the firmware's validator refused the image (image_error, image_offset)"
    ),
    ErrorCode(9, "image_mismatch", "the image's format major version is not the board's"),
    ErrorCode(
        10,
        "target_mismatch",
        "the image's TARGET differs from the board's (the detail names the field)",
    ),
    ErrorCode(
        11,
        "busy",
        "a run is going on: LOAD, WRITE, READ and a RUN of another sequence number "
        "wait for it to end",
    ),
    ErrorCode(12, "bad_address", "bytes outside the memory the loaded image declares"),
    ErrorCode(13, "no_symbol", "no SYMBOLS buffer of that name, or bytes past its end"),
    ErrorCode(
        14,
        "stale_seq",
        "a RUN's sequence number is zero, or not above the last run started in "
        "this epoch and not remembered; nothing ran",
    ),
    ErrorCode(15, "no_result", "TRACE of a run whose trace the board does not keep"),
    ErrorCode(
        16,
        "board_limit",
        "the image needs more memory than the board backs, or the board is out of memory",
    ),
    ErrorCode(
        17, "bad_crc", "LOAD's image_crc32 is not the CRC of the payload (damaged in transit)"
    ),
    ErrorCode(18, "internal", "a broken invariant of the daemon (a bug)"),
]
ERROR_BY_NAME = {e.name: e for e in ERRORS}
ERROR_BY_CODE = {e.code: e for e in ERRORS}

_TEXT_TYPES = ("name16", "name32", "name128")


class ProtocolError(Exception):
    """A message that breaks the protocol, or an ERROR reply: ``name`` is the code's name."""

    def __init__(
        self,
        name: str,
        detail: str,
        request_id: int = 0,
        image_error: int = 0,
        image_offset: int = 0,
    ):
        super().__init__(f"{name}: {detail}")
        self.name = name
        self.code = ERROR_BY_NAME[name].code
        self.detail = detail
        self.request_id = request_id
        self.image_error = image_error
        self.image_offset = image_offset


@attrs.frozen
class Msg:
    """A decoded message: its type's name, the header's ids, its fields and payload."""

    name: str
    request_id: int
    epoch: int
    fields: dict
    payload: bytes = b""
    minor: int = VERSION_MINOR

    @property
    def spec(self) -> Message:
        return BY_NAME[self.name]


def _limit(name: str) -> int:
    return LIMITS[name]


def _check_name(value: bytes, field: str) -> str:
    text = value.rstrip(b"\0")
    if b"\0" in text or any(c < 0x20 or c > 0x7E for c in text):
        raise ProtocolError("malformed", f"field `{field}` is not NUL-padded printable ASCII")
    return text.decode("ascii")


def pack(name: str, request_id: int, epoch: int = 0, payload: bytes = b"", **fields) -> bytes:
    """One message's bytes. Text fields (name16/name32) take str; missing fields are 0.
    ERROR's ``text_bytes`` and the length fields that count the payload are filled in."""
    m = BY_NAME[name]
    payload = bytes(payload)
    if m.payload is None and payload:
        raise ValueError(f"{name} has no payload")
    if m.payload is not None and len(payload) > _limit(m.payload.limit):
        raise ValueError(f"{name}'s payload is over {m.payload.limit}")
    unknown = set(fields) - {f.name for f in m.fields.fields}
    if unknown:
        raise ValueError(f"{name} has no field {sorted(unknown)[0]}")
    values = {}
    for f in m.fields.fields:
        v = fields.get(f.name, "" if f.type in _TEXT_TYPES else 0)
        if f.type in _TEXT_TYPES:
            raw = v.encode("ascii") if isinstance(v, str) else bytes(v)
            if len(raw) > FIELD_TYPES[f.type][1]:
                raise ValueError(f"{name}.{f.name} is longer than {FIELD_TYPES[f.type][1]} bytes")
            v = raw
        values[f.name] = v
    if name == "ERROR":
        values["text_bytes"] = len(payload)
    body = m.fields.pack(**values)
    length = HEADER.size + len(body) + len(payload)
    head = HEADER.pack(
        magic=MAGIC,
        major=VERSION_MAJOR,
        minor=VERSION_MINOR,
        type=m.type,
        length=length,
        request_id=request_id,
        epoch=epoch,
    )
    return head + body + payload


def unpack(data: bytes) -> Msg:
    """Decode and validate one message; ProtocolError names what is wrong."""
    data = bytes(data)
    if len(data) < HEADER.size:
        raise ProtocolError(
            "malformed", f"{len(data)} bytes is shorter than the {HEADER.size}-byte header"
        )
    h = HEADER.unpack(data)
    rid = h["request_id"]
    if h["magic"] != MAGIC:
        raise ProtocolError("malformed", f"the message does not start with `{MAGIC.decode()}`", rid)
    if h["major"] != VERSION_MAJOR:
        raise ProtocolError(
            "protocol_mismatch",
            f"protocol version {h['major']}.{h['minor']}, "
            f"this side speaks {VERSION_MAJOR}.{VERSION_MINOR}",
            rid,
        )
    if h["reserved"]:
        raise ProtocolError("malformed", "the header's reserved field is not zero", rid)
    if h["length"] != len(data):
        raise ProtocolError(
            "malformed", f"the header says {h['length']} bytes, the message has {len(data)}", rid
        )
    m = BY_TYPE.get(h["type"])
    if m is None:
        raise ProtocolError("unknown_type", f"no message has type {h['type']}", rid)
    if m.is_request and rid == 0:
        raise ProtocolError("malformed", "a request's id must not be zero", rid)
    end = HEADER.size + m.fields.size
    if len(data) < end:
        raise ProtocolError(
            "malformed",
            f"{m.name} needs {m.fields.size} bytes of fields, the message has "
            f"{len(data) - HEADER.size}",
            rid,
        )
    fields = m.fields.unpack(data, HEADER.size)
    for f in m.fields.fields:
        if f.name.startswith("reserved") and fields[f.name]:
            raise ProtocolError("malformed", f"{m.name}.{f.name} is not zero", rid)
        if f.type in _TEXT_TYPES:
            fields[f.name] = _check_name(fields[f.name], f"{m.name}.{f.name}")
    payload = data[end:]
    if m.payload is None and payload:
        raise ProtocolError(
            "malformed", f"{m.name} has no payload but {len(payload)} bytes follow its fields", rid
        )
    if m.payload is not None and len(payload) > _limit(m.payload.limit):
        raise ProtocolError(
            "too_large",
            f"{m.name}'s payload of {len(payload)} bytes is over "
            f"{m.payload.limit} ({_limit(m.payload.limit)})",
            rid,
        )
    counted = {
        "LOAD": "image_bytes",
        "WRITE": "length",
        "READ_REPLY": "length",
        "TRACE_REPLY": "length",
        "ERROR": "text_bytes",
    }.get(m.name)
    if counted and fields[counted] != len(payload):
        raise ProtocolError(
            "malformed",
            f"{m.name}.{counted} says {fields[counted]} bytes, the payload has {len(payload)}",
            rid,
        )
    _check_values(m, fields, payload, rid)
    return Msg(m.name, rid, h["epoch"], fields, payload, h["minor"])


def _check_values(m: Message, f: dict, payload: bytes, rid: int) -> None:
    """The rules on field values that a receiver checks before acting."""

    def bad(name, detail):
        raise ProtocolError(name, detail, rid)

    if m.name == "LOAD":
        if f["check_target"] > 1:
            bad("malformed", "LOAD.check_target is 0 or 1")
        if zlib.crc32(payload) != f["image_crc32"]:
            bad("bad_crc", "the image's CRC is not LOAD.image_crc32: damaged in transit")
    elif m.name in ("READ", "TRACE"):
        if not 1 <= f["length"] <= LIMITS["max_data_bytes"]:
            bad(
                "too_large" if f["length"] else "malformed",
                f"{m.name}.length is {f['length']}, not 1 .. {LIMITS['max_data_bytes']}",
            )
    elif m.name == "WRITE":
        if not payload:
            bad("malformed", "WRITE of zero bytes")
    elif m.name == "RUN":
        if f["mode"] not in RUN_MODES.values():
            bad("malformed", f"RUN.mode {f['mode']} is not one of {sorted(RUN_MODES.values())}")
        if f["flags"] & ~sum(RUN_FLAGS.values()):
            bad("malformed", f"RUN.flags {f['flags']:#x} sets an undefined bit")
        if f["wait_ms"] > LIMITS["max_wait_ms"]:
            bad(
                "too_large",
                f"RUN.wait_ms {f['wait_ms']} is over max_wait_ms ({LIMITS['max_wait_ms']})",
            )
        if f["seq"] == 0:
            bad("stale_seq", "RUN.seq must not be zero")
    elif m.name == "ERROR":
        if f["code"] not in ERROR_BY_CODE:
            bad("malformed", f"ERROR.code {f['code']} is not a protocol error code")
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            bad("malformed", "ERROR's detail is not UTF-8")


def error_of(msg: Msg) -> ProtocolError:
    """The ProtocolError an ERROR reply carries."""
    f = msg.fields
    return ProtocolError(
        ERROR_BY_CODE[f["code"]].name,
        msg.payload.decode("utf-8"),
        msg.request_id,
        f["image_error"],
        f["image_offset"],
    )


def error(
    request_id: int, epoch: int, name: str, detail: str, image_error: int = 0, image_offset: int = 0
) -> bytes:
    """An ERROR reply's bytes (the detail cut to max_text_bytes on a character boundary)."""
    text = (
        detail.encode("utf-8")[: LIMITS["max_text_bytes"]].decode("utf-8", "ignore").encode("utf-8")
    )
    return pack(
        "ERROR",
        request_id,
        epoch,
        text,
        code=ERROR_BY_NAME[name].code,
        image_error=image_error,
        image_offset=image_offset,
    )


def message_of(result: dict, core_name) -> str | None:
    """The words of a RUN_RESULT's run-time error (its ``message`` and arguments) as
    the local engines write them, or None when it carries none; ``core_name(id)``
    names a core of the image that ran."""
    key = result.get("message", 0)
    if not key:
        return None
    keys = list(F.MESSAGES)
    if key > len(keys):
        raise ValueError(f"RUN_RESULT.message {key} names no template of aci.format.MESSAGES")
    template = keys[key - 1]
    args = {}
    for name in re.findall(r"\{(\w+)\}", F.MESSAGES[template]):
        how, field = MESSAGE_ARGUMENTS[name]
        if how == "field":
            args[name] = result[field]
        elif how == "name_of":
            args[name] = core_name(result[field])
        else:
            args[name] = [result[f"{field}{i}"] for i in range(result[f"{field}_count"])]
    return F.message(template, **args)


def sync_of(status: dict) -> dict:
    """The SYNC words of a STATUS_REPLY's fields, as aci.format.SYNC names them."""
    return {f.name: status[f"sync_{f.name}"] for f in F.SYNC.fields}


def target_section(desc: bytes) -> tuple[str, bytes]:
    """A --target file (TARGET_DESC then a TARGET section): its name and section bytes."""
    if len(desc) < TARGET_DESC.size + F.TARGET.size:
        raise ValueError(
            f"a target description is at least {TARGET_DESC.size + F.TARGET.size} bytes"
        )
    name = _check_name(desc[:16], "target name")
    section = desc[TARGET_DESC.size :]
    count = F.TARGET.unpack(section)["memory_count"]
    if len(section) != F.TARGET.size + count * F.MEMORY.size:
        raise ValueError("the TARGET section's length does not match its memory_count")
    return name, section
