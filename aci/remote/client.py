"""The host's side of a remote board: :class:`Board`, one session with one daemon.

``Board(url, server_key, client_keys, timeout=2.0, patience=30.0)`` talks to the
board daemon at ``url`` (``tcp://HOST:PORT``) in the protocol of
:mod:`aci.protocol` (docs/protocol.md), over a ZeroMQ DEALER socket with CURVE:
``server_key`` is the board's public key, ``client_keys`` the host's (public,
secret) pair, which the board's authorised keys must list.

- ``connect()`` says HELLO: the protocol and image format versions must be this
  acic's; ``hello`` keeps the answer (firmware, target, limits) and ``epoch`` the
  board's boot epoch.
- ``load(image)``: the board validates, backs (zeroed) and prepares the image; a
  refusal by the validator is returned as ``(code, offset)``, None when accepted.
- ``write(data, address=0, symbol="")``, ``read(length, address=0, symbol="")``:
  memory the image declares, by range or by SYMBOLS buffer (in pieces of the
  board's largest message).
- ``run(mode, timing_only, trace)``: a run to its end: its RUN_RESULT fields and,
  with ``trace``, its canonical trace (JSON lines, bytes).
- ``status()``, ``reset()``, ``close()``.

Faults. Every request waits ``timeout`` seconds for its reply, then is sent again
with the same request id (the board answers a repeated mutating request from the
replies it remembers, so nothing is done twice); replies to other ids -- late or
duplicated -- are dropped. A run has a sequence number: the host asks for it with
RUN, the same number and a new request id until the board reports it ended (the
board holds each answer up to half the timeout), and the board starts a sequence
number once only. A board busy with another host's run is asked again. ZeroMQ reconnects a cut connection by itself, and its
heartbeats notice a peer that went silent. Each reply carries the board's epoch:
a board that restarted or was reset answers ``stale_epoch`` and has lost what it
held, so the session is restored -- HELLO, the image loaded again, the writes and
runs since then done again, in order -- and the interrupted request is sent
again. A run's result is returned only when the board reports that run (its
sequence number, its image) ended in the epoch that holds the session's image and
inputs.

Raises :class:`RemoteError` (an AciError: one line, exit 1 from the CLI) naming
the board's URL and what was lost when the board does not answer for ``patience``
seconds (CURVE refuses an unauthorised key silently: that is how it shows), keeps
restarting, speaks another protocol or image format, or refuses a request.
"""

from __future__ import annotations

import time
import zlib

import zmq

from .. import format as F
from .. import protocol as P
from ..diagnostics import AciError

# ZeroMQ's own liveness: a ping each second, the connection dropped after three
# silent ones; then it reconnects, 50 ms at first, at most 1 s apart.
HEARTBEAT_IVL_MS = 1000
HEARTBEAT_TIMEOUT_MS = 3000
RECONNECT_IVL_MS = 50
RECONNECT_IVL_MAX_MS = 1000
# A session gives up after the board restarted this many times during one call.
MAX_RESTARTS = 5
# How long the host waits before it asks a board busy with another host's run again.
BUSY_WAIT = 0.05

RUN_MODE = {
    None: P.RUN_MODES["image"],
    "strict": P.RUN_MODES["strict"],
    "dataflow": P.RUN_MODES["dataflow"],
}
_STATE = {v: k for k, v in P.RUN_STATES.items()}


class RemoteError(AciError):
    """A board that could not do what the host asked; the message names it."""

    protocol: P.ProtocolError | None = None  # the board's ERROR reply, when it sent one


class _Restarted(Exception):
    """The board's epoch changed: it lost the session's image, memory and runs."""


class _Busy(Exception):
    """The board runs something else (another host's run): ask again later."""


class _Timeout(Exception):
    """No reply in ``timeout`` to a request that is asked again with a new id."""


