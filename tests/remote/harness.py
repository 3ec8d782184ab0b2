"""Board daemons as real processes on 127.0.0.1: the one way the tests start and stop
them (tests/daemon, tests/remote, the remote engine of tests/conftest.py) and
bench/bench_remote.py's.

``Keys.make(directory)`` writes the key pairs a session needs with ``acic keygen``'s
format: the board's, the host's (authorised on the board), the fault proxy's and the
observer's (authorised too) and a stranger's (not authorised). ``Daemon(keys,
directory, pace=0, extra=(), binary=None, insecure=False)`` is one board daemon
process (``binary``: a build of firmware/build, default the daemon acic finds;
``insecure``: ``--insecure-loopback``, no keys): ``start()`` binds an ephemeral port
the first time and the same port after ``kill()`` (SIGKILL) or ``stop()``, and
returns once the daemon answers STATUS (``ready=False``: once it listens); ``url``
is its endpoint, ``log_path`` its stderr. ``stop()`` returns its exit status. A
context manager stops it. With ``$ACIC_DAEMON_RECORD`` set, every daemon records
the requests it receives there (firmware/Makefile's fuzz-daemon seeds).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import attrs
import zmq

from aci import protocol as P
from aci.daemon import daemon_binary, keygen, read_pair

ROOT = Path(__file__).resolve().parents[2]


@attrs.frozen
class Keys:
    directory: Path
    board: tuple[bytes, bytes]
    host: tuple[bytes, bytes]
    proxy: tuple[bytes, bytes]
    observer: tuple[bytes, bytes]  # the tests' own look at the board (STATUS, RESET)
    stranger: tuple[bytes, bytes]  # a key the board does not admit

    @classmethod
    def make(cls, directory: Path) -> Keys:
        directory.mkdir(parents=True, exist_ok=True)
        pairs = {}
        for name in ("board", "host", "proxy", "observer", "stranger"):
            keygen(directory / name)
            pairs[name] = read_pair(directory / name)
        (directory / "authorized").write_bytes(
            b"# the hosts this board admits\n"
            + b"".join(
                pairs[k][0] + b"  " + k.encode() + b"\n" for k in ("host", "proxy", "observer")
            )
        )
        return cls(
            directory, *(pairs[k] for k in ("board", "host", "proxy", "observer", "stranger"))
        )


class Daemon:
    def __init__(
        self,
        keys: Keys,
        directory: Path,
        pace: float = 0,
        extra: tuple[str, ...] = (),
        binary: str | None = None,
        insecure: bool = False,
    ):
        self.keys, self.directory, self.pace, self.extra = keys, directory, pace, tuple(extra)
        self.binary = daemon_binary() if binary is None else ROOT / "firmware" / "build" / binary
        self.insecure = insecure
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.log_path: Path | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        record = os.environ.get("ACIC_DAEMON_RECORD")  # firmware/Makefile's fuzz-daemon seeds
        return [
            str(self.binary),
            "--bind",
            f"tcp://127.0.0.1:{self.port or '*'}",
            *(
                ["--insecure-loopback"]
                if self.insecure
                else [
                    "--key",
                    str(self.keys.directory / "board"),
                    "--authorized-keys",
                    str(self.keys.directory / "authorized"),
                ]
            ),
            *(["--pace", f"{self.pace:.6g}"] if self.pace else []),
            *(["--record", str(Path(record) / f"session-{time.time_ns()}")] if record else []),
            *self.extra,
        ]

    def start(self, ready: bool = True) -> Daemon:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.log_path = self.directory / f"daemon-{self.starts}.log"
        self._log = open(log, "w")
        deadline = time.monotonic() + 10
        while True:
            self.proc = subprocess.Popen(
                self.command(), stdout=subprocess.PIPE, stderr=self._log, text=True
            )
            line = self.proc.stdout.readline()
            if line.strip():
                break
            # The port of a killed daemon may be held a moment longer: try again.
            self.proc.wait()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the daemon did not start: see {log}")
            time.sleep(0.05)
        assert line.startswith("listening tcp://127.0.0.1:"), (line, log.read_text())
        self.port = int(line.split()[-1].rsplit(":", 1)[1])
        self.starts += 1
        if ready and self.request("STATUS", timeout=10) is None:
            raise RuntimeError(f"the daemon at {self.url} does not answer STATUS")
        return self

    def request(self, name: str, timeout: float = 5.0, epoch: int = 0, **fields) -> P.Msg | None:
        """One request from the observer's key (not the host's: the board keeps
        request-id floors per key), its reply or None."""
        s = zmq.Context.instance().socket(zmq.DEALER)
        s.linger = 0
        if not self.insecure:
            s.curve_serverkey = self.keys.board[0]
            s.curve_publickey, s.curve_secretkey = self.keys.observer
        s.connect(self.url)
        try:
            s.send(P.pack(name, time.time_ns(), epoch, **fields))
            return P.unpack(s.recv()) if s.poll(int(timeout * 1000)) else None
        finally:
            s.close(0)

    def status(self) -> dict:
        r = self.request("STATUS")
        assert r is not None and r.name == "STATUS_REPLY", r
        return {**r.fields, "epoch": r.epoch}

    def wait_running(self, timeout: float = 10.0) -> dict:
        """STATUS once a run goes on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st["state"] == P.BOARD_STATES["running"]:
                return st
            time.sleep(0.005)
        raise AssertionError(f"no run started on {self.url} in {timeout} s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close_log()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """Stop it (SIGTERM, then SIGKILL after 10 s); its exit status (0: it stopped
        as asked, never crashed)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_log()
        return self.proc.returncode if self.proc else None

    def _close_log(self) -> None:
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if self._log:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return "".join(p.read_text() for p in sorted(self.directory.glob("daemon-*.log")))

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
