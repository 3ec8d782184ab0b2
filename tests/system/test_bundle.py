"""The bundle file (aci/bundle.py, docs/system.md): round trips, one test per refusal
with its offset, fuzzing of the reader, and the commands that write and read bundles."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aci import bundle, cli
from aci.bundle import (
    BOARD,
    DEP,
    HEADER,
    HOST_BUFFER,
    LINK,
    MOVE,
    STAGE,
    STEP,
    VERSION_MINOR,
    BundleError,
    bundle_crc,
    decode,
    encode,
)
from aci.system import HOST, Link, Step, System, network, pipeline, simulate

ROOT = Path(__file__).resolve().parents[2]
BNN = str(ROOT / "programs" / "bnn_auto.aci")


@pytest.fixture(scope="module")
def net():
    return network(BNN, 10)


@pytest.fixture(scope="module")
def plans(net):
    target = net.target
    return {
        "data-parallel": pipeline(net, System.uniform(2, target=target), 3, (), (2,)),
        # three boards, two stages: b2 idle
        "split": pipeline(net, System.uniform(3, target=target), 3, (2,), (1, 1)),
        "three stages": pipeline(net, System.uniform(4), 4, (1, 2), (1, 2, 1)),
    }


@pytest.fixture(scope="module")
def small(plans):
    return encode(plans["split"])


def test_a_bundle_reads_back_as_its_plan(plans):
    for name, p in plans.items():
        data = encode(p)
        b = decode(data)
        assert b.plan == p, name
        assert encode(b.plan) == data  # a fixed point
        assert simulate(b.plan) == simulate(p)
        assert b.images == {x: part.data for part, boards in p.stages for x in boards}
        assert (b.major, b.minor) == (bundle.VERSION_MAJOR, bundle.VERSION_MINOR)
    split = decode(encode(plans["split"]))
    assert "b2" not in split.images  # the idle board has no image
    assert split.plan.system.target("b2") == "zcu102"
    assert decode(encode(plans["three stages"])).plan.system.targets == ()


def test_write_and_read_a_file(plans, tmp_path):
    path = tmp_path / "p.acb"
    n = bundle.write(plans["data-parallel"], str(path))
    assert n == path.stat().st_size
    assert bundle.read(str(path)).plan == plans["data-parallel"]


# ---- refusals: one per code, with the offending byte's offset ---------------------------


def fix_crc(data: bytearray) -> bytes:
    struct.pack_into("<I", data, HEADER.at("crc32"), bundle_crc(data))
    return bytes(data)


def patch(data: bytes, offset: int, fmt: str, value) -> bytes:
    out = bytearray(data)
    struct.pack_into("<" + fmt, out, offset, value)
    return fix_crc(out)


def layout(data: bytes) -> dict:
    """Each table's offset, from the header's counts."""
    h = HEADER.unpack(data)
    at, out = HEADER.size, {}
    for key, rec, count in (
        ("link", LINK, "link_count"),
        ("host_buffer", HOST_BUFFER, "host_buffer_count"),
        ("stage", STAGE, "stage_count"),
        ("board", BOARD, "board_count"),
        ("step", STEP, "step_count"),
        ("move", MOVE, "move_count"),
        ("dep", DEP, "dep_count"),
    ):
        out[key] = at
        at += rec.size * h[count]
    out["name"] = at + (-at % 8)
    return out


def refused(data: bytes) -> BundleError:
    with pytest.raises(BundleError) as e:
        decode(data)
    return e.value


def test_bad_magic(small):
    e = refused(b"ACIX" + small[4:])
    assert (e.name, e.code, e.offset) == ("bad_magic", 1, 0)


def test_bad_version(small):
    e = refused(patch(small, HEADER.at("major"), "H", 2))
    assert (e.name, e.offset) == ("bad_version", 4)


def test_bad_length(small):
    e = refused(small[:-8])
    assert (e.name, e.offset) == ("bad_length", 8)
    e = refused(small[:20])
    assert (e.name, e.offset) == ("bad_length", 20)


def test_bad_crc(small):
    bad = bytearray(small)
    bad[-1] ^= 1
    e = refused(bytes(bad))
    assert (e.name, e.offset) == ("bad_crc", 12)


def test_reserved_nonzero(small):
    e = refused(patch(small, HEADER.at("reserved"), "I", 1))
    assert (e.name, e.offset) == ("reserved_nonzero", 16)
    at = layout(small)["link"] + LINK.size + LINK.at("reserved2")
    e = refused(patch(small, at, "I", 7))
    assert (e.name, e.offset) == ("reserved_nonzero", at)


def test_bad_counts(small):
    e = refused(patch(small, HEADER.at("board_count"), "H", 0))
    assert (e.name, e.offset) == ("bad_counts", HEADER.at("board_count"))
    e = refused(patch(small, HEADER.at("batches"), "I", 0))
    assert (e.name, e.offset) == ("bad_counts", HEADER.at("batches"))
    # one more dependency than the steps hold: the tables no longer end where they did
    h = HEADER.unpack(small)
    e = refused(patch(small, HEADER.at("dep_count"), "I", h["dep_count"] + 1))
    assert e.name in ("bad_counts", "bad_name", "bad_stage")


def test_bad_name(small):
    at = layout(small)["name"]
    e = refused(patch(small, at, "B", 0xFF))
    assert (e.name, e.offset) == ("bad_name", at)


def test_bad_link(small):
    at = layout(small)["link"]
    e = refused(patch(small, at + LINK.at("b"), "B", 255))  # host to host
    assert (e.name, e.offset) == ("bad_link", at)
    e = refused(patch(small, at + LINK.at("bits_per_s"), "Q", 0))
    assert (e.name, e.offset) == ("bad_link", at + LINK.at("bits_per_s"))


def test_bad_host_buffer(small):
    at = layout(small)["host_buffer"]
    e = refused(patch(small, at + HOST_BUFFER.at("role"), "B", 3))
    assert (e.name, e.offset) == ("bad_host_buffer", at + HOST_BUFFER.at("role"))


def test_bad_stage(small):
    at = layout(small)["stage"]
    off = STAGE.unpack(small, at)["image_offset"]
    e = refused(patch(small, at, "I", off + 8))
    assert (e.name, e.offset) == ("bad_stage", at)
    grown = _grown(small)
    e = refused(fix_crc(bytearray(grown)))
    assert (e.name, e.offset) == ("bad_stage", len(small))


def _grown(data: bytes) -> bytes:
    """Eight zero bytes after the last image, the header's length following."""
    out = bytearray(data + bytes(8))
    struct.pack_into("<I", out, HEADER.at("length"), len(out))
    return bytes(out)