class Board:
    def __init__(
        self,
        url: str,
        server_key: bytes,
        client_keys: tuple[bytes, bytes],
        timeout: float = 2.0,
        patience: float = 30.0,
        client: str = "acic",
        context: zmq.Context | None = None,
    ):
        self.url = url
        self.timeout, self.patience = timeout, patience
        self.hello: dict | None = None
        self.epoch = 0  # 0: not known yet
        self.restarts = 0  # board restarts (or resets) this session recovered from
        self.resent = 0  # requests sent again after a timeout
        self._server_key, self._client_keys, self._client = server_key, client_keys, client
        self._ctx = context or zmq.Context.instance()
        self._sock: zmq.Socket | None = None
        # Request ids only grow, across sessions with the same key too (the board
        # refuses a mutating id below the highest it saw): nanoseconds, then +1.
        self._rid = time.time_ns()
        self._seq = 0
        # What the board holds, to restore it after a restart: LOAD, then the WRITEs
        # and RUNs since, in order.
        self._journal: list[tuple[str, dict, bytes]] = []
        self._base = 0  # journal entries kept by rewind() (checkpoint())
        self._max_data = P.LIMITS["max_data_bytes"]

    # ---- the socket ---------------------------------------------------------------

    def _open(self) -> zmq.Socket:
        if self._sock is None:
            s = self._ctx.socket(zmq.DEALER)
            s.linger = 0
            s.curve_serverkey = self._server_key
            s.curve_publickey, s.curve_secretkey = self._client_keys
            s.heartbeat_ivl = HEARTBEAT_IVL_MS
            s.heartbeat_timeout = HEARTBEAT_TIMEOUT_MS
            s.heartbeat_ttl = HEARTBEAT_TIMEOUT_MS
            s.reconnect_ivl = RECONNECT_IVL_MS
            s.reconnect_ivl_max = RECONNECT_IVL_MAX_MS
            s.maxmsgsize = P.LIMITS["max_message_bytes"]
            try:
                s.connect(self.url)
            except zmq.ZMQError as e:
                s.close(0)
                raise RemoteError(f"board {self.url}: cannot connect: {e}") from None
            self._sock = s
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None

    def __enter__(self) -> Board:
        return self.connect()

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- one request and its retries --------------------------------------------------

    def _exchange(
        self,
        name: str,
        what: str,
        payload: bytes = b"",
        resend: bool = True,
        earlier: set[int] | frozenset = frozenset(),
        **fields,
    ) -> P.Msg:
        """Send one request and return its reply, sending it again (same id) after
        each ``timeout`` without one (``resend``; else _Timeout). _Restarted when
        the board's epoch changed; _Busy when it runs something else; RemoteError
        for an ERROR reply (``.protocol`` holds it) or no reply for ``patience``.
        A reply to one of the ``earlier`` request ids (the same question asked
        before, as RUNs of one sequence number are) is taken as well; the id used
        is added to them."""
        sock = self._open()
        self._rid += 1
        rid = self._rid
        if isinstance(earlier, set):
            earlier.add(rid)
        message = P.pack(
            name, rid, self.epoch if name not in ("HELLO", "STATUS") else 0, payload, **fields
        )
        give_up = time.monotonic() + self.patience
        wait_until = 0.0
        while True:
            now = time.monotonic()
            if now >= give_up:
                raise RemoteError(f"board {self.url}: no answer for {self.patience:g} s to {what}")
            if now >= wait_until:
                if wait_until:
                    if not resend:
                        raise _Timeout()
                    self.resent += 1
                try:
                    sock.send(message, zmq.NOBLOCK)
                except zmq.Again:
                    pass  # not connected now: sent again after `timeout`
                wait_until = now + self.timeout
            if not sock.poll(max(1, int(1000 * (min(wait_until, give_up) - now))), zmq.POLLIN):
                continue
            raw = sock.recv(zmq.NOBLOCK)
            try:
                reply = P.unpack(raw)
            except P.ProtocolError as e:
                if e.request_id in (0, rid):
                    raise RemoteError(f"board {self.url}: malformed reply to {what}: {e}") from None
                continue
            if reply.request_id != rid and reply.request_id not in earlier:
                continue  # a late or duplicated reply to an earlier request
            if reply.name == "ERROR":
                err = P.error_of(reply)
                if err.name == "stale_epoch" or (
                    self.epoch and reply.epoch != self.epoch and name != "STATUS"
                ):
                    raise _Restarted()
                if err.name == "busy":
                    raise _Busy()
                if err.name == "stale_request" and name == "RUN":
                    # A duplicate of this RUN reached the board while it held the
                    # reply to the first: the reply is still to come.
                    continue
                raise _refused(self.url, what, err)
            if self.epoch and reply.epoch != self.epoch and name not in ("HELLO", "STATUS"):
                raise _Restarted()
            if reply.name != P.REPLY[name].name:
                raise RemoteError(f"board {self.url}: answered {what} with {reply.name}")
            return reply

    def _call(
        self, name: str, what: str, payload: bytes = b"", journal: bool = False, **fields
    ) -> P.Msg:
        """_exchange, restoring the session each time the board restarted, and asking
        again (a new id) while the board is busy with another run."""
        restarts = 0
        give_up = time.monotonic() + self.patience
        while True:
            try:
                reply = self._exchange(name, what, payload, **fields)
            except _Restarted:
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise RemoteError(
                        f"board {self.url}: restarted {MAX_RESTARTS} times during {what}"
                    ) from None
                self._restore()
                continue
            except _Busy:
                if time.monotonic() > give_up:
                    raise RemoteError(
                        f"board {self.url}: busy with another run for {self.patience:g} s; "
                        f"{what} was not done"
                    ) from None
                time.sleep(BUSY_WAIT)
                continue
            if journal:
                self._journal.append((name, fields, payload))
            return reply

    def _restore(self) -> None:
        """The board started again or was reset (a new epoch): HELLO, then the journal."""
        self.restarts += 1
        for _ in range(MAX_RESTARTS):
            try:
                self._hello()
                for name, fields, payload in self._journal:
                    if name == "RUN":
                        self._run_to_end(dict(fields), "running again a run the board lost")
                    else:
                        self._exchange(name, f"restoring the session ({name})", payload, **fields)
                return
            except _Restarted:
                self.restarts += 1
            except _Busy:
                time.sleep(BUSY_WAIT)
            except RemoteError as e:
                raise RemoteError(
                    f"{e}; the board had restarted and lost this session's image, inputs and runs"
                ) from None
        raise RemoteError(
            f"board {self.url}: restarted {MAX_RESTARTS} times while the session was "
            "restored; the image and its inputs are lost"
        )

    # ---- the calls ----------------------------------------------------------------------

    def _hello(self) -> dict:
        """HELLO, then STATUS: the board's fields (self.hello), its epoch, its runs."""
        self.epoch = 0
        try:
            r = self._exchange(
                "HELLO",
                "HELLO",
                major=P.VERSION_MAJOR,
                minor=P.VERSION_MINOR,
                image_major=F.VERSION_MAJOR,
                image_minor=F.VERSION_MINOR,
                client=self._client,
            )
        except RemoteError as e:
            if e.protocol is None and self.hello is None:
                raise RemoteError(
                    f"{e} (is the board running there, its public key the one given, "
                    "and this host's key in its authorised keys? CURVE refuses "
                    "a wrong key without an answer)"
                ) from None
            raise
        f = r.fields
        if f["image_major"] != F.VERSION_MAJOR:
            raise RemoteError(
                f"board {self.url}: runs image format {f['image_major']}.{f['image_minor']}, "
                f"this acic writes {F.VERSION_MAJOR}.{F.VERSION_MINOR}"
            )
        hello = self.hello = {**f, "target_section": r.payload}
        self.epoch = r.epoch
        # Sequence numbers belong to the board's epoch, not to a session: a new run's
        # must be above every run started in it (else the board answers with the
        # result it remembers for that number -- another session's run).
        st = self._exchange("STATUS", "STATUS").fields
        self._seq = max(self._seq, st["last_seq"], st["running_seq"])
        self._max_data = min(f["max_data_bytes"], P.LIMITS["max_data_bytes"])
        return hello

    def connect(self) -> Board:
        self._hello()
        return self

    def load(self, image: bytes) -> tuple[int, int] | None:
        """Send an image; None when the board accepted it, else the validator's
        (code, offset)."""
        image = bytes(image)
        hello = self.hello if self.hello is not None else self._hello()
        fields: dict[str, int] = dict(
            image_bytes=len(image),
            image_crc32=zlib.crc32(image),
            check_target=1 if hello["target"] else 0,
        )
        self._journal.clear()
        self._base = 0
        try:
            self._call("LOAD", f"loading a {len(image):,}-byte image", image, False, **fields)
        except RemoteError as e:
            err = e.protocol
            if err is not None and err.name == "image_refused":
                return err.image_error, err.image_offset
            raise
        self._journal.append(("LOAD", fields, image))
        return None

    def write(self, data: bytes, address: int = 0, symbol: str = "") -> None:
        data = bytes(data)
        for k in range(0, len(data), self._max_data):
            piece = data[k : k + self._max_data]
            self._call(
                "WRITE",
                f"writing {len(piece):,} bytes at {_where(address + k, symbol)}",
                piece,
                journal=True,
                address=address + k,
                length=len(piece),
                symbol=symbol,
            )

    def read(self, length: int, address: int = 0, symbol: str = "") -> bytes:
        out = bytearray()
        for k in range(0, length, self._max_data):
            n = min(self._max_data, length - k)
            r = self._call(
                "READ",
                f"reading {n:,} bytes at {_where(address + k, symbol)}",
                address=address + k,
                length=n,
                symbol=symbol,
            )
            if len(r.payload) != n:
                raise RemoteError(f"board {self.url}: sent {len(r.payload)} bytes for {n} read")
            out += r.payload
        return bytes(out)

    def run(
        self, mode: str | None = None, timing_only: bool = False, trace: bool = False
    ) -> tuple[dict, bytes]:
        """One run to its end: the RUN_RESULT fields, and the trace (b"" without ``trace``)."""
        flags = (P.RUN_FLAGS["timing_only"] if timing_only else 0) | (
            P.RUN_FLAGS["trace"] if trace else 0
        )
        fields = {"mode": RUN_MODE[mode], "flags": flags}
        for _ in range(MAX_RESTARTS + 1):
            try:
                result = self._run_to_end(fields, "a run")
                text = self._trace(result) if trace else b""
            except _Restarted:
                self._restore()
                continue
            self._journal.append(("RUN", fields, b""))
            return result, text
        raise RemoteError(
            f"board {self.url}: restarted {MAX_RESTARTS} times during a run; the run was lost"
        )

    def _run_to_end(self, fields: dict, what: str) -> dict:
        """RUN with a new sequence number, asked again (same number, new request id)
        until the board says the run ended."""
        self._seq += 1
        seq = self._seq
        what = f"{what} (sequence number {seq})"
        # The board holds each answer until the run ends or half our timeout passed.
        hold = min(P.LIMITS["max_wait_ms"], max(1, int(self.timeout * 500)))
        give_up = time.monotonic() + self.patience
        asked: set[int] = set()  # request ids of this sequence number: any answer will do
        while True:
            try:
                r = self._exchange(
                    "RUN", what, resend=False, earlier=asked, seq=seq, wait_ms=hold, **fields
                )
            except (_Timeout, _Busy) as e:
                if time.monotonic() > give_up:
                    raise RemoteError(
                        f"board {self.url}: no answer for {self.patience:g} s to {what}; "
                        "the run's result was lost"
                    ) from None
                if isinstance(e, _Busy):
                    time.sleep(BUSY_WAIT)
                continue
            except RemoteError as e:
                if e.protocol is None or e.protocol.name != "stale_seq":
                    raise
                # Another host used this sequence number in this epoch, so no RUN of
                # ours started under it (it would be running or remembered): take
                # one above the board's.
                st = self.status()
                self._seq = max(self._seq, st["last_seq"], st["running_seq"]) + 1
                seq = self._seq
                what = f"{what.rsplit(' (', 1)[0]} (sequence number {seq})"
                asked = set()
                continue
            f = r.fields
            state = _STATE.get(f["state"])
            if f["seq"] != seq:
                raise RemoteError(f"board {self.url}: answered run {seq} with run {f['seq']}")
            if state == "running":
                give_up = time.monotonic() + self.patience  # it answers: it is alive
                continue
            if state == "reset":
                raise _Restarted()
            if state not in ("done", "error"):
                raise RemoteError(f"board {self.url}: run {seq} in unknown state {f['state']}")
            image = self._journal[0][1] if self._journal else None
            if image is not None and f["image_crc32"] != image["image_crc32"]:
                raise RemoteError(
                    f"board {self.url}: run {seq} ran another image "
                    f"(CRC {f['image_crc32']:08x}); its result is not this session's"
                )
            return f

    def _trace(self, result: dict) -> bytes:
        state = result["trace_state"]
        if state == P.TRACE_STATES["too_large"]:
            keeps = self.hello["max_trace_bytes"] if self.hello is not None else 0
            raise RemoteError(
                f"board {self.url}: the run's trace ({result['trace_bytes']:,} bytes) is larger "
                f"than the board keeps ({keeps:,})"
            )
        out = bytearray()
        total = result["trace_bytes"]
        while len(out) < total:
            n = min(self._max_data, total - len(out))
            r = self._exchange(
                "TRACE",
                f"reading the trace of run {result['seq']}",
                seq=result["seq"],
                offset=len(out),
                length=n,
            )
            if r.fields["offset"] != len(out) or not r.payload:
                raise RemoteError(
                    f"board {self.url}: sent trace bytes at {r.fields['offset']} for {len(out)}"
                )
            out += r.payload
        return bytes(out)

    def status(self) -> dict:
        r = self._call("STATUS", "STATUS")
        return {**r.fields, "epoch": r.epoch}

    def checkpoint(self) -> None:
        """What the board holds now (the image and the writes since its LOAD: weights,
        say) is what a restore must bring back after a restart; the writes and runs
        from here to :meth:`rewind` are one unit of work."""
        self._base = len(self._journal)

    def rewind(self) -> None:
        """The unit of work since :meth:`checkpoint` is done with (its results read): a
        restore after a restart no longer redoes its writes and runs. Without a
        checkpoint since the last LOAD, keeps the LOAD only."""
        base = self._base if 0 < self._base <= len(self._journal) else min(1, len(self._journal))
        del self._journal[base:]

    def reset(self) -> None:
        self._journal.clear()
        self._call("RESET", "RESET")
        self.epoch = 0
        self._hello()


def _where(address: int, symbol: str) -> str:
    return f"`{symbol}`+{address}" if symbol else f"0x{address:x}"


def _refused(url: str, what: str, err: P.ProtocolError) -> RemoteError:
    e = RemoteError(f"board {url}: refused {what}: {err.name}: {err.detail}")
    e.protocol = err
    return e
