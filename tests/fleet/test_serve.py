"""The inference service: its wire format (aci.service), and ``acic serve`` as a real
process on paced board daemons, with the Python client (aci.client)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from aci import service as W
from aci.client import Client, ClientError
from aci.daemon import keygen, read_pair, read_public
from aci.fleet import Fleet, layout
from aci.serve import Service
from aci.system import System, pipeline

from .conftest import BATCH, BNN, ROOT

# ---- the wire format ------------------------------------------------------------------------


def test_messages_round_trip():
    m = W.unpack(W.pack("CLASSIFY", 7, b"\1" * 12, input_bytes=12))
    assert (m.name, m.request_id, m.fields["input_bytes"], m.payload) == (
        "CLASSIFY",
        7,
        12,
        b"\1" * 12,
    )
    r = W.unpack(W.pack("RESULT", 7, b"\0" * 40, **{"class": 3, "scores": 10, "batch": 5}))
    assert (r.fields["class"], r.fields["batch"]) == (3, 5)
    e = W.error_of(W.unpack(W.error(9, "bad_input", "too short")))
    assert (e.name, e.detail, e.request_id) == ("bad_input", "too short", 9)


@pytest.mark.parametrize(
    "data, name, words",
    [
        (b"ACIS", "malformed", "shorter than the 24-byte header"),
        (b"XXXX" + W.pack("INFO", 1)[4:], "malformed", "does not start with `ACIS`"),
        (W.pack("INFO", 1)[:4] + b"\2\0" + W.pack("INFO", 1)[6:], "version", "wire format 2.0"),
        (W.pack("INFO", 1) + b"x", "malformed", "the header says 24 bytes, the message has 25"),
        (W.pack("INFO", 1)[:8] + b"\x33\0" + W.pack("INFO", 1)[10:], "unknown_type", "0x33"),
        (W.pack("INFO", 0), "malformed", "id must not be zero"),
        (
            W.pack("CLASSIFY", 1, b"ab", input_bytes=3),
            "malformed",
            "input_bytes says 3, the payload has 2",
        ),
        (W.pack("CLASSIFY", 1, b"", reserved=1), "malformed", "`reserved` of CLASSIFY"),
    ],
)
def test_malformed_messages_are_named(data, name, words):
    with pytest.raises(W.ServiceError) as e:
        W.unpack(data)
    assert e.value.name == name and words in str(e.value)


def test_the_docs_tables_are_generated_from_the_definition():
    from aci import _generate

    text = (ROOT / "docs" / "serve.md").read_text(encoding="utf-8")
    assert _generate.render_doc(text, _generate.service_tables()) == text
    assert "| 0x01 | CLASSIFY |" in text and "`no_board`" in text


# ---- the service as a process ---------------------------------------------------------------


@pytest.fixture(scope="module")
def app(keys):
    """An application's key pair, and the authorised-keys file that admits it."""
    keygen(keys.directory / "app")
    (keys.directory / "apps").write_bytes(read_pair(keys.directory / "app")[0] + b"\n")
    return read_pair(keys.directory / "app")


@pytest.fixture(scope="module")
def weights(data, tmp_path_factory):
    d = tmp_path_factory.mktemp("weights")
    args = []
    for name, value in data[1].items():
        (d / f"{name}.bin").write_bytes(value)
        args += ["--set", f"{name}={d / name}.bin"]
    return args


class Served:
    """``acic serve`` as a process: its URL, its stderr so far, stopped with SIGTERM."""

    def __init__(self, keys, ds, weights, tmp_path, *extra, file=BNN):
        self.err_path = tmp_path / "serve.err"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aci",
                "serve",
                file,
                "--boards",
                ",".join(d.url for d in ds),
                "--board-key",
                str(keys.directory / "board.key"),
                "--key",
                str(keys.directory / "host"),
                "--authorized-keys",
                str(keys.directory / "apps"),
                "--bind",
                "tcp://127.0.0.1:*",
                *(["--batch", str(BATCH)] if file == BNN else []),
                "--board-timeout",
                "0.3",
                "--board-patience",
                "1.5",
                "--status-interval",
                "0.3",
                *weights,
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=open(self.err_path, "w"),
            text=True,
            cwd=ROOT,
        )
        line = self.proc.stdout.readline()
        assert "serving on tcp://" in line, self.err()
        self.url = line.split()[-1]
        self.key = read_public(keys.directory / "host.key")

    def err(self) -> str:
        return self.err_path.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        finally:
            self.proc.stdout.close()


@pytest.fixture
def serve(keys, app, weights, tmp_path):
    started = []

    def start(ds, *extra, file=BNN):
        s = Served(keys, ds, weights, tmp_path, *extra, file=file)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.stop()


def test_requests_get_the_reference_classes(data, keys, app, daemons, serve):
    inputs, _, expect = data
    images = np.frombuffer(inputs["images"], "i1").reshape(-1, 3, 32, 32)
    s = serve(daemons(2))
    with Client(s.url, s.key, app, timeout=5) as c:
        info = c.info()
        assert info["input"] == {"name": "images", "elem": "i8", "shape": [3, 32, 32]}
        assert info["output"] == {"name": "scores", "elem": "i32", "shape": [10]}
        assert info["batch"] == BATCH and len(info["boards"]) == 2
        answers = c.classify_many(images, window=8)
        assert (np.stack([a for _, a in answers]) == expect).all()
        assert [k for k, _ in answers] == list(expect.argmax(axis=1))
        assert c.classify(images[4].tobytes())[0] == expect[4].argmax()
        with pytest.raises(ClientError) as e:
            c.classify(b"\0" * 100)
        assert e.value.name == "bad_input" and "3,072 bytes" in str(e.value)
        with pytest.raises(ClientError, match="array of int8"):
            c.classify(images[0].astype(np.int16))
        assert c.duplicates == 0
    # a key the service does not know: no answer at all; the admitted one still served
    with Client(s.url, s.key, keys.proxy, timeout=0.3, patience=1) as c:
        with pytest.raises(ClientError, match="no answer"):
            c.info()
    with Client(s.url, s.key, app) as c:
        assert c.info()["served"] == len(images) + 1
    assert s.stop() == 128 + signal.SIGTERM
    assert "served 12" in s.err()  # the status line