def test_bad_board(small):
    at = layout(small)["board"]
    e = refused(patch(small, at + BOARD.size, "16s", b"b0"))  # b1 named b0 again
    assert (e.name, e.offset) == ("bad_board", at + BOARD.size)
    e = refused(patch(small, at + BOARD.at("stage"), "H", 5))
    assert (e.name, e.offset) == ("bad_board", at + BOARD.at("stage"))


def test_a_transfer_over_a_link_that_does_not_exist(plans):
    """The encoder writes what it is given; the reader refuses a transfer between two
    boards that no link joins, at that step."""
    p = plans["split"]
    system = attrs.evolve(
        p.system, links=tuple(k for k in p.system.links if {k.a, k.b} != {"b0", "b1"})
    )
    data = encode(attrs.evolve(p, system=system))
    i = next(i for i, s in enumerate(p.steps) if s.kind == "transfer")
    e = refused(data)
    at = layout(data)["step"] + i * STEP.size
    assert (e.name, e.code, e.offset) == ("bad_step", 12, at + STEP.at("src"))
    assert "no link joins them" in str(e)


def test_bad_step(small, plans):
    at = layout(small)["step"]
    e = refused(patch(small, at + STEP.at("kind"), "B", 9))
    assert (e.name, e.offset) == ("bad_step", at)
    # a load from a board, not the host
    e = refused(patch(small, at + STEP.at("src"), "B", 1))
    assert (e.name, e.offset) == ("bad_step", at + STEP.at("src"))
    # a step on the idle board b2
    p = plans["split"]
    steps = list(p.steps)
    k = next(i for i, s in enumerate(steps) if s.kind == "collect")
    steps[k] = attrs.evolve(steps[k], src="b2")
    e = refused(encode(attrs.evolve(p, steps=tuple(steps))))
    assert e.name == "bad_step" and "idle" in str(e)
    # a run before its board's load
    steps = list(p.steps)
    steps.insert(0, Step("run", "b0", "b0", 0, 0, ()))
    e = refused(encode(attrs.evolve(p, steps=tuple(steps))))
    assert (e.name, e.offset) == ("bad_step", at)
    # nbytes that is not what the moves make
    e = refused(patch(small, at + STEP.size + STEP.at("nbytes"), "Q", 1))
    assert (e.name, e.offset) == ("bad_step", at + STEP.size + STEP.at("nbytes"))


def test_bad_move(small):
    at = layout(small)["move"]
    e = refused(patch(small, at + MOVE.at("dst"), "Q", 1 << 60))  # outside every memory
    assert (e.name, e.offset) == ("bad_move", at + MOVE.at("dst"))
    e = refused(patch(small, at + MOVE.at("src"), "Q", 1 << 30))  # past the host buffer
    assert (e.name, e.offset) == ("bad_move", at + MOVE.at("src"))
    e = refused(patch(small, at, "32s", b"nosuch"))
    assert (e.name, e.offset) == ("bad_move", at + MOVE.at("src"))


