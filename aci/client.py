"""A small client of the inference service (``acic serve``, docs/serve.md).

``Client(url, server_key, keys, timeout=5.0, patience=60.0)`` connects to the
service at ``url`` with CURVE: ``server_key`` is the service's public key (its
``--key`` pair's), ``keys`` this application's (public, secret) pair, which the
service's authorised keys must list (``aci.daemon.read_public`` and ``read_pair``
read the files ``acic keygen`` writes).

- ``info()``: what the service takes and gives (the INFO_REPLY's fields and its JSON
  description);
- ``classify(image) -> (class, scores)``: one image (a numpy array of the input's
  element type and shape, or its bytes), its class and its scores (a numpy array);
- ``classify_many(images, window=64)``: many, up to ``window`` outstanding at once,
  the answers in order.

A request without an answer within ``timeout`` seconds is sent again with the same
id (the service answers each id once and repeats that answer); after ``patience``
seconds without one, :class:`ClientError`. An ERROR reply raises ClientError with
``.name`` its code's name (``bad_input``, ``no_board``, ...).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

import numpy as np
import zmq

from . import service as W
from .buffers import ELEMENT_DTYPES
from .diagnostics import AciError


class ClientError(AciError):
    """The service refused a request, failed it, or did not answer; ``name`` says which."""

    def __init__(self, message: str, name: str = "no_answer"):
        super().__init__(message)
        self.name = name


class Client:
    def __init__(
        self,
        url: str,
        server_key: bytes,
        keys: tuple[bytes, bytes],
        timeout: float = 5.0,
        patience: float = 60.0,
        context: zmq.Context | None = None,
    ):
        self.url, self.timeout, self.patience = url, timeout, patience
        self.resent = 0  # requests sent again after a timeout
        self.duplicates = 0  # answers to a request answered already (dropped)
        s = (context or zmq.Context.instance()).socket(zmq.DEALER)
        s.linger = 0
        s.curve_serverkey = server_key
        s.curve_publickey, s.curve_secretkey = keys
        s.maxmsgsize = W.LIMITS["max_message_bytes"]
        s.connect(url)
        self._sock = s
        self._rid = time.time_ns()
        self._info: dict | None = None
        self._answered: set[int] = set()

    def close(self) -> None:
        self._sock.close(0)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- requests ----------------------------------------------------------------------

    def _next_id(self) -> int:
        self._rid += 1
        return self._rid

    def _send(self, data: bytes) -> None:
        try:
            self._sock.send(data, zmq.NOBLOCK)
        except zmq.Again:
            pass  # not connected (yet, or the key is refused): sent again after `timeout`

    def _exchange(self, messages: dict[int, bytes], window: int) -> dict[int, W.Msg]:
        """Send every message (by request id, at most ``window`` unanswered at once),
        resending each after ``timeout``; their replies by id."""
        todo = list(messages)
        out: dict[int, W.Msg] = {}
        sent: dict[int, float] = {}  # id -> when it was last sent
        give_up = time.monotonic() + self.patience
        while len(out) < len(messages):
            now = time.monotonic()
            while todo and len(sent) < window:
                rid = todo.pop(0)
                self._send(messages[rid])
                sent[rid] = now
            for rid, at in sent.items():
                if now - at >= self.timeout:
                    self._send(messages[rid])
                    sent[rid] = now
                    self.resent += 1
            if now >= give_up:
                raise ClientError(
                    f"service {self.url}: no answer for {self.patience:g} s "
                    f"({len(messages) - len(out)} requests unanswered)"
                )
            wait = min([at + self.timeout for at in sent.values()] + [give_up]) - now
            if not self._sock.poll(max(1, int(wait * 1000)), zmq.POLLIN):
                continue
            try:
                msg = W.unpack(self._sock.recv(zmq.NOBLOCK))
            except W.ServiceError as e:
                raise ClientError(f"service {self.url}: malformed reply: {e}", e.name) from None
            if msg.request_id in self._answered or msg.request_id not in sent:
                self.duplicates += 1
                continue
            self._answered.add(msg.request_id)
            del sent[msg.request_id]
            out[msg.request_id] = msg
            give_up = time.monotonic() + self.patience
        return out

    def info(self) -> dict:
        rid = self._next_id()
        msg = self._exchange({rid: W.pack("INFO", rid)}, 1)[rid]
        _raise(self.url, msg)
        self._info = {**msg.fields, **json.loads(msg.payload.decode("utf-8"))}
        return self._info

    def _image_bytes(self, image) -> bytes:
        if isinstance(image, bytes | bytearray | memoryview):
            return bytes(image)
        info = self._info or self.info()
        dtype = ELEMENT_DTYPES[info["input"]["elem"]]
        shape = tuple(info["input"]["shape"])
        a = np.asarray(image)
        if a.dtype != dtype or a.shape != shape:
            raise ClientError(
                f"an image is an array of {dtype} {shape}, not {a.dtype} {a.shape}", "bad_input"
            )
        return np.ascontiguousarray(a).tobytes()

    def _scores(self, msg: W.Msg):
        info = self._info or self.info()
        dtype = ELEMENT_DTYPES[info["output"]["elem"]]
        return msg.fields["class"], np.frombuffer(msg.payload, dtype).copy()

    def classify(self, image) -> tuple[int, np.ndarray]:
        return self.classify_many([image], 1)[0]

    def classify_many(self, images: Iterable, window: int = 64) -> list[tuple[int, np.ndarray]]:
        if self._info is None:
            self.info()
        messages = {}
        for image in images:
            data = self._image_bytes(image)
            rid = self._next_id()
            messages[rid] = W.pack("CLASSIFY", rid, data, input_bytes=len(data))
        replies = self._exchange(messages, max(1, window))
        out = []
        for rid in messages:
            _raise(self.url, replies[rid])
            out.append(self._scores(replies[rid]))
        return out


def _raise(url: str, msg: W.Msg) -> None:
    if msg.name == "ERROR":
        e = W.error_of(msg)
        raise ClientError(f"service {url}: {e.name}: {e.detail}", e.name)