def test_a_request_sent_again_is_answered_once(data, keys, app, daemons, serve):
    """The same id twice (an application's retry): one run, the same answer."""
    inputs, _, expect = data
    s = serve(daemons(1))
    import zmq

    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.curve_serverkey = s.key
    sock.curve_publickey, sock.curve_secretkey = app
    sock.connect(s.url)
    image = inputs["images"][: 3 * 32 * 32]
    ask = W.pack("CLASSIFY", 42, image, input_bytes=len(image))
    sock.send(ask)
    sock.send(ask)
    replies = [W.unpack(sock.recv()) for _ in range(1)]
    time.sleep(0.3)
    sock.send(ask)  # after the answer: the remembered one
    replies.append(W.unpack(sock.recv()))
    other = W.pack("CLASSIFY", 42, bytes(len(image)), input_bytes=len(image))
    sock.send(other)
    stale = W.unpack(sock.recv())
    assert not sock.poll(300)  # nothing more
    sock.close(0)
    assert [r.name for r in replies] == ["RESULT", "RESULT"] and replies[0] == replies[1]
    assert np.frombuffer(replies[0].payload, "<i4").tolist() == expect[0].tolist()
    assert W.error_of(stale).name == "stale_request"
    with Client(s.url, s.key, app) as c:
        assert c.info()["boards"][0]["runs"] == 1  # one batch ran


def test_a_board_killed_while_serving(data, keys, app, daemons, serve):
    inputs, _, expect = data
    images = np.frombuffer(inputs["images"], "i1").reshape(-1, 3, 32, 32)
    ds = daemons(2)
    s = serve(ds)
    killer = threading.Thread(target=lambda: (ds[0].wait_running(), ds[0].kill()))
    with Client(s.url, s.key, app, timeout=10) as c:
        c.info()
        killer.start()
        answers = c.classify_many(np.concatenate([images, images]), window=12)
        killer.join()
        assert c.duplicates == 0 and c.resent == 0
        health = c.info()["boards"]
    assert (np.stack([a for _, a in answers]) == np.concatenate([expect, expect])).all()
    assert health[0]["state"] == "down" and health[1]["state"] == "up"
    assert f"board {ds[0].url} lost" in s.err()


def test_no_board_then_the_board_back(data, keys, app, daemons, serve):
    inputs, _, expect = data
    (d,) = daemons(1)
    s = serve([d], "--request-timeout", "2", "--rejoin", "0.3")
    image = np.frombuffer(inputs["images"], "i1").reshape(-1, 3, 32, 32)[0]
    with Client(s.url, s.key, app, timeout=5) as c:
        assert c.classify(image)[0] == expect[0].argmax()
        d.kill()
        with pytest.raises(ClientError) as e:
            c.classify(image)
        assert e.value.name == "timeout"
        d.start()  # the same port
        deadline = time.monotonic() + 10
        while c.info()["boards"][0]["state"] != "up" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (c.classify(image)[1] == expect[0]).all()
    assert f"board {d.url} is back" in s.err()


def test_service_in_process_batches_fill_under_load(net, data, keys, app, daemons):
    """Many requests at once while the one board is busy: full batches."""
    inputs, consts, expect = data
    (d,) = daemons(1)
    lay = layout(net, pipeline(net, System.uniform(1), 1, (), (1,)))
    fleet = Fleet(lay, [(d.url, keys.board[0])], keys.host, consts, 0.3, 1.5)
    svc = Service(fleet, lay, "tcp://127.0.0.1:*", keys.host, keys.directory / "apps")
    t = threading.Thread(target=svc.serve)
    t.start()
    try:
        images = np.frombuffer(inputs["images"], "i1").reshape(-1, 3, 32, 32)
        with Client(svc.url, keys.host[0], app) as c:
            answers = c.classify_many(images[:10], window=10)
        assert (np.stack([a for _, a in answers]) == expect[:10]).all()
        # the first image alone (the board was idle), then full batches
        assert fleet.health[0].runs <= 1 + -(-9 // BATCH)
    finally:
        svc.stop()
        t.join()
        fleet.close()


def test_a_bundle_served(net, data, keys, app, daemons, serve, tmp_path):
    """acic serve BUNDLE: the plan of a bundle; images as bytes, scores as i32."""
    from aci import bundle

    inputs, _, expect = data
    path = tmp_path / "dp.acb"
    bundle.write(pipeline(net, System.uniform(2), 2, (), (2,)), str(path))
    s = serve(daemons(2), file=str(path))
    per = 3 * 32 * 32
    with Client(s.url, s.key, app) as c:
        info = c.info()
        assert info["input"] == {"name": "images", "elem": "u8", "shape": [per]}
        assert info["output"] == {"name": "scores", "elem": "i32", "shape": [10]}
        answers = c.classify_many(
            [inputs["images"][k * per : (k + 1) * per] for k in range(len(expect))]
        )
    assert (np.stack([a for _, a in answers]) == expect).all()
