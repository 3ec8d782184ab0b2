"""The protocol's Python codec: every message round-trips, every broken rule is named."""

import struct
import zlib

import pytest

from aci import _generate
from aci import protocol as P


def _sample(m: P.Message) -> tuple[dict, bytes]:
    fields = {}
    for f in m.fields.fields:
        if f.name.startswith("reserved") or f.name == "text_bytes":
            continue
        if f.type in ("name16", "name32"):
            fields[f.name] = f.name[:8]
        elif m.name == "RUN" and f.name == "mode":
            fields[f.name] = 2
        elif m.name == "RUN" and f.name == "flags":
            fields[f.name] = 3
        elif m.name == "LOAD" and f.name == "check_target":
            fields[f.name] = 1
        elif m.name == "ERROR" and f.name == "code":
            fields[f.name] = P.ERROR_BY_NAME["busy"].code
        else:
            fields[f.name] = 7
    payload = b"abc" if m.payload else b""
    if m.name == "LOAD":
        fields.update(image_bytes=3, image_crc32=zlib.crc32(payload))
    if m.name in ("WRITE", "READ_REPLY", "TRACE_REPLY"):
        fields["length"] = 3
    return fields, payload


@pytest.mark.parametrize("m", P.MESSAGES, ids=lambda m: m.name)
def test_every_message_round_trips(m):
    fields, payload = _sample(m)
    data = P.pack(m.name, 42, 99, payload, **fields)
    assert len(data) == P.HEADER.size + m.fields.size + len(payload)
    msg = P.unpack(data)
    assert (msg.name, msg.request_id, msg.epoch, msg.payload) == (m.name, 42, 99, payload)
    for k, v in fields.items():
        assert msg.fields[k] == v


def _err(data) -> str:
    with pytest.raises(P.ProtocolError) as e:
        P.unpack(data)
    return e.value.name


def test_header_rules_are_named():
    good = P.pack("STATUS", 1)
    assert _err(good[:31]) == "malformed"
    assert _err(b"XXXX" + good[4:]) == "malformed"
    assert _err(good[:4] + struct.pack("<H", P.VERSION_MAJOR + 1) + good[6:]) == "protocol_mismatch"
    assert _err(good + b"\0") == "malformed"  # length field disagrees with the frame
    assert _err(good[:8] + struct.pack("<H", 77) + good[10:]) == "unknown_type"
    assert _err(good[:8] + struct.pack("<HH", 6, 1) + good[12:]) == "malformed"  # reserved
    assert _err(P.pack("STATUS", 0)) == "malformed"  # request id zero


def test_protocol_mismatch_names_both_versions():
    good = P.pack("HELLO", 5, major=1)
    with pytest.raises(P.ProtocolError) as e:
        P.unpack(good[:4] + struct.pack("<HH", 3, 1) + good[8:])
    assert "3.1" in e.value.detail and f"{P.VERSION_MAJOR}.{P.VERSION_MINOR}" in e.value.detail
    assert e.value.request_id == 5


def test_field_rules_are_named():
    assert _err(P.pack("READ", 1, 1, length=0)) == "malformed"
    assert _err(P.pack("READ", 1, 1, length=P.LIMITS["max_data_bytes"] + 1)) == "too_large"
    assert _err(P.pack("RUN", 1, 1, seq=0)) == "stale_seq"
    assert _err(P.pack("RUN", 1, 1, seq=1, mode=3)) == "malformed"
    assert _err(P.pack("RUN", 1, 1, seq=1, flags=4)) == "malformed"
    assert _err(P.pack("RUN", 1, 1, seq=1, wait_ms=P.LIMITS["max_wait_ms"] + 1)) == "too_large"
    assert _err(P.pack("LOAD", 1, 1, b"img", image_bytes=3, image_crc32=1)) == "bad_crc"
    assert (
        _err(P.pack("LOAD", 1, 1, b"img", image_bytes=4, image_crc32=zlib.crc32(b"img")))
        == "malformed"
    )
    assert _err(P.pack("WRITE", 1, 1, b"", length=0)) == "malformed"
    bad_name = P.pack("WRITE", 1, 1, b"x", length=1, symbol=b"a\x01")
    assert _err(bad_name) == "malformed"
    gap = P.pack("WRITE", 1, 1, b"x", length=1, symbol=b"a\0b")
    assert _err(gap) == "malformed"
    # a reserved field of the fields, and bytes after a payload-less message
    run = bytearray(P.pack("RUN", 1, 1, seq=1))
    run[P.HEADER.size + P.BY_NAME["RUN"].fields.at("reserved")] = 1
    assert _err(bytes(run)) == "malformed"
    status = P.pack("STATUS", 1)
    assert (
        _err(status[:12] + struct.pack("<I", len(status) + 1) + status[16:] + b"\0") == "malformed"
    )


