"""Board daemons for the daemon's tests: real acifw-board processes on 127.0.0.1 with
an ephemeral port, talking ZeroMQ with CURVE, started and stopped by the one harness
(tests/remote/harness.py); this adds the raw protocol the tests speak."""

from __future__ import annotations

import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import zmq

from aci import protocol as P

from ..remote import harness
from ..remote.harness import Keys

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware" / "build"


class Daemon:
    """One acifw-board process (started and stopped by tests/remote/harness.py);
    ``request`` sends one message with a key pair and returns the decoded reply (or
    None after ``timeout``)."""

    def __init__(
        self,
        keys: Keys,
        directory: Path,
        *extra: str,
        binary: str = "acifw-board",
        insecure: bool = False,
    ):
        self.process = harness.Daemon(
            keys, directory, extra=extra, binary=binary, insecure=insecure
        ).start(ready=False)
        self.url = self.process.url
        self.log = self.process.log_path
        self.board_key = None if insecure else keys.board[0]
        self.host = None if insecure else keys.host
        self.ids = time.time_ns()
        self.epoch = 0

    def socket(self, keys="host", connect=True):
        """A DEALER with the host's key pair, another (keys=(public, secret)), or
        without CURVE (keys=None)."""
        s = zmq.Context.instance().socket(zmq.DEALER)
        s.linger = 0
        if self.board_key is not None and keys is not None:
            s.curve_serverkey = self.board_key
            s.curve_publickey, s.curve_secretkey = self.host if keys == "host" else keys
        if connect:
            s.connect(self.url)
        return s

    def raw(self, data: bytes, timeout: float = 5.0, sock=None) -> P.Msg | None:
        s = sock or self.socket()
        try:
            s.send(data)
            if not s.poll(int(timeout * 1000)):
                return None
            return P.unpack(s.recv())
        finally:
            if sock is None:
                s.close(0)

    def next_id(self) -> int:
        self.ids += 1
        return self.ids

    def request(
        self, name, payload=b"", rid=None, epoch=None, timeout=5.0, sock=None, **fields
    ) -> P.Msg:
        rid = rid or self.next_id()
        epoch = self.epoch if epoch is None else epoch
        msg = self.raw(P.pack(name, rid, epoch, payload, **fields), timeout, sock)
        assert msg is not None, f"{name}: no reply"
        assert msg.request_id == rid
        return msg

    def hello(self) -> P.Msg:
        r = self.request(
            "HELLO",
            epoch=0,
            major=P.VERSION_MAJOR,
            minor=P.VERSION_MINOR,
            image_major=1,
            client="tests",
        )
        assert r.name == "HELLO_REPLY", r
        self.epoch = r.epoch
        return r

    def load(self, image: bytes, **fields) -> P.Msg:
        return self.request(
            "LOAD", image, image_bytes=len(image), image_crc32=zlib.crc32(image), **fields
        )

    def status(self) -> dict:
        r = self.request("STATUS", epoch=0)
        assert r.name == "STATUS_REPLY", r
        return {**r.fields, "epoch": r.epoch}

    def alive(self) -> bool:
        return self.process.alive()

    def stop(self) -> int | None:
        return self.process.stop()


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> Keys:
    return Keys.make(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def start(keys, tmp_path):
    """start(*options, binary=..., insecure=...) -> a Daemon that has said HELLO; stopped
    (exit status 0 checked: it never crashed) at the end."""
    daemons = []

    def go(*extra, binary="acifw-board", insecure=False, hello=True):
        d = Daemon(
            keys, tmp_path / f"daemon{len(daemons)}", *extra, binary=binary, insecure=insecure
        )
        daemons.append(d)
        if hello:
            d.hello()
        return d

    yield go
    for d in daemons:
        assert d.stop() == 0, d.log.read_text()


def compile_program(tmp_path: Path, source: str, *defines: str, mode: str = "strict") -> bytes:
    out = tmp_path / f"{Path(source).stem}-{mode}.acx"
    args = [
        sys.executable,
        "-m",
        "aci",
        "compile",
        source,
        *defines,
        "--mode",
        mode,
        "-o",
        str(out),
    ]
    subprocess.run(args, check=True, capture_output=True)
    return out.read_bytes()
