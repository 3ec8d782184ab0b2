"""The inference service (``acic serve``, docs/serve.md): applications' classification
requests, batched, run on several board daemons by :class:`aci.fleet.Fleet`.

:class:`Service` owns one ZeroMQ ROUTER socket with CURVE (it admits the public keys
of its authorised-keys file, read again at each connection) and runs in one thread,
the one that calls :meth:`Service.serve`: it reads requests (the wire format of
:mod:`aci.service`), queues the images, forms batches, submits them to the fleet and
answers each request once its batch is done. Batches: as soon as a board of the
first stage is idle, the images waiting (up to a batch) go; while every board is
busy, they wait and the batch fills up. A batch that is not full is padded with
zeros (the padding's results dropped).

Each request is answered exactly once: the service remembers, per client (its CURVE
public key), the requests it holds and the replies it gave; a request sent again
with the same id is not queued again (the reply goes to the latest copy when it is
ready) and one already answered gets the same reply again. A board lost during a
batch does not lose the batch (the fleet runs it on another board); with no board
left the requests get ERROR ``no_board``; a request still unanswered after
``request_timeout`` seconds gets ERROR ``timeout`` (and its batch's result, should
it come, is dropped for it). ``status`` (a stream) gets a line every
``status_interval`` seconds with the requests served and each board's health, and
a line for each board lost, back, or stage moved.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import threading
import time
import zlib
from collections.abc import Mapping
from pathlib import Path

import attrs
import numpy as np
import zmq

from . import service as W
from .buffers import expected_array
from .fleet import Fleet, FleetError, Layout


def authorized(path: str | Path) -> set[bytes]:
    """The public keys (Z85) of an authorised-keys file: the first word of each line,
    ``#`` lines and blank lines skipped."""
    keys: set[bytes] = set()
    try:
        text = Path(path).read_bytes()
    except OSError:
        return keys
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(b"#"):
            keys.add(line.split()[0])
    return keys


class _Keys:
    """pyzmq's CURVE credentials provider: the file read at each connection."""

    def __init__(self, path: str | Path):
        self.path = path

    def callback(self, domain: str, key: bytes) -> bool:
        return key in authorized(self.path)


@attrs.define
class Request:
    client: bytes  # the application's public key (Z85)
    rid: int
    route: tuple  # (ROUTER identity, envelope) of its latest copy
    image: bytes
    deadline: float
    crc: int
    received: float
    batch: int = -1