def test_bad_dep(small):
    lay = layout(small)
    steps = HEADER.unpack(small)["step_count"]
    deps = [STEP.unpack(small, lay["step"] + i * STEP.size)["dep_count"] for i in range(steps)]
    i = next(i for i, n in enumerate(deps) if n)
    at = lay["dep"] + 4 * sum(deps[:i])
    e = refused(patch(small, at, "I", i))  # on itself
    assert (e.name, e.code, e.offset) == ("bad_dep", 14, at)


def test_bad_image(small):
    at = layout(small)["stage"]
    off = STAGE.unpack(small, at)["image_offset"]
    e = refused(patch(small, off, "4s", b"ACIB"))
    assert (e.name, e.code, e.offset) == ("bad_image", 15, off)
    assert "bad_magic" in e.detail


def test_every_code_is_tested():
    tested = {n for n in globals() if n.startswith("test_")}
    for err in bundle.ERRORS:
        assert f"test_{err.name}" in tested, err.name


# ---- fuzzing the reader ---------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(net):
    return encode(pipeline(net, System.uniform(2), 1, (2,), (1, 1)))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_bundles_are_refused_or_canonical(tiny, data):
    """A byte changed (the CRC fixed, so the records are read) or the bundle cut
    short: the reader refuses it with a BundleError, or accepts it and writes the
    same bytes back (stamped with this writer's minor version: a newer minor is read,
    its reserved fields still zero). Nothing else escapes it."""
    buf = bytearray(tiny)
    if data.draw(st.booleans()):
        n = data.draw(st.integers(0, len(buf) - 1))
        buf = buf[:n]
        if n >= HEADER.size:
            struct.pack_into("<I", buf, HEADER.at("length"), n)
    else:
        # most of the time in the records, where the meaning is
        end = data.draw(st.sampled_from([layout(tiny)["name"] + 8, len(buf)]))
        pos = data.draw(st.integers(0, end - 1))
        buf[pos] = (buf[pos] + data.draw(st.integers(1, 255))) % 256
    if len(buf) >= HEADER.size and data.draw(st.booleans()):
        fix_crc(buf)
    try:
        b = decode(bytes(buf))
    except BundleError:
        return
    canonical = bytearray(buf)
    struct.pack_into("<H", canonical, HEADER.at("minor"), VERSION_MINOR)
    fix_crc(canonical)
    assert encode(b.plan) == bytes(canonical)


# ---- the commands -----------------------------------------------------------------------


def test_acic_plan_writes_a_bundle_that_dump_and_disasm_read(tmp_path, capsys):
    out = tmp_path / "p.acb"
    args = ["plan", BNN, "--boards", "2", "--batch", "10", "--batches", "2"]
    assert cli.main(args + ["--bundle", str(out)]) == 0
    capsys.readouterr()
    b = bundle.read(str(out))
    assert b.plan.name == "data-parallel x2" and set(b.images) == {"b0", "b1"}

    assert cli.main(["dump", "--json", str(out)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["name"] == "data-parallel x2" and d["batches"] == 2 and d["batch"] == 10
    assert [x["name"] for x in d["boards"]] == ["b0", "b1"]
    assert [s["kind"] for s in d["steps"][:3]] == ["load", "send", "load"]
    assert d["stages"][0]["image"]["target"]["slots"] == 4

    assert cli.main(["disasm", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("; ACI bundle, format 1.0\n")
    assert ".link host b0 bits_per_s=10000000000 latency_ns=20000" in text
    assert ".stage 0 - windows=0..2" in text and ".target slots=4" in text

    assert cli.main(["disasm", "--annotate", str(out)]) == 2
    assert cli.main(["plan", BNN, "--boards", "1,2", "--bundle", str(out)]) == 2


def test_a_bad_bundle_is_an_error_not_a_traceback(tmp_path, capsys, small):
    bad = tmp_path / "bad.acb"
    bad.write_bytes(small[:-3])
    for cmd in (["dump", "--json"], ["disasm"]):
        assert cli.main(cmd + [str(bad)]) == 1
        err = capsys.readouterr().err
        assert "invalid bundle: bad_length (code 3) at offset 8" in err
        assert "Traceback" not in err


def test_a_plan_the_format_cannot_hold_is_refused(plans):
    p = plans["data-parallel"]
    with pytest.raises(BundleError):
        encode(attrs.evolve(p, name=""))
    many = tuple(f"b{i}" for i in range(65))
    with pytest.raises(BundleError):
        encode(attrs.evolve(p, system=System(many, tuple(Link(HOST, b, 1, 0) for b in many))))
