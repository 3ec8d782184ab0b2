"""A remote board as an engine of ``acic run`` (``--engine remote``).

``run_image_remote(board, data, mode=None, inputs=None, outputs=(), timing_only=False,
trace=None, progress=None) -> aci.run.RunResult``

Same arguments (but the :class:`aci.remote.client.Board` first) and the same result
as :func:`aci.run.run_image`: the image is validated and run by the board daemon
the session talks to, and everything around the board is done on the host exactly
as for the firmware engine (:mod:`aci.firmware`): the image is decoded on the host
for its SYMBOLS, ``inputs`` are checked and converted by :class:`aci.board.Board`
and written to the board as raw bytes, and after a completed run the memory the
image can touch comes back into a Board that ``RunResult.board`` holds (so
``--get`` writes ``.npy`` or raw files as it does for the local engines). The
verdict, timing, trace and SYNC words are the board's: the same bytes as the
firmware's simulated board gives, as its daemon runs the same firmware core.

A LOAD starts every run afresh (the board backs the image's memory zeroed), as
the local engines start each run on a new board. The SYNC words are the board's,
but for the doorbell and its acknowledgement: on the wire they hold the run's
sequence number in the board's epoch (checked), in the result the run's number
for this image, 1, as a local engine gives them. A run-time error carries the
board's code, offset and time, and its words: the board sends the template and its
arguments (RUN_RESULT's ``message`` fields), the host fills the template of
:data:`aci.format.MESSAGES` as the local engines do. ``progress`` is not called: the
board reports nothing until the run ends. Raises :class:`aci.board.DataError` as
``run_image`` does, and :class:`aci.remote.client.RemoteError` when the board
fails (its message names the board and what was lost).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from .. import protocol as P
from ..board import Board as Memory
from ..board import load_inputs
from ..daemon import BOARD_KEY_ENV, KEYS_ENV, read_pair, read_public
from ..decode import ImageError, decode
from ..engine import MODES, OneShotEngine, Progress, RunResult, Trace
from ..firmware_sim import SlotTally, firmware_result
from ..format import ERROR_BY_CODE, SYNC, SYNC_STATUS
from .client import Board, RemoteError

_MODE_NAMES = {v: k for k, v in P.RUN_MODES.items()}


def error_name(code: int) -> str:
    """An error code's name, as the firmware's aci_error_name gives it."""
    return ERROR_BY_CODE[code].name if code in ERROR_BY_CODE else "internal"


def run_image_remote(
    board: Board,
    data: bytes,
    mode: str | None = None,
    inputs: Mapping | None = None,
    outputs: Iterable[str] = (),
    timing_only: bool = False,
    trace: Trace | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Validate and run one image on a remote board; see the module docstring."""
    del progress
    if mode not in (None, *MODES):
        raise ValueError(f"mode must be one of {MODES} or None, not {mode!r}")
    data = bytes(data)
    outputs = list(outputs)
    try:
        img = decode(data)
    except ImageError as e:
        if e.name == "bad_version":
            # Another format major: a board refuses to load it at all (image_mismatch,
            # docs/protocol.md); the verdict is the validator's, as on a local engine.
            return _refusal(data, mode, e.code, e.offset, trace)
        img = None  # the board refuses it too: its verdict is the result
    memory = None
    if img is not None:
        memory = Memory.for_image(img)
        load_inputs(memory, inputs, outputs)
    refused = board.load(data)
    if refused is not None:
        return _refusal(data, mode, *refused, trace)
    if img is None or memory is None:
        raise RemoteError(f"board {board.url}: accepted an image acic's decoder refuses")
    for name in inputs or {}:
        b = memory.buffer(name)
        board.write(memory.read(b.address, b.size), b.address)
    res, text = board.run(mode, timing_only, trace=trace is not None)
    sync = P.sync_of(res)
    if (sync["doorbell"], sync["ack"]) != (res["seq"], res["seq"]):
        raise RemoteError(
            f"board {board.url}: run {res['seq']} left doorbell {sync['doorbell']} and ack "
            f"{sync['ack']} in SYNC; its result is not this run's"
        )
    # On the wire the doorbell is the run's sequence number in the board's epoch; as a
    # local engine's, the result counts runs of this image: the one run, 1.
    sync.update(doorbell=1, ack=1)
    use = SlotTally(img, trace)
    for line in text.decode("utf-8").splitlines(keepends=True):
        use.add(line)
    # The board's own sums (the trace is only there when asked for).
    slots = img.target.slots
    use.busy = [res[f"busy_ns{s}"] for s in range(slots)]
    use.reconf = [res[f"reconf_ns{s}"] for s in range(slots)]
    use.pr_ns = res["pr_ns"]
    if res["error_code"] == 0 and not timing_only:
        for lo, hi in memory.extents:
            memory.write(lo, board.read(hi - lo, lo))
    memory.sync.update(sync)
    summary = {
        "error": None
        if res["error_code"] == 0
        else {
            "code": res["error_code"],
            "name": error_name(res["error_code"]),
            "offset": res["error_offset"],
            "t": res["error_t"],
        },
        "mode": _MODE_NAMES[res["mode"]],
        "image_bytes": len(data),
        "t0": res["t0"],
        "t_end": res["t_end"],
        "total_ns": res["total_ns"],
        "prs": res["prs"],
        "tasks": res["tasks"],
        "operations": res["operations"],
    }
    if summary["error"] is not None:
        try:
            summary["error"]["detail"] = P.message_of(res, _core_names(img))
        except ValueError as e:
            raise RemoteError(f"board {board.url}: {e}") from None
    return firmware_result(data, img, memory, summary, sync, use)


