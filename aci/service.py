"""The inference service's wire format, defined once, as data (docs/serve.md is the
normative description; its tables are generated from this module by
:mod:`aci._generate`, and a test fails when they are stale).

An application talks to ``acic serve`` over ZeroMQ with CURVE: it connects a DEALER
(or REQ) socket to the service's ROUTER. Every message is one frame: a 24-byte
HEADER, the fixed fields of its type, then its payload. A request gets exactly one
reply with its ``request_id`` (its type's reply, or ERROR); a request sent again
with the same id (after a timeout) is not done again: the service sends the reply
it gave, or sends it once the request is done. Everything is little-endian; fields
named ``reserved*`` are zero.

:func:`pack` and :func:`unpack` encode and validate; :class:`ServiceError` names an
error code of :data:`ERRORS`.
"""

from __future__ import annotations

import attrs

from .format import FIELD_TYPES, S, Struct

MAGIC = b"ACIS"
VERSION_MAJOR = 1  # the service refuses a request of another major version
VERSION_MINOR = 0

LIMITS = {
    "max_message_bytes": 1 << 20,  # the largest message either side takes
    "max_text_bytes": 512,  # ERROR's detail and INFO_REPLY's description, UTF-8
    "remembered_replies": 4096,  # replies the service keeps per client for retries
}

HEADER = S(
    "service_header",
    "Every message starts with this header, in both directions.",
    ("magic", "magic", "`ACIS`"),
    ("major", "u16", "wire format major version; another major is refused with `version`"),
    ("minor", "u16", "wire format minor version"),
    ("type", "u16", "message type (below)"),
    ("reserved", "u16", "zero"),
    ("length", "u32", "bytes of the whole message: header, fields, payload"),
    (
        "request_id",
        "u64",
        "request: chosen by the application, nonzero, new for each request of a client "
        "(a retry keeps it); reply: the request's",
    ),
)


@attrs.frozen
class Message:
    name: str
    type: int
    fields: Struct
    payload: str  # what the payload holds ("" for none)
    doc: str

    @property
    def is_request(self) -> bool:
        return self.type < 0x80


MESSAGES = [
    Message(
        "CLASSIFY",
        0x01,
        S(
            "classify",
            "",
            ("input_bytes", "u32", "bytes of the image (the payload): INFO_REPLY's `input_bytes`"),
            ("reserved", "u32", "zero"),
        ),
        "one image, as the network's per-batch input buffer holds one image (the BNN: "
        "i8[3][32][32], 3,072 bytes)",
        "Classify one image. Answered with RESULT once the batch it went into was run, or ERROR.",
    ),
    Message(
        "INFO",
        0x02,
        S("info", ""),
        "",
        "What the service takes and gives, and its boards' health. Answered at once.",
    ),
    Message(
        "RESULT",
        0x81,
        S(
            "result",
            "",
            ("class", "u32", "the index of the highest score (the first of equal ones)"),
            ("scores", "u32", "number of scores in the payload"),
            ("batch", "u64", "the batch the image ran in (the service's count, from 0)"),
            ("board", "u16", "the board that ran the batch's last stage (its place in --boards)"),
            ("reserved", "u16", "zero"),
            ("reserved2", "u32", "zero"),
        ),
        "the image's scores: the network's per-batch output buffer for one image (the BNN: "
        "i32[10], little-endian)",
        "A classification.",
    ),
    Message(
        "INFO_REPLY",
        0x82,
        S(
            "info_reply",
            "",
            ("input_bytes", "u32", "bytes of one image"),
            ("output_bytes", "u32", "bytes of one image's scores"),
            ("batch", "u32", "images per batch"),
            ("boards", "u16", "boards given"),
            ("boards_up", "u16", "boards answering now"),
            ("served", "u64", "requests answered with RESULT so far"),
        ),
        "a JSON object, UTF-8: `input` and `output` (each `name`, `elem`, `shape` of one "
        "image), `plan`, and `boards` (each `url`, `state`, `runs`, `error`)",
        "The service's description.",
    ),
    Message(
        "ERROR",
        0xFF,
        S(
            "service_error",
            "",
            ("code", "u16", "the error (below)"),
            ("reserved", "u16", "zero"),
            ("text_bytes", "u32", "bytes of the detail (the payload)"),
        ),
        "the detail: UTF-8 text naming what was wrong or lost",
        "The request was refused or could not be done.",
    ),
]
BY_NAME = {m.name: m for m in MESSAGES}
BY_TYPE = {m.type: m for m in MESSAGES}
REPLY = {"CLASSIFY": BY_NAME["RESULT"], "INFO": BY_NAME["INFO_REPLY"]}


@attrs.frozen
class ErrorCode:
    code: int
    name: str
    doc: str


