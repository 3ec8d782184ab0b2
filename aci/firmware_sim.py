"""The C firmware on its simulated board, as an engine (``acic run --engine firmware``).

``run_image_firmware(data, mode=None, inputs=None, outputs=(), timing_only=False,
trace=None, progress=None, exe=None, prefix=()) -> aci.engine.RunResult``;
:class:`FirmwareEngine` (``sim``, ``prefix``) is the same behind the
:class:`aci.engine.Engine` interface.

Same arguments and the same result as :func:`aci.run.run_image`, but the image is
validated and run by the firmware's simulated board (``firmware/build/acifw-sim``,
``firmware/README.md``) in a child process. What the host does around the board stays
here, exactly as for the Python engine: the image is decoded once on the host for its
SYMBOLS, so that ``inputs`` (arrays, raw bytes, ``.npy`` or raw files) are checked
and converted by :class:`aci.board.Board` and handed to the firmware as raw bytes
(``--set``), and the final memory comes back (``--save``) into a Board that
``RunResult.board`` holds, so ``--get`` writes ``.npy`` or raw files as it does for
the Python engine. The run itself -- verdict, timing, trace, SYNC words, memory -- is
the firmware's alone: its canonical trace is read back line by line and passed to
``trace``; per-slot use is summed from it; the rest comes from ``acifw-sim --json``
and ``--sync``.

Error details: the firmware reports a code and an offset. For a refused image the
detail is the host decoder's when it names the same code and offset (the tests hold
them equal on every conformance vector); for a run-time error the simulator's words,
the template of :data:`aci.format.MESSAGES` filled with the same numbers as the
Python engine's (the code's description for the board's own codes), with the source
line from SYMBOLS.

Raises :class:`FirmwareError` (an AciError: one line, exit 1 from the CLI) when the
simulator is missing or fails in a way that is not a verdict on the image (a
simulator limit such as its memory cap, or a usage error it found);
:class:`aci.board.DataError` as ``run_image`` does.

The simulator is found at ``$ACIC_FIRMWARE_SIM``, else ``firmware/build/acifw-sim``
of this checkout, else ``acifw-sim`` on ``PATH``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ._io import temporary_directory
from .board import Board, load_inputs
from .decode import ImageError, decode
from .diagnostics import AciError
from .engine import MODES, OneShotEngine, Progress, RunError, RunResult, SlotUse, Trace
from .format import ERROR_BY_NAME, SYNC
from .image import Image, Task, children
from .models import c_libraries
from .resources import firmware_program

# acifw-sim accepts this many --set/--get/--save requests (MAX_REQUESTS in sim/main.c).
_MAX_REQUESTS = 64


class FirmwareError(AciError):
    """The firmware simulator could not give a verdict (missing, limit, crash)."""


def simulator() -> Path:
    """The acifw-sim to run; FirmwareError when there is none."""
    return firmware_program(
        "acifw-sim", "ACIC_FIRMWARE_SIM", "the firmware simulator", FirmwareError
    )


def _sources(img: Image) -> dict[int, str]:
    """TASK offset -> "file:line", from SYMBOLS."""
    files = img.symbols.files if img.symbols else ()
    out: dict[int, str] = {}
    stack = list(img.body)
    while stack:
        node = stack.pop()
        if isinstance(node, Task):
            if node.source is not None and node.source.file < len(files):
                out[node.offset] = f"{files[node.source.file]}:{node.source.line}"
        else:
            stack.extend(children(node))
    return out


def _doc(code: int) -> str:
    """The description of an error code, without aci.format's "run time: " prefix."""
    doc = next(
        (e.doc for e in ERROR_BY_NAME.values() if e.code == code),
        "an error code acic does not know",
    )
    return doc.split(": ", 1)[1] if doc.startswith("run time") else doc


def _refusal(data: bytes, code: int, offset: int) -> str:
    """The detail of a refused image: the host decoder's when it agrees."""
    try:
        decode(data)
    except ImageError as e:
        if (e.code, e.offset) == (code, offset):
            return e.detail
    return _doc(code)


