"""A fault-injecting ZeroMQ proxy, for the fault tests and the fault campaign.

``FaultProxy(upstream, upstream_key, faults=None)`` sits between hosts and a board
daemon on the loopback interface: hosts connect to ``proxy.endpoint`` as they would
to the board, and every message is forwarded, message for message (all its frames),
through one DEALER per host connection to ``upstream``. It is a trusted test
component: CURVE ends at the proxy on both sides, with keys of its own -- it serves
hosts with ``proxy.public_key`` (any client key is accepted) and connects to the
daemon with the client key pair ``client_keys``, which the daemon's authorised keys
must list.

What happens to each message is the policy's decision: ``faults(direction, frames)``
(``direction`` is ``"up"``, host to board, or ``"down"``) returns an :class:`Action`
-- forward, drop, duplicate, delay by some seconds, or cut every connection (the
message is lost with them). :class:`RandomFaults` draws them with given
probabilities from a seeded generator; a test passes any callable (and may change
``proxy.faults`` while the proxy runs). ``proxy.cut()`` cuts every connection now:
the listening socket is closed and bound again on the same port, every upstream
DEALER is closed; the hosts' sockets reconnect by themselves, as they would after a
network failure, and whatever was in flight is lost. ``proxy.counts`` counts what
was done to messages.

The proxy runs in a thread of its own (``start()``, ``close()``; a context manager)
with its own ZeroMQ context. Raises ``zmq.ZMQError`` from ``start()`` when it cannot
bind.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import attrs
import zmq


@attrs.frozen
class Action:
    kind: str = "forward"  # forward, drop, duplicate, delay, cut
    seconds: float = 0.0  # delay


FORWARD = Action()
DROP = Action("drop")
DUPLICATE = Action("duplicate")
CUT = Action("cut")


def delay(seconds: float) -> Action:
    return Action("delay", seconds)


Faults = Callable[[str, Sequence[bytes]], Action]


def no_faults(direction: str, frames: Sequence[bytes]) -> Action:
    return FORWARD


@attrs.define
class RandomFaults:
    """Each message independently: dropped, duplicated, delayed (uniformly up to
    ``max_delay`` seconds) or the connections cut, with these probabilities."""

    seed: int = 0
    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    cut: float = 0.0
    max_delay: float = 0.05
    _rng: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self):
        self._rng = random.Random(self.seed)

    def __call__(self, direction: str, frames: Sequence[bytes]) -> Action:
        x = self._rng.random()
        for p, action in ((self.cut, CUT), (self.drop, DROP), (self.duplicate, DUPLICATE)):
            if x < p:
                return action
            x -= p
        if x < self.delay:
            return delay(self._rng.uniform(0, self.max_delay))
        return FORWARD


# How long the loop waits for messages before it looks at its commands again.
_TICK = 0.01


class FaultProxy:
    def __init__(
        self,
        upstream: str,
        upstream_key: bytes,
        client_keys: tuple[bytes, bytes],
        faults: Faults | None = None,
        host: str = "127.0.0.1",
    ):
        self.upstream, self.upstream_key, self.client_keys = upstream, upstream_key, client_keys
        self.faults: Faults = faults or no_faults
        self.public_key, self._secret_key = zmq.curve_keypair()
        self.counts: Counter = Counter()
        self._host = host
        self._ctx = zmq.Context()
        self._commands: list[str] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cut_done = threading.Condition(self._lock)
        self._front: zmq.Socket | None = None
        self._port = 0
        self._backs: dict[bytes, zmq.Socket] = {}  # host routing id -> its DEALER upstream
        self._owner: dict[zmq.Socket, bytes] = {}
        self._held: list[tuple[float, int, str, bytes, list[bytes]]] = []  # delayed messages
        self._serial = 0

    @property
    def endpoint(self) -> str:
        return f"tcp://{self._host}:{self._port}"

    # ---- control (any thread) -------------------------------------------------------

    def start(self) -> FaultProxy:
        self._bind(0)
        self._thread = threading.Thread(target=self._loop, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def cut(self, wait: bool = True) -> None:
        """Cut every connection (the hosts reconnect by themselves)."""
        with self._lock:
            self._commands.append("cut")
            if wait:
                n = self.counts["cut"]
                while self.counts["cut"] == n and self._thread and self._thread.is_alive():
                    self._cut_done.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self._close_all()
        self._ctx.term()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- the loop (the proxy's thread) ----------------------------------------------

    def _bind(self, port: int) -> None:
        s = self._ctx.socket(zmq.ROUTER)
        s.linger = 0
        s.curve_server = True
        s.curve_secretkey = self._secret_key
        s.router_mandatory = False
        deadline = time.monotonic() + 5
        while True:
            try:
                if port:
                    s.bind(f"tcp://{self._host}:{port}")
                else:
                    s.bind(f"tcp://{self._host}:*")
                break
            except zmq.ZMQError as e:
                # The listener closed by a cut is released by ZeroMQ's I/O thread a
                # moment later; the port is ours again then.
                if e.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                    s.close()
                    raise
                time.sleep(0.005)
        endpoint = s.last_endpoint  # bytes, as ZMQ_LAST_ENDPOINT is
        assert isinstance(endpoint, bytes)
        self._port = int(endpoint.decode().rsplit(":", 1)[1])
        self._front = s

    def _back(self, ident: bytes) -> zmq.Socket:
        s = self._backs.get(ident)
        if s is None:
            s = self._ctx.socket(zmq.DEALER)
            s.linger = 0
            s.curve_serverkey = self.upstream_key
            s.curve_publickey, s.curve_secretkey = self.client_keys
            s.connect(self.upstream)
            self._backs[ident] = s
            self._owner[s] = ident
        return s

    def _close_all(self) -> None:
        for s in self._backs.values():
            s.close(0)
        self._backs.clear()
        self._owner.clear()
        if self._front is not None:
            self._front.close(0)
            self._front = None

    def _cut(self) -> None:
        self._close_all()
        self._held.clear()  # in flight: lost with the connections
        self._bind(self._port)
        with self._lock:
            self.counts["cut"] += 1
            self._cut_done.notify_all()

    def _deliver(self, direction: str, ident: bytes, frames: list[bytes]) -> None:
        if direction == "up":
            self._back(ident).send_multipart(frames)
        elif self._front is not None:
            self._front.send_multipart([ident, *frames])

    def _handle(self, direction: str, ident: bytes, frames: list[bytes]) -> None:
        action = self.faults(direction, frames)
        self.counts[action.kind] += 1
        if action.kind == "drop":
            return
        if action.kind == "cut":
            self._cut()
            return
        if action.kind == "delay":
            self._serial += 1
            heapq.heappush(
                self._held,
                (time.monotonic() + action.seconds, self._serial, direction, ident, frames),
            )
            return
        self._deliver(direction, ident, frames)
        if action.kind == "duplicate":
            self._deliver(direction, ident, frames)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                commands, self._commands = self._commands, []
            for _ in commands:
                self._cut()
            now = time.monotonic()
            while self._held and self._held[0][0] <= now:
                _, _, direction, ident, frames = heapq.heappop(self._held)
                if direction == "up" or ident in self._backs:
                    self._deliver(direction, ident, frames)
            timeout = _TICK if not self._held else max(0.0, min(_TICK, self._held[0][0] - now))
            poller = zmq.Poller()
            poller.register(self._front, zmq.POLLIN)
            for s in self._backs.values():
                poller.register(s, zmq.POLLIN)
            for s, _ in poller.poll(int(timeout * 1000)):  # pyzmq truncates to ms too
                if s is self._front:
                    if self._front is None:
                        continue
                    ident, *frames = self._front.recv_multipart(zmq.NOBLOCK)
                    self._handle("up", ident, frames)
                else:
                    owner = self._owner.get(s)
                    if owner is None:
                        continue  # closed by a cut during this round
                    frames = s.recv_multipart(zmq.NOBLOCK)
                    self._handle("down", owner, frames)
