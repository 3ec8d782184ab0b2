"""The board daemon as a real process on 127.0.0.1, over ZeroMQ with CURVE: versions,
load / write / read / run / status / reset, idempotent retries, epochs, pacing,
refusals of malformed, oversize and unauthorised messages, and runs equal to
acifw-sim's."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest
import zmq
from zmq.utils.monitor import recv_monitor_message

from aci import protocol as P
from aci.decode import decode
from aci.encode import encode_target

from .conftest import FIRMWARE, compile_program

ROOT = Path(__file__).resolve().parents[2]
HELLO = str(ROOT / "programs" / "examples" / "hello.aci")
PIPELINE = str(ROOT / "programs" / "examples" / "pipeline.aci")


@pytest.fixture(scope="module")
def hello_image(tmp_path_factory) -> bytes:
    return compile_program(tmp_path_factory.mktemp("img"), HELLO)


def _err(msg: P.Msg) -> P.ProtocolError:
    assert msg.name == "ERROR", msg
    return P.error_of(msg)


def test_hello_reports_versions_target_and_a_fresh_epoch(start, hello_image, tmp_path):
    d = start()
    r = d.hello()
    f = r.fields
    assert (f["major"], f["minor"], f["image_major"]) == (P.VERSION_MAJOR, P.VERSION_MINOR, 1)
    assert f["firmware"] == P.FIRMWARE_VERSION and f["target"] == "" and r.payload == b""
    assert r.epoch != 0
    # a second daemon draws another epoch
    assert start().epoch != r.epoch
    # with a target: its name and TARGET section
    target = tmp_path / "zcu102.target"
    section = encode_target(decode(hello_image).target)
    target.write_bytes(b"zcu102".ljust(16, b"\0") + section)
    r = start("--target", str(target)).hello()
    assert r.fields["target"] == "zcu102" and r.payload == section


def test_version_mismatches_are_named(start):
    d = start()
    other = P.VERSION_MAJOR + 1
    bad = bytearray(P.pack("HELLO", 7, 0, major=other, image_major=1))
    bad[4:8] = struct.pack("<HH", other, 3)
    e = _err(d.raw(bytes(bad)))
    assert (
        e.name == "protocol_mismatch"
        and f"{other}.3" in e.detail
        and f"{P.VERSION_MAJOR}.{P.VERSION_MINOR}" in e.detail
        and e.request_id == 7
    )
    e = _err(d.request("HELLO", epoch=0, major=1, image_major=9))
    assert e.name == "image_mismatch" and "format 9.0" in e.detail


def test_image_and_target_mismatches_are_named(start, hello_image, tmp_path):
    other = bytearray(hello_image)
    other[4:6] = struct.pack("<H", 3)
    d = start()
    e = _err(d.load(bytes(other)))
    assert e.name == "image_mismatch" and "format 3.0" in e.detail
    img = decode(hello_image)
    target = tmp_path / "t.target"
    import attrs

    target.write_bytes(
        b"bigboard".ljust(16, b"\0") + encode_target(attrs.evolve(img.target, slots=6))
    )
    d = start("--target", str(target))
    e = _err(d.load(hello_image, check_target=1))
    assert e.name == "target_mismatch"
    assert e.detail == "target mismatch: slots: the image has 4, board bigboard has 6"
    assert d.status()["state"] == P.BOARD_STATES["empty"]
    assert d.load(hello_image, check_target=0).name == "LOAD_REPLY"  # the host may skip the check


def test_a_refused_image_names_the_validators_code_and_changes_nothing(start, hello_image):
    d = start()
    assert d.load(hello_image).name == "LOAD_REPLY"
    before = d.status()
    broken = bytearray(hello_image)
    broken[-1] ^= 0xFF  # the image's own CRC no longer matches
    e = _err(d.load(bytes(broken)))
    assert (e.name, e.image_error, e.image_offset) == (
        "image_refused",
        4,
        12,
    ) and "bad_crc" in e.detail
    after = d.status()
    assert {**after, "uptime_ns": 0} == {**before, "uptime_ns": 0}
    assert after["image_crc32"] == zlib.crc32(hello_image)


def _sim(tmp_path, image: bytes, *args) -> tuple[dict, bytes]:
    path = tmp_path / "sim.acx"
    path.write_bytes(image)
    p = subprocess.run(
        [
            str(FIRMWARE / "acifw-sim"),
            str(path),
            "--json",
            "--trace",
            str(tmp_path / "sim.jsonl"),
            *args,
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode in (0, 1), p.stderr
    return json.loads(p.stdout), (tmp_path / "sim.jsonl").read_bytes()


def _trace(d, seq: int, total: int) -> bytes:
    out = b""
    while len(out) < total:
        r = d.request("TRACE", seq=seq, offset=len(out), length=min(1000, total - len(out)))
        assert r.name == "TRACE_REPLY" and r.fields["total"] == total
        out += r.payload
    return out


@pytest.mark.parametrize("mode", ["strict", "dataflow"])
def test_a_run_equals_acifw_sim_in_result_trace_and_memory(start, tmp_path, mode):
    image = compile_program(tmp_path, PIPELINE, mode=mode)
    img = decode(image)
    inputs = [b for b in img.symbols.buffers if b.role == "input"]
    outputs = [b for b in img.symbols.buffers if b.role == "output"]
    d = start()
    assert d.load(image).name == "LOAD_REPLY"
    args = []
    for k, b in enumerate(inputs):
        data = bytes((i * 7 + k) & 0xFF for i in range(b.size))
        (tmp_path / f"in{k}").write_bytes(data)
        args += ["--set", f"{b.name}={tmp_path / f'in{k}'}"]
        assert d.request("WRITE", data, symbol=b.name, length=len(data)).name == "WRITE_REPLY"
    for k, b in enumerate(outputs):
        args += ["--get", f"{b.name}={tmp_path / f'out{k}'}"]
    sim, sim_trace = _sim(tmp_path, image, *args)
    r = d.request("RUN", seq=1, flags=P.RUN_FLAGS["trace"], wait_ms=10_000)
    f = r.fields
    assert r.name == "RUN_RESULT" and f["state"] == P.RUN_STATES["done"]
    for k in ("t0", "t_end", "total_ns", "tasks", "prs", "operations", "image_bytes"):
        assert f[k] == sim[k], k
    assert {k: f[f"sync_{k}"] for k in sim["sync"]} == sim["sync"]
    assert {1: "strict", 2: "dataflow"}[f["mode"]] == sim["mode"] == mode
    assert _trace(d, 1, f["trace_bytes"]) == sim_trace
    for k, b in enumerate(outputs):
        got = d.request("READ", symbol=b.name, length=b.size)
        assert got.payload == (tmp_path / f"out{k}").read_bytes()
    # per-slot figures summed from the trace
    busy = sum(f[f"busy_ns{s}"] for s in range(16))
    spans = {}
    for line in sim_trace.splitlines():
        e = json.loads(line)
        if e["ev"] == "task_start":
            spans[e["slot"]] = e["t"]
        elif e["ev"] == "task_end":
            busy -= e["t"] - spans.pop(e["slot"])
    assert busy == 0


def test_retries_are_answered_from_memory_never_redone(start, hello_image):
    d = start()
    assert d.load(hello_image).name == "LOAD_REPLY"
    first = d.next_id()
    a = d.request("WRITE", b"\x01" * 16, rid=first, symbol="src", length=16)
    assert d.request("WRITE", b"\x02" * 16, symbol="src", length=16).name == "WRITE_REPLY"
    again = d.request("WRITE", b"\x01" * 16, rid=first, symbol="src", length=16)
    assert again == a  # the remembered reply, byte for byte
    assert d.request("READ", symbol="src", length=16).payload == b"\x02" * 16  # not redone
    # an id below the floor that is not remembered: refused, nothing done
    e = _err(d.request("WRITE", b"\x03" * 16, rid=first - 5, symbol="src", length=16))
    assert e.name == "stale_request"
    # a delayed old HELLO does not lower the floor again
    assert d.request("HELLO", rid=first - 10, epoch=0, major=1, image_major=1).name == "HELLO_REPLY"
    assert (
        _err(d.request("WRITE", b"\x03" * 16, rid=first - 4, symbol="src", length=16)).name
        == "stale_request"
    )
    # another request under a used id is not answered with that id's reply
    e = _err(d.request("WRITE", b"\x04" * 16, rid=first, symbol="src", length=16))
    assert e.name == "stale_request" and "used for another request" in e.detail
    assert d.request("READ", symbol="src", length=16).payload == b"\x02" * 16
    # a run: the same sequence number never runs twice
    r1 = d.request("RUN", seq=5, wait_ms=5000)
    assert r1.fields["state"] == P.RUN_STATES["done"]
    r2 = d.request("RUN", seq=5, wait_ms=5000)  # a new id, the same run
    assert r2.fields == r1.fields
    st = d.status()
    assert st["last_seq"] == 5 and st["sync_ack"] == 5
    e = _err(d.request("RUN", seq=4))
    assert e.name == "stale_seq"
    assert d.request("RUN", seq=6, wait_ms=5000).fields["state"] == P.RUN_STATES["done"]


def test_epochs_fence_off_requests_for_an_earlier_life(start, hello_image):
    d = start()
    old = d.epoch
    e = _err(
        d.request(
            "LOAD",
            hello_image,
            epoch=old + 1,
            image_bytes=len(hello_image),
            image_crc32=zlib.crc32(hello_image),
        )
    )
    assert e.name == "stale_epoch" and d.status()["state"] == P.BOARD_STATES["empty"]
    assert _err(d.request("RUN", epoch=0, seq=1)).name == "stale_epoch"  # mutating requests need it
    assert d.load(hello_image).name == "LOAD_REPLY"
    rid = d.next_id()
    r = d.request("RESET", rid=rid)
    assert r.name == "RESET_REPLY" and r.fields["old_epoch"] == old and r.epoch != old
    assert d.request("RESET", rid=rid).epoch == r.epoch  # remembered: not reset twice
    assert d.status()["epoch"] == r.epoch and d.status()["state"] == P.BOARD_STATES["empty"]
    assert _err(d.request("WRITE", b"x", symbol="src", length=1)).name == "stale_epoch"


def test_status_is_answered_while_a_paced_run_goes_on(start, hello_image):
    # pace 2000: each simulated ns takes 2 us; hello's run is ~2.7 ms simulated: ~5.4 s
    d = start("--pace", "2000")
    assert d.hello().fields["pace"] == 2_000_000
    assert d.load(hello_image).name == "LOAD_REPLY"
    t = time.monotonic()
    r = d.request("RUN", seq=1, wait_ms=0)
    assert r.fields["state"] == P.RUN_STATES["running"]
    st = d.status()
    assert st["state"] == P.BOARD_STATES["running"] and st["running_seq"] == 1
    assert st["sync_status"] == 1 and st["sync_doorbell"] == 1
    assert time.monotonic() - t < 1.0  # answered at once, not after the run
    assert _err(d.request("WRITE", b"x", symbol="src", length=1)).name == "busy"
    assert _err(d.request("RUN", seq=2)).name == "busy"
    r = d.request("RUN", seq=1, wait_ms=20_000, timeout=25)
    assert r.fields["state"] == P.RUN_STATES["done"] and r.fields["wall_ns"] >= 5_000_000_000
    assert d.status()["sync_status"] == 2


def test_reset_stops_a_run_and_its_result_is_never_given(start, hello_image):
    d = start("--pace", "2000")
    assert d.load(hello_image).name == "LOAD_REPLY"
    assert d.request("RUN", seq=1).fields["state"] == P.RUN_STATES["running"]
    # one connection, so the board sees the held RUN before the RESET
    s = d.socket()
    run_id, reset_id = d.next_id(), d.next_id()
    s.send(P.pack("RUN", run_id, d.epoch, seq=1, wait_ms=20_000))
    t = time.monotonic()
    s.send(P.pack("RESET", reset_id, d.epoch))
    replies = {}
    while len(replies) < 2 and s.poll(10_000):
        m = P.unpack(s.recv())
        replies[m.request_id] = m
    s.close(0)
    assert time.monotonic() - t < 3
    r, held = replies[reset_id], replies[run_id]
    assert r.name == "RESET_REPLY" and r.fields["old_epoch"] == d.epoch
    assert held.fields["state"] == P.RUN_STATES["reset"] and held.fields["tasks"] == 0
    d.epoch = r.epoch
    assert d.status()["state"] == P.BOARD_STATES["empty"]
    assert _err(d.request("RUN", seq=1)).name == "no_image"


def test_memory_outside_what_the_image_declares_is_refused(start, hello_image):
    d = start()
    assert _err(d.request("READ", symbol="dst", length=4)).name == "no_image"
    assert d.load(hello_image).name == "LOAD_REPLY"
    assert _err(d.request("READ", address=1 << 40, length=4)).name == "bad_address"
    assert _err(d.request("WRITE", b"x", address=0x7000_0000, length=1)).name == "bad_address"
    assert _err(d.request("READ", symbol="nope", length=4)).name == "no_symbol"
    assert _err(d.request("READ", symbol="dst", address=4090, length=7)).name == "no_symbol"
    assert d.request("READ", symbol="dst", address=4092, length=4).payload == b"\0" * 4


@pytest.mark.parametrize("binary", ["acifw-board", "acifw-board-asan"])
def test_malformed_and_oversize_messages_are_refused_without_a_crash(start, hello_image, binary):
    d = start("--max-message", "65536", binary=binary)
    assert d.load(hello_image).name == "LOAD_REPLY"
    before = d.status()
    cases = [
        b"",
        b"x",
        b"ACIP",
        P.pack("STATUS", 1)[:31],
        P.pack("STATUS", 1) + b"\0",
        bytes(range(256)) * 3,
        P.pack("STATUS", 1)[:8] + b"\x42\x00" + P.pack("STATUS", 1)[10:],
    ]
    for data in cases:
        assert d.raw(data).name == "ERROR"
    # every byte of a WRITE's header and fields flipped (but its minor version and id): each refused
    n = len(P.pack("WRITE", 1, 1, b"abcd", symbol="src", length=4))
    for i in [*range(6), *range(8, 16), *range(24, n - 4)]:
        bad = bytearray(P.pack("WRITE", d.next_id(), d.epoch, b"abcd", symbol="src", length=4))
        bad[i] ^= 0x5A
        expect = (
            "WRITE_REPLY" if i == 32 else "ERROR"
        )  # the address's low byte: offset 90, a valid WRITE
        assert d.raw(bytes(bad)).name == expect, i
    # several frames in one message
    s = d.socket()
    s.send_multipart([P.pack("STATUS", 9), b"more"])
    assert s.poll(5000) and P.error_of(P.unpack(s.recv())).name == "malformed"
    # an oversize message: dropped unread, its connection closed, nothing changed
    big = P.pack(
        "LOAD",
        d.next_id(),
        d.epoch,
        b"\0" * 70000,
        image_bytes=70000,
        image_crc32=zlib.crc32(b"\0" * 70000),
    )
    assert d.raw(big, timeout=1.0, sock=s) is None
    s.close(0)
    assert d.alive()
    assert {**d.status(), "uptime_ns": 0} == {**before, "uptime_ns": 0}
    assert d.request("READ", symbol="src", length=4).payload == b"\0" * 4


def test_unauthorised_clients_are_refused_within_a_second_and_change_nothing(
    start, keys, hello_image
):
    d = start()
    assert d.load(hello_image).name == "LOAD_REPLY"
    before = d.status()
    stranger = keys.stranger
    # an unknown key: the ZAP handler says 400; no key at all (NULL mechanism): the
    # handshake fails (as a protocol error, or without detail when the board closes
    # the connection first: it varies with timing). Either way the client's socket is
    # told within a second.
    for who, failures in (
        (stranger, {zmq.EVENT_HANDSHAKE_FAILED_AUTH}),
        (None, {zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL}),
    ):
        s = d.socket(keys=who, connect=False)
        monitor = s.get_monitor_socket()
        t = time.monotonic()
        s.connect(d.url)
        s.send(P.pack("RESET", 1, d.epoch))
        events = []
        while time.monotonic() - t < 1.0 and monitor.poll(
            max(1, int((1.0 - (time.monotonic() - t)) * 1000))
        ):
            events.append(recv_monitor_message(monitor)["event"])
            if failures & set(events):
                break
        assert failures & set(events), events
        assert not s.poll(200)  # and no reply, ever
        s.disable_monitor()
        s.close(0)
    # a plaintext TCP client: the board closes the connection within a second
    host, port = d.url[len("tcp://") :].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as c:
        c.sendall(P.pack("RESET", 1, d.epoch))
        c.settimeout(1.5)
        t = time.monotonic()
        data = b""
        try:
            while chunk := c.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
        assert time.monotonic() - t < 1.5
    after = d.status()
    assert after["epoch"] == before["epoch"] and after["image_crc32"] == before["image_crc32"]
    assert after["state"] == P.BOARD_STATES["loaded"]
    assert (
        f"refused client {keys.stranger[0].decode()}: its key is not authorised"
        in d.log.read_text()
    )


def test_insecure_mode_binds_only_the_loopback_address():
    p = subprocess.run(
        [str(FIRMWARE / "acifw-board"), "--insecure-loopback", "--bind", "tcp://0.0.0.0:0"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert p.returncode == 2 and "127.0.0.1" in p.stderr
    p = subprocess.run(
        [str(FIRMWARE / "acifw-board"), "--bind", "tcp://127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert p.returncode == 2 and "--key" in p.stderr


def test_an_insecure_loopback_daemon_answers_without_curve(start, hello_image):
    d = start(insecure=True)
    assert d.load(hello_image).name == "LOAD_REPLY"
    assert d.request("RUN", seq=1, wait_ms=5000).fields["state"] == P.RUN_STATES["done"]


def test_crashing_fuzz_sessions_stay_fixed(tmp_path):
    """The daemon's fuzz harness (libFuzzer given files runs each once) gets through
    every session its fuzzing ever found crashing (tests/regression/daemon-fuzz-*,
    where `make fuzz` and `make test` put them) and a session of requests in every
    state of the board (its epochs are the harness's: 2, then 3 after the RESET)."""
    image = compile_program(tmp_path, HELLO)
    made = b""
    for who, msg in (
        (0, P.pack("HELLO", 1, 0, major=1, image_major=1)),
        (1, image[:40]),
        (0, P.pack("LOAD", 2, 2, image, image_bytes=len(image), image_crc32=zlib.crc32(image))),
        (2, P.pack("WRITE", 3, 2, b"\1" * 8, symbol="src", length=8)),
        (0, P.pack("RUN", 4, 2, seq=1, wait_ms=100, flags=2)),
        (0, P.pack("TRACE", 5, 2, seq=1, length=9, offset=3)),
        (3, P.pack("READ", 6, 2, symbol="dst", length=16)),
        (0, P.pack("RESET", 7, 2)),
        (0, P.pack("RUN", 8, 3, seq=2)),
        (1, b"\xff" * 64),
    ):
        made += bytes([who]) + len(msg).to_bytes(4, "little") + msg
    (tmp_path / "session").write_bytes(made)
    subprocess.run(
        ["make", "-s", "-C", str(ROOT / "firmware"), "fuzz-daemon-build"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    inputs = [tmp_path / "session", *sorted((ROOT / "tests" / "regression").glob("daemon-fuzz-*"))]
    p = subprocess.run(
        [str(FIRMWARE / "acifw-board-fuzz"), *map(str, inputs)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stderr.count("Running: ") == len(inputs)