def test_error_replies_carry_their_code_and_detail():
    data = P.error(9, 3, "target_mismatch", "slots: the image has 3, board zcu102 has 4")
    e = P.error_of(P.unpack(data))
    assert (e.name, e.request_id) == ("target_mismatch", 9)
    assert e.detail == "slots: the image has 3, board zcu102 has 4"
    long = P.error(1, 1, "malformed", "é" * 1000)
    assert len(P.unpack(long).payload) <= P.LIMITS["max_text_bytes"]
    P.unpack(long).payload.decode("utf-8")


def test_every_request_has_a_reply_and_codes_are_unique():
    assert set(P.REPLY) == {m.name for m in P.MESSAGES if m.is_request}
    assert len({m.type for m in P.MESSAGES}) == len(P.MESSAGES)
    assert len({e.code for e in P.ERRORS}) == len(P.ERRORS)
    for m in P.MESSAGES:
        assert m.fields.size % 8 == 0, m.name  # every payload starts 8-byte aligned


def test_generated_protocol_files_are_current():
    assert _generate.PROTOCOL_HEADER_PATH in _generate.outputs()
    assert _generate.stale() == [], "run `make generate`"


def test_a_run_time_errors_words_travel_as_template_and_arguments():
    """Every argument a template of aci.format.MESSAGES takes has its RUN_RESULT
    field(s), and message_of fills the template as the local engines do."""
    from aci import format as F

    assert set(P.MESSAGE_ARGUMENTS) == set(F.MESSAGE_FIELDS)
    names = {f.name for f in P.BY_NAME["RUN_RESULT"].fields.fields}
    for how, field in P.MESSAGE_ARGUMENTS.values():
        assert (field in names) if how != "list" else {f"{field}0", f"{field}_count"} <= names
    fields = dict.fromkeys(names, 0)
    keys = list(F.MESSAGES)
    fields |= {"message": keys.index("wrong_core") + 1, "msg_slot": 2, "msg_core_id": 7}
    fields |= {"msg_held_id": 9}
    names_of = {7: "BIN_CONV", 9: "FP_CONV"}.get
    assert P.message_of(fields, names_of) == F.message(
        "wrong_core", core="BIN_CONV", slot=2, held="FP_CONV", held_id=9
    )
    fields |= {"message": keys.index("no_model_mismatch") + 1, "msg_params_count": 2}
    fields |= {"msg_params0": 100, "msg_params1": 0, "msg_lengths_count": 1, "msg_lengths0": 50}
    assert P.message_of(fields, names_of) == F.message(
        "no_model_mismatch", core="BIN_CONV", params=[100, 0], lengths=[50]
    )
    assert P.message_of(fields | {"message": 0}, names_of) is None
    # a packed RUN_RESULT carries them
    got = P.unpack(P.pack("RUN_RESULT", 3, 5, **{**fields, "state": 3, "seq": 1}))
    assert P.message_of(got.fields, names_of) == P.message_of(fields, names_of)
    with pytest.raises(ValueError):
        P.message_of(fields | {"message": len(keys) + 1}, names_of)