ERRORS = [
    ErrorCode(1, "malformed", "the message breaks the wire format (the detail says where)"),
    ErrorCode(2, "version", "another major version of the wire format"),
    ErrorCode(3, "unknown_type", "no request has this type"),
    ErrorCode(4, "bad_input", "the image is not `input_bytes` long"),
    ErrorCode(
        5,
        "no_board",
        "no board answers: the request was not run (none remains, or none came back in time)",
    ),
    ErrorCode(6, "run_failed", "the batch failed on the board (a run-time error): not run"),
    ErrorCode(7, "timeout", "not answered within the service's --request-timeout: not run"),
    ErrorCode(8, "stale_request", "the id was already used for another request"),
    ErrorCode(9, "shutting_down", "the service is stopping"),
]
ERROR_BY_NAME = {e.name: e for e in ERRORS}
ERROR_BY_CODE = {e.code: e for e in ERRORS}


class ServiceError(Exception):
    """A message that breaks the wire format, or an ERROR reply: ``name`` is its code's."""

    def __init__(self, name: str, detail: str, request_id: int = 0):
        super().__init__(f"{name}: {detail}")
        self.name, self.detail, self.request_id = name, detail, request_id
        self.code = ERROR_BY_NAME[name].code


@attrs.frozen
class Msg:
    name: str
    request_id: int
    fields: dict
    payload: bytes = b""


def pack(name: str, request_id: int, payload: bytes = b"", **fields) -> bytes:
    m = BY_NAME[name]
    payload = bytes(payload)
    if not m.payload and payload:
        raise ValueError(f"{name} has no payload")
    unknown = set(fields) - {f.name for f in m.fields.fields}
    if unknown:
        raise ValueError(f"{name} has no field {sorted(unknown)[0]}")
    if name == "ERROR":
        fields["text_bytes"] = len(payload)
    body = m.fields.pack(**fields)
    length = HEADER.size + len(body) + len(payload)
    if length > LIMITS["max_message_bytes"]:
        raise ValueError(f"a {name} of {length} bytes is over max_message_bytes")
    head = HEADER.pack(
        magic=MAGIC,
        major=VERSION_MAJOR,
        minor=VERSION_MINOR,
        type=m.type,
        length=length,
        request_id=request_id,
    )
    return head + body + payload


def unpack(data: bytes) -> Msg:
    """Decode and validate one message; ServiceError names what is wrong."""
    data = bytes(data)
    if len(data) < HEADER.size:
        raise ServiceError(
            "malformed", f"{len(data)} bytes is shorter than the {HEADER.size}-byte header"
        )
    h = HEADER.unpack(data)
    rid = h["request_id"]
    if h["magic"] != MAGIC:
        raise ServiceError("malformed", f"the message does not start with `{MAGIC.decode()}`", rid)
    if h["major"] != VERSION_MAJOR:
        raise ServiceError(
            "version",
            f"wire format {h['major']}.{h['minor']}, the service speaks "
            f"{VERSION_MAJOR}.{VERSION_MINOR}",
            rid,
        )
    if h["reserved"]:
        raise ServiceError("malformed", "the header's reserved field is not zero", rid)
    if h["length"] != len(data):
        raise ServiceError(
            "malformed", f"the header says {h['length']} bytes, the message has {len(data)}", rid
        )
    m = BY_TYPE.get(h["type"])
    if m is None:
        raise ServiceError("unknown_type", f"no message has type {h['type']:#x}", rid)
    if m.is_request and rid == 0:
        raise ServiceError("malformed", "a request's id must not be zero", rid)
    end = HEADER.size + m.fields.size
    if len(data) < end:
        raise ServiceError("malformed", f"{m.name} is shorter than its fields", rid)
    fields = m.fields.unpack(data, HEADER.size)
    for f in m.fields.fields:
        if f.name.startswith("reserved") and fields[f.name]:
            raise ServiceError("malformed", f"field `{f.name}` of {m.name} is not zero", rid)
    payload = data[end:]
    if not m.payload and payload:
        raise ServiceError("malformed", f"{m.name} has no payload", rid)
    if m.name == "CLASSIFY" and fields["input_bytes"] != len(payload):
        raise ServiceError(
            "malformed",
            f"input_bytes says {fields['input_bytes']}, the payload has {len(payload)}",
            rid,
        )
    if m.name == "ERROR":
        if fields["text_bytes"] != len(payload):
            raise ServiceError("malformed", "text_bytes does not count the detail", rid)
        if fields["code"] not in ERROR_BY_CODE:
            raise ServiceError("malformed", f"no error has code {fields['code']}", rid)
    return Msg(m.name, rid, fields, payload)


def error(request_id: int, name: str, detail: str) -> bytes:
    text = detail.encode("utf-8")[: LIMITS["max_text_bytes"]].decode("utf-8", "ignore")
    return pack("ERROR", request_id, text.encode("utf-8"), code=ERROR_BY_NAME[name].code)


def error_of(msg: Msg) -> ServiceError:
    return ServiceError(
        ERROR_BY_CODE[msg.fields["code"]].name,
        msg.payload.decode("utf-8", "replace"),
        msg.request_id,
    )


def field_size(type_: str) -> int:
    return FIELD_TYPES[type_][1]
