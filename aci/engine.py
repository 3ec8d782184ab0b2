"""Engines: what runs an image, behind one interface.

An engine validates an image and runs it on a board, real or modelled; ``acic run
--engine NAME`` picks one from :data:`ENGINES`. Every engine gives the same
:class:`RunResult` and calls ``trace`` with the same events (docs/execution.md,
docs/trace.md); the conformance and differential tests hold them to that
(docs/testing.md, "Engines").

The interface (:class:`Engine`), one session per image::

    engine = open_engine("firmware", sim="firmware/build/acifw-sim")
    engine.load(data)                       # the image's bytes
    engine.set("images", array)             # initial buffers: array, bytes or a Path
    result = engine.run("dataflow", outputs=["scores"], trace=events.append)
    scores = engine.get("scores")           # after a completed run
    engine.close()

``run`` never raises for the image: a refused image (the validator's code and byte
offset) and a run-time error (wrong_core, watchdog, no_model) are
``RunResult.error``. It raises :class:`aci.board.DataError` (an AciError) for inputs
or output names that do not fit the image, before anything runs, and an engine's own
AciError when the engine cannot give a verdict (a simulator that is missing, a board
that does not answer).

The registry is data, so that building the command line imports no engine: an
:class:`EngineEntry` names the class (``"module:Class"``, imported on use) and the
command-line options the engine takes (a URL, key files, a path), which ``acic run``
adds to its parser and passes to the class as keyword arguments. A new engine is one
entry here and one line in ``tests/conftest.py`` (docs/testing.md).

This module imports neither numpy nor any engine: ``acic compile`` does not need them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import attrs

from .format import ERROR_BY_NAME
from .format import MODES as _FORMAT_MODES

if TYPE_CHECKING:
    from .board import Board
    from .image import Image

MODES = tuple(
    _FORMAT_MODES
)  # the names of aci.format.MODES (one definition, with the firmware's numbers)

Trace = Callable[[dict], None]
Progress = Callable[[int, int], None]


# ---- results ----------------------------------------------------------------------


@attrs.frozen
class SlotUse:
    """How one slot spent the run, from t0 to the end of the last operation."""

    busy_ns: int
    reconfiguring_ns: int
    idle_ns: int
    operations: int  # issued and completed, skipped RECONFs included


@attrs.frozen
class RunError:
    """Why a run stopped: a refused image or a run-time error."""

    code: int
    name: str
    offset: int  # byte offset of the offending field or instruction
    t: int
    detail: str
    source: str | None = None  # "file:line" of the instruction, when SYMBOLS has it

    @property
    def runtime(self) -> bool:
        return self.code >= ERROR_BY_NAME["wrong_core"].code


@attrs.frozen
class RunResult:
    mode: str
    image_bytes: int
    t0: int
    t_end: int  # end of the last operation (t0 when none ran)
    total_ns: int  # the last event: completion seen by the host, or the error
    pr_count: int  # reconfigurations performed (skipped ones excluded)
    pr_ns: int
    tasks: int
    operations: int
    slots: tuple[SlotUse, ...]
    error: RunError | None
    sync: dict
    board: Board | None = attrs.field(repr=False)  # the final memory, after a completed run
    image: Image | None = attrs.field(repr=False)  # the decoded image, unless refused

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "image_bytes": self.image_bytes,
            "t0": self.t0,
            "t_end": self.t_end,
            "total_ns": self.total_ns,
            "pr_count": self.pr_count,
            "pr_ns": self.pr_ns,
            "tasks": self.tasks,
            "operations": self.operations,
            "slots": [attrs.asdict(s) for s in self.slots],
            "error": None if self.error is None else attrs.asdict(self.error),
        }


# ---- the interface ----------------------------------------------------------------


class Engine(Protocol):
    """One session of an engine: load an image, set buffers, run, get buffers."""

    name: ClassVar[str]

    def load(self, data: bytes) -> None:
        """Take an image; forgets the previous image, its inputs and its result."""

    def set(self, buffer: str, value: Any) -> None:
        """Initial contents of a buffer: a numpy array (its dtype and shape), raw
        bytes (its size) or a :class:`pathlib.Path` of a ``.npy`` or raw file.
        DataError when it does not fit, here or at the latest from ``run``."""

    def run(
        self,
        mode: str | None = None,
        *,
        outputs: Iterable[str] = (),
        timing_only: bool = False,
        trace: Trace | None = None,
        progress: Progress | None = None,
    ) -> RunResult:
        """Validate and run the loaded image; ``mode`` None runs it in its own mode.
        ``outputs``: the buffers the caller will ``get`` (checked before the run)."""

    def get(self, buffer: str) -> Any:
        """A buffer after a completed run, as a numpy array of its dtype and shape."""

    def close(self) -> None:
        """Release what the engine holds (a child process, a connection)."""


class OneShotEngine:
    """An engine whose run is one call over the image and all its inputs: ``load``
    and ``set`` collect, ``run`` calls :meth:`run_image`, ``get`` reads the final
    memory of the result's board. The Python interpreter and the firmware simulator
    are such engines."""

    name: ClassVar[str]

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.inputs: dict[str, Any] = {}
        self.result: RunResult | None = None
        # A user's core models (docs/models.md): model files (.py, Python engine) and C
        # model libraries (firmware engine), each engine using the ones of its kind.
        self.models: tuple = ()

    def load(self, data: bytes) -> None:
        self.data, self.inputs, self.result = bytes(data), {}, None

    def set(self, buffer: str, value: Any) -> None:
        self.inputs[buffer] = value

    def run(
        self,
        mode: str | None = None,
        *,
        outputs: Iterable[str] = (),
        timing_only: bool = False,
        trace: Trace | None = None,
        progress: Progress | None = None,
    ) -> RunResult:
        if self.data is None:
            raise ValueError(f"{self.name} engine: run before load")
        self.result = self.run_image(
            self.data, mode, self.inputs, list(outputs), timing_only, trace, progress
        )
        return self.result

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
        raise NotImplementedError

    def get(self, buffer: str) -> Any:
        if self.result is None or self.result.board is None:
            raise ValueError(f"{self.name} engine: no completed run to read `{buffer}` from")
        return self.result.board.array(buffer)

    def close(self) -> None:
        self.data, self.inputs, self.result = None, {}, None


# ---- the registry -----------------------------------------------------------------


@attrs.frozen
class Option:
    """A command-line option of one engine: ``acic run --engine NAME FLAG VALUE``
    passes ``VALUE`` to the engine's class as the keyword ``dest``."""

    flag: str  # "--firmware-sim"
    dest: str  # "sim"
    help: str
    metavar: str = "VALUE"