def run_image_firmware(
    data: bytes,
    mode: str | None = None,
    inputs: Mapping | None = None,
    outputs: Iterable[str] = (),
    timing_only: bool = False,
    trace: Trace | None = None,
    progress: Progress | None = None,
    exe: Path | None = None,
    prefix: Sequence[str] = (),
    models: Iterable = (),
) -> RunResult:
    """Validate and run one image on the firmware's simulated board; see the module docstring.

    ``progress`` is accepted for the Python engine's signature and not called: the
    child process reports nothing until it ends. ``prefix`` runs the simulator through
    another program (``("qemu-aarch64",)`` for the cross build). ``models``: as for
    ``run_image``; the C model libraries among them (``acifw-sim --models``) run on the
    firmware's board, Python models are the Python engine's and are ignored here."""
    del progress
    if mode not in (None, *MODES):
        raise ValueError(f"mode must be one of {MODES} or None, not {mode!r}")
    data = bytes(data)
    outputs = list(outputs)
    exe = exe or simulator()
    try:
        img = decode(data)
    except ImageError:
        img = None  # the firmware refuses it too; no inputs to prepare
    board = None
    if img is not None:
        board = Board.for_image(img)
        load_inputs(board, inputs, outputs)
    with temporary_directory(prefix="acic-fw-") as tmp:
        d = Path(tmp)
        (d / "image.acx").write_bytes(data)
        args = [
            *prefix,
            str(exe),
            str(d / "image.acx"),
            "--json",
            "--trace",
            str(d / "trace.jsonl"),
            "--sync",
            str(d / "sync.bin"),
        ]
        if mode:
            args += ["--mode", mode]
        if timing_only:
            args.append("--timing-only")
        for lib in c_libraries(models):
            if not os.path.isfile(lib):
                raise FirmwareError(f"cannot read model library `{lib}`: no such file")
            args += ["--models", os.path.abspath(lib)]
        saves: list[tuple[int, int]] = []
        if board is not None:
            for k, (name, _) in enumerate((inputs or {}).items()):
                b = board.buffer(name)
                (d / f"in{k}").write_bytes(board.read(b.address, b.size))
                args += ["--set", f"{name}={d / f'in{k}'}"]
            if not timing_only:
                # The whole memory the run can touch comes back, as the Python board
                # holds it; with too many extents for the simulator, the outputs only.
                saves = [(lo, hi - lo) for lo, hi in board.extents]
                if len(saves) + len(inputs or {}) > _MAX_REQUESTS:
                    saves = [(b.address, b.size) for b in map(board.buffer, outputs)]
            for k, (address, length) in enumerate(saves):
                args += ["--save", f"{address}:{length}={d / f'out{k}'}"]
        try:
            p = subprocess.run(args, capture_output=True, text=True)
        except OSError as e:
            raise FirmwareError(
                f"cannot run the firmware simulator `{exe}`: {e.strerror or e}"
            ) from None
        try:
            res = json.loads(p.stdout) if p.returncode in (0, 1) else None
        except ValueError:
            res = None
        if res is None or "total_ns" not in res:
            why = (
                p.stderr.strip().splitlines()[-1]
                if p.stderr.strip()
                else f"exit status {p.returncode}"
            )
            raise FirmwareError(f"the firmware simulator failed: {why}")
        with open(d / "trace.jsonl", encoding="utf-8") as f:
            use = SlotTally(img, trace)
            for line in f:
                use.add(line)
        sync = SYNC.unpack((d / "sync.bin").read_bytes())
        if board is not None and p.returncode == 0:
            for k, (address, _length) in enumerate(saves):
                board.write(address, (d / f"out{k}").read_bytes())
    if board is not None:
        board.sync.update(sync)
    return firmware_result(data, img, board, res, sync, use)


class SlotTally:
    """A canonical trace, line by line: passed on to ``trace`` and summed into
    per-slot busy and reconfiguring time and the PR time."""

    def __init__(self, img: Image | None, trace: Trace | None):
        slots = img.target.slots if img is not None else 0
        self.busy, self.reconf = [0] * slots, [0] * slots
        self.pr_ns = 0
        self._trace = trace
        self._started: dict[tuple[str, int], int] = {}

    def add(self, line: str) -> None:
        e = json.loads(line)
        if self._trace:
            self._trace(e)
        kind, _, edge = e["ev"].partition("_")
        if kind not in ("task", "pr"):
            return
        if edge == "start":
            self._started[(kind, e["slot"])] = e["t"]
        else:
            span = e["t"] - self._started.pop((kind, e["slot"]))
            if kind == "task":
                self.busy[e["slot"]] += span
            else:
                self.reconf[e["slot"]] += span
                self.pr_ns += span


def firmware_result(
    data: bytes, img: Image | None, board: Board | None, res: dict, sync: dict, use: SlotTally
) -> RunResult:
    """The RunResult of a run of the C firmware (here or on a remote board): ``res``
    is its summary (the fields of ``acifw-sim --json``), ``sync`` its SYNC words,
    ``use`` its per-slot times; ``board`` holds the final memory."""
    mode = res["mode"]
    error = None
    if res["error"] is not None:
        e = res["error"]
        code, offset = e["code"], e["offset"]
        runtime = code >= ERROR_BY_NAME["wrong_core"].code
        detail = (e.get("detail") or _doc(code)) if runtime else _refusal(data, code, offset)
        error = RunError(
            code,
            e["name"],
            offset,
            e["t"],
            detail,
            _sources(img).get(offset) if runtime and img is not None else None,
        )
    refused = error is not None and not error.runtime
    span = res["t_end"] - res["t0"]
    slot_use = (
        ()
        if refused
        else tuple(
            SlotUse(b, r, span - b - r, sync[f"slot_done{s}"])
            for s, (b, r) in enumerate(zip(use.busy, use.reconf, strict=True))
        )
    )
    return RunResult(
        mode,
        res["image_bytes"],
        res["t0"],
        res["t_end"],
        res["total_ns"],
        res["prs"],
        use.pr_ns,
        res["tasks"],
        res["operations"],
        slot_use,
        error,
        dict(sync),
        None if refused else board,
        None if refused else img,
    )


class FirmwareEngine(OneShotEngine):
    """``--engine firmware``: each run is one acifw-sim process. ``sim``: the
    simulator (default: :func:`simulator`, found when the engine is opened, so that a
    missing one is reported before anything is compiled); ``prefix``: a program to
    run it through (``("qemu-aarch64",)``)."""

    name: ClassVar[str] = "firmware"

    def __init__(self, sim: str | os.PathLike | None = None, prefix: Sequence[str] = ()):
        super().__init__()
        if sim is not None and not (os.path.isfile(sim) and os.access(sim, os.X_OK)):
            raise FirmwareError(f"`{sim}` is not an executable file")
        self.exe = Path(sim) if sim is not None else simulator()
        self.prefix = tuple(prefix)

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
        return run_image_firmware(
            data,
            mode,
            inputs,
            outputs,
            timing_only,
            trace,
            progress,
            self.exe,
            self.prefix,
            self.models,
        )