def _core_names(img):
    """Core id -> its name in the image (empty for an id it does not hold)."""
    names = {c.id: c.name for c in img.cores}
    return lambda core_id: names.get(core_id, "")


def _refusal(
    data: bytes, mode: str | None, code: int, offset: int, trace: Trace | None
) -> RunResult:
    """The result of an image the board's validator refused (as run_image gives it)."""
    mode = mode or "strict"
    name = error_name(code)
    if trace:
        trace({"ev": "image", "t": 0, "bytes": len(data), "mode": mode})
        trace({"ev": "error", "t": 0, "code": code, "name": name, "pc": offset})
    sync = {f.name: 0 for f in SYNC.fields} | {
        "doorbell": 1,
        "ack": 1,
        "status": SYNC_STATUS["error"],
        "error_code": code,
        "error_offset": offset,
    }
    summary = {
        "error": {"code": code, "name": name, "offset": offset, "t": 0},
        "mode": mode,
        "image_bytes": len(data),
        "t0": 0,
        "t_end": 0,
        "total_ns": 0,
        "prs": 0,
        "tasks": 0,
        "operations": 0,
    }
    return firmware_result(data, None, None, summary, sync, SlotTally(None, None))


class RemoteEngine(OneShotEngine):
    """``--engine remote``: runs on the board daemon at ``board`` (``tcp://HOST:PORT``),
    authenticated with the board's public key file ``board_key`` and this host's key
    pair ``key`` (``NAME`` for ``NAME.key`` and ``NAME.key_secret``, as ``acic keygen``
    writes them). One session (:class:`aci.remote.client.Board`) serves every run of
    the engine; it is opened at the first run and closed by ``close``."""

    name: ClassVar[str] = "remote"

    def __init__(
        self,
        board: str | None = None,
        board_key: str | None = None,
        key: str | None = None,
        timeout: str | float | None = None,
        patience: str | float | None = None,
    ):
        from ..cli import UsageError

        super().__init__()
        board_key = board_key or os.environ.get(BOARD_KEY_ENV)
        key = key or os.environ.get(KEYS_ENV)
        if not board:
            raise UsageError("--engine remote needs --board tcp://HOST:PORT")
        if not board_key or not key:
            raise UsageError(
                f"--engine remote needs --board-key FILE (the board's public key; or ${BOARD_KEY_ENV}) "
                f"and --key NAME (this host's key pair; or ${KEYS_ENV})"
            )
        self.url = board
        self.server_key = read_public(board_key)
        self.client_keys = read_pair(key)
        self.timeout = _seconds(timeout, "--board-timeout", 2.0)
        self.patience = _seconds(patience, "--board-patience", 30.0)
        self.session: Board | None = None

    def run_image(
        self,
        data: bytes,
        mode: str | None,
        inputs: Mapping[str, Any],
        outputs: list[str],
        timing_only: bool,
        trace: Trace | None,
        progress: Progress | None,
    ) -> RunResult:
        if self.session is None:
            self.session = Board(
                self.url, self.server_key, self.client_keys, self.timeout, self.patience
            ).connect()
        return run_image_remote(
            self.session, data, mode, inputs, outputs, timing_only, trace, progress
        )

    def close(self) -> None:
        super().close()
        if self.session is not None:
            self.session.close()
            self.session = None


def _seconds(value, flag: str, default: float) -> float:
    if value is None:
        return default
    try:
        s = float(value)
    except ValueError:
        s = -1.0
    if not 0 < s < 1e6:
        from ..cli import UsageError

        raise UsageError(f"{flag} takes a number of seconds, not `{value}`")
    return s