@attrs.frozen
class EngineEntry:
    name: str  # the --engine value
    title: str  # how a summary names it: "run by the <title>"
    target: str  # "module:Class", imported on use
    options: tuple[Option, ...] = ()
    needs_board: bool = (
        False  # runs on a board somewhere else (a daemon and keys), not on this machine alone
    )


ENGINES: dict[str, EngineEntry] = {
    e.name: e
    for e in (
        EngineEntry("python", "Python reference interpreter", "aci.run:PythonEngine"),
        EngineEntry(
            "firmware",
            "C firmware on its simulated board",
            "aci.firmware_sim:FirmwareEngine",
            (
                Option(
                    "--firmware-sim",
                    "sim",
                    "the acifw-sim to run (default: $ACIC_FIRMWARE_SIM, else "
                    "firmware/build/acifw-sim of this checkout, else acifw-sim on PATH)",
                    "PATH",
                ),
            ),
        ),
        EngineEntry(
            "remote",
            "board daemon at --board",
            "aci.remote.engine:RemoteEngine",
            (
                Option("--board", "board", "the board daemon's address, tcp://HOST:PORT", "URL"),
                Option(
                    "--board-key",
                    "board_key",
                    "the board's public key file (default: $ACIC_BOARD_KEY)",
                    "FILE",
                ),
                Option(
                    "--key",
                    "key",
                    "this host's key pair, NAME.key and NAME.key_secret (default: $ACIC_KEY)",
                    "NAME",
                ),
                Option(
                    "--board-timeout",
                    "timeout",
                    "seconds to wait for a reply before asking again (default 2)",
                    "SECONDS",
                ),
                Option(
                    "--board-patience",
                    "patience",
                    "seconds without any answer before giving up (default 30)",
                    "SECONDS",
                ),
            ),
            needs_board=True,
        ),
    )
}


def engine_class(name: str) -> type:
    """The class of a registered engine; KeyError for an unknown name."""
    module, _, cls = ENGINES[name].target.partition(":")
    return getattr(import_module(module), cls)


def open_engine(name: str, **options: Any) -> Engine:
    """A new session of engine ``name``; ``options`` by the ``dest`` of its Options."""
    known = {o.dest for o in ENGINES[name].options}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"engine {name} takes no option {', '.join(unknown)}")
    return engine_class(name)(**options)


def run_on(
    engine: Engine,
    data: bytes,
    mode: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    outputs: Iterable[str] = (),
    timing_only: bool = False,
    trace: Trace | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Load, set and run in one call (the shape of :func:`aci.run.run_image`)."""
    engine.load(data)
    for name, value in (inputs or {}).items():
        engine.set(name, value)
    return engine.run(
        mode, outputs=outputs, timing_only=timing_only, trace=trace, progress=progress
    )