class Service:
    def __init__(
        self,
        fleet: Fleet,
        lay: Layout,
        bind: str,
        keys: tuple[bytes, bytes],
        authorized_keys: str | Path,
        request_timeout: float = 60.0,
        description: Mapping | None = None,
    ):
        self.fleet, self.layout = fleet, lay
        if len(lay.inputs) != 1 or len(lay.outputs) != 1:
            raise FleetError(
                "a classification service takes a network with one per-batch input and one "
                f"per-batch output (this one: {', '.join(b.name for b in lay.inputs)} in, "
                f"{', '.join(b.name for b in lay.outputs)} out)"
            )
        self.input, self.output = lay.inputs[0], lay.outputs[0]
        self.in_bytes, self.out_bytes = lay.per_image(self.input), lay.per_image(self.output)
        self.out_dtype = expected_array(self.output)[0]
        self.request_timeout = request_timeout
        self.description = dict(description or {})
        self.served = 0
        self.errors = 0
        self.started = time.monotonic()
        self._ctx = zmq.Context()
        from zmq.auth.thread import ThreadAuthenticator

        self._auth = ThreadAuthenticator(self._ctx)
        self._auth.start()
        self._auth.configure_curve_callback("*", credentials_provider=_Keys(authorized_keys))
        s = self._ctx.socket(zmq.ROUTER)
        s.linger = 0
        s.curve_server = True
        s.curve_publickey, s.curve_secretkey = keys
        s.maxmsgsize = W.LIMITS["max_message_bytes"]
        s.router_mandatory = False
        try:
            s.bind(bind)
        except zmq.ZMQError as e:
            s.close(0)
            self._auth.stop()
            self._ctx.term()
            raise FleetError(f"cannot bind {bind}: {e}") from None
        self.socket = s
        self.url = s.getsockopt_string(zmq.LAST_ENDPOINT)
        self._waiting: collections.deque[Request] = collections.deque()
        self._held: dict[tuple[bytes, int], Request] = {}  # queued or in a batch
        self._answered: dict[bytes, collections.OrderedDict] = {}  # client -> rid -> (crc, reply)
        self._batches: dict[int, list[Request]] = {}
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._stop = threading.Event()
        # seconds from request to RESULT, the last 100,000 (the benchmark reads them)
        self.latencies: collections.deque[float] = collections.deque(maxlen=100_000)

    # ---- the loop --------------------------------------------------------------------

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # the pipe is full: the loop wakes anyway

    def stop(self) -> None:
        self._stop.set()
        self.wake()

    def serve(self, status=None, status_interval: float = 1.0) -> None:
        """Answer requests until :meth:`stop` (from another thread) or an interrupt."""
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        next_status = time.monotonic() + status_interval
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                until = [next_status] if status else []
                if self._held:
                    until.append(min(r.deadline for r in self._held.values()))
                wait = max(0.0, min(until, default=now + 1.0) - now)
                ready = dict(poller.poll(int(wait * 1000) + 1))
                if self._wake_r in ready:
                    os.read(self._wake_r, 4096)
                if self.socket in ready:
                    self._read()
                self._finish()
                self._dispatch()
                self._expire()
                if status and time.monotonic() >= next_status:
                    status.write(self.status_line() + "\n")
                    status.flush()
                    next_status = time.monotonic() + status_interval
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        for r in list(self._held.values()):
            self._answer(r, W.error(r.rid, "shutting_down", "the service is stopping"))
        self.socket.close(0)
        self._auth.stop()
        self._ctx.term()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # ---- requests ----------------------------------------------------------------------------

    def _read(self) -> None:
        while True:
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            route = frames[0].bytes
            last = frames[-1]
            envelope = [f.bytes for f in frames[1:-1]]  # a REQ client's empty delimiter
            user = last.get("User-Id")  # the ZAP handler's name for the client's key
            client = (user if isinstance(user, str) else "").encode()
            self._request(client, route, envelope, last.bytes)

    def _send(self, route: bytes, envelope: list[bytes], data: bytes) -> None:
        try:
            self.socket.send_multipart([route, *envelope, data], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the client is gone: it asks again, and gets the remembered reply

    def _request(self, client: bytes, route: bytes, envelope: list[bytes], data: bytes) -> None:
        try:
            msg = W.unpack(data)
        except W.ServiceError as e:
            self._send(route, envelope, W.error(e.request_id, e.name, e.detail))
            return
        if msg.name not in ("CLASSIFY", "INFO"):
            self._send(route, envelope, W.error(msg.request_id, "unknown_type", msg.name))
            return
        if msg.name == "INFO":
            self._send(route, envelope, self._info(msg.request_id))
            return
        crc = zlib.crc32(data)
        key = (client, msg.request_id)
        book: collections.OrderedDict = self._answered.get(client, collections.OrderedDict())
        remembered = book.get(msg.request_id)
        held = self._held.get(key)
        if remembered is not None or held is not None:
            if (remembered[0] if remembered is not None else held.crc if held else None) != crc:
                self._send(
                    route,
                    envelope,
                    W.error(msg.request_id, "stale_request", "this id was used for another image"),
                )
            elif remembered is not None:
                self._send(route, envelope, remembered[1])
            elif held is not None:
                held.route = (route, envelope)  # the reply goes to the latest copy
            return
        if len(msg.payload) != self.in_bytes:
            self._remember_and_send(
                client,
                msg.request_id,
                crc,
                (route, envelope),
                W.error(
                    msg.request_id,
                    "bad_input",
                    f"an image is {self.in_bytes:,} bytes ({self.input.elem}"
                    f"{list(self.input.shape[1:])}), not {len(msg.payload):,}",
                ),
            )
            return
        if not self.fleet.live() and not self.fleet.rejoin:
            self._remember_and_send(
                client,
                msg.request_id,
                crc,
                (route, envelope),
                W.error(msg.request_id, "no_board", "no board remains"),
            )
            return
        now = time.monotonic()
        r = Request(
            client,
            msg.request_id,
            (route, envelope),
            msg.payload,
            now + self.request_timeout,
            crc,
            now,
        )
        self._held[key] = r
        self._waiting.append(r)

    def _remember_and_send(self, client, rid, crc, route, reply) -> None:
        book = self._answered.setdefault(client, collections.OrderedDict())
        book[rid] = (crc, reply)
        while len(book) > W.LIMITS["remembered_replies"]:
            book.popitem(last=False)
        self._send(route[0], route[1], reply)

    def _answer(self, r: Request, reply: bytes) -> None:
        """Answer a held request, once."""
        if self._held.pop((r.client, r.rid), None) is None:
            return
        self._remember_and_send(r.client, r.rid, r.crc, r.route, reply)

    # ---- batches -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while self._waiting and (len(self._waiting) >= self.layout.batch or self.fleet.room() > 0):
            reqs: list[Request] = []
            while self._waiting and len(reqs) < self.layout.batch:
                r = self._waiting.popleft()
                if (r.client, r.rid) in self._held:  # not timed out meanwhile
                    reqs.append(r)
            if not reqs:
                return
            data = b"".join(r.image for r in reqs)
            data += bytes(self.input.size - len(data))
            ticket = self.fleet.submit({self.input.name: data})
            for r in reqs:
                r.batch = ticket.batch
            self._batches[ticket.batch] = reqs
            ticket.on_done(self._ticket_done)

    def _ticket_done(self, ticket) -> None:
        self._done.put(ticket)
        self.wake()

    def _finish(self) -> None:
        while True:
            try:
                ticket = self._done.get_nowait()
            except queue.Empty:
                return
            reqs = self._batches.pop(ticket.batch, [])
            try:
                out = ticket.result(0)[self.output.name]
            except FleetError as e:
                name = "no_board" if "no board remains" in str(e) else "run_failed"
                for r in reqs:
                    self.errors += 1
                    self._answer(r, W.error(r.rid, name, str(e)))
                continue
            now = time.monotonic()
            for i, r in enumerate(reqs):
                raw = out[i * self.out_bytes : (i + 1) * self.out_bytes]
                scores = np.frombuffer(raw, self.out_dtype)
                if (r.client, r.rid) in self._held:
                    self.served += 1
                    self.latencies.append(now - r.received)
                self._answer(
                    r,
                    W.pack(
                        "RESULT",
                        r.rid,
                        raw,
                        **{
                            "class": int(np.argmax(scores)),
                            "scores": len(scores),
                            "batch": ticket.batch,
                            "board": max(ticket.board, 0),
                        },
                    ),
                )

    def _expire(self) -> None:
        now = time.monotonic()
        for r in [r for r in self._held.values() if r.deadline <= now]:
            self.errors += 1
            self._answer(
                r,
                W.error(
                    r.rid,
                    "timeout",
                    f"not answered in {self.request_timeout:g} s"
                    + (" (no board answers)" if not self.fleet.live() else ""),
                ),
            )

    # ---- what it says about itself ----------------------------------------------------------------

    def _info(self, rid: int) -> bytes:
        def one(b):
            return {"name": b.name, "elem": b.elem, "shape": list(b.shape[1:])}

        desc = {
            "input": one(self.input),
            "output": one(self.output),
            **self.description,
            "boards": [
                {"url": h.url, "state": h.state, "runs": h.runs, "error": h.error[:80]}
                for h in self.fleet.health
            ],
        }
        text = json.dumps(desc).encode()
        return W.pack(
            "INFO_REPLY",
            rid,
            text,
            input_bytes=self.in_bytes,
            output_bytes=self.out_bytes,
            batch=self.layout.batch,
            boards=len(self.fleet.health),
            boards_up=sum(h.state == "up" for h in self.fleet.health),
            served=self.served,
        )

    def status_line(self) -> str:
        elapsed = max(1e-9, time.monotonic() - self.started)
        boards = " | ".join(
            f"{h.url} {h.state}" + (f" {h.runs} runs" if h.state != "down" else f": {h.error[:60]}")
            for h in self.fleet.health
        )
        return (
            f"served {self.served:,} ({self.served / elapsed:,.1f}/s), errors {self.errors}, "
            f"waiting {len(self._waiting)}, in batches {len(self._held) - len(self._waiting)} "
            f"| {boards}"
        )
