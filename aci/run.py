"""Stage: run — the Python reference interpreter of ACI images (docs/execution.md).

``run_image(data, mode=None, inputs=None, outputs=(), timing_only=False, trace=None,
progress=None, models=()) -> RunResult``

In: the bytes of an image; the mode (``"strict"``, ``"dataflow"`` or None for the
image's default); initial buffer contents by name (a numpy array, raw bytes, or a
:class:`pathlib.Path` of a ``.npy`` or raw file, see :mod:`aci.board`); the names of
buffers the caller will read afterwards (checked before anything runs). ``trace``,
when given, is called with each trace event (a dict with the fields of
docs/execution.md) in time order; ``progress(done, total)`` during the functional
pass, after each window instance and each loop iteration; ``models``: a user's core
models, as model files (``.py``, :mod:`aci.models`) or :class:`aci.cores.CoreModel`
objects, found by core name before the shipped models (C model libraries in it are
the firmware engine's and are ignored here).

Out: a :class:`aci.engine.RunResult` — simulated times, PR count and time, tasks, per-slot use,
the SYNC words, the :class:`aci.board.Board` with the final memory, and ``error``:
a refused image (the validator's code and byte offset) or a run-time error
(wrong_core, watchdog, no_model) is a result, not an exception.

:class:`PythonEngine` is this interpreter behind the :class:`aci.engine.Engine`
interface (``acic run --engine python``, the default).

Raises :class:`aci.board.DataError` for inputs or output names that do not fit the
image (before anything runs); :class:`aci.board.BoardFault` only for a broken
invariant (a bug).

Timing and run-time errors come from the machine (:mod:`aci.machine`, the
discrete-event simulation of docs/execution.md). When the run succeeds and is not
timing-only, the functional effects (core models on memory) follow in program
order; a LOOP whose body is only TASKs runs each task once over all its iterations
when no reordering can change memory (:func:`_loop_is_separable`), which is what
makes functional BNN runs fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from . import timing
from .affine import Affine, Var
from .board import Board, BoardFault, load_inputs
from .cores import CoreModel
from .cores import model as core_model
from .decode import ImageError, decode
from .engine import MODES, OneShotEngine, Progress, RunError, RunResult, SlotUse, Trace
from .format import ERROR_BY_NAME, SYNC, SYNC_STATUS, message
from .image import Image, Repeat, Task, Window
from .machine import simulate
from .models import ModelError
from .models import load as load_models
from .overlap import meet

# ---- the image, prepared for execution ---------------------------------------------
# Everything that does not depend on the iteration (durations, core names, models,
# watchdog verdicts) is computed once per instruction here, not once per operation.


class _Task:
    __slots__ = ("slot", "core", "name", "pc", "words", "ports", "model", "why", "source")

    def __init__(
        self, t: Task, img: Image, files: tuple[str, ...], models: Mapping[str, CoreModel]
    ):
        core = img.core(t.core)
        self.slot, self.core, self.name, self.pc = t.slot, t.core, core.name, t.offset
        lengths = [p.length for p in t.ports]
        self.words = img.params[t.param_offset : t.param_offset + t.param_words]
        # (address at the first iteration, length, strides, is an output)
        self.ports = tuple(
            (p.address, p.length, p.strides, d == "out")
            for p, d in zip(t.ports, core.port_dirs, strict=True)
        )
        self.model: CoreModel | None = models.get(core.name) or core_model(t.core)
        self.why: str | None  # why it cannot run: no model, or one of other ports
        if self.model is None:
            self.why = message("no_model", core_id=t.core, core=core.name)
        elif self.model.mismatch(core.port_dirs, self.words, lengths) is not None:
            self.why = message(
                "no_model_mismatch", core=core.name, params=self.words, lengths=lengths
            )
        else:
            self.why = None
        self.source = (
            None
            if t.source is None or t.source.file >= len(files)
            else f"{files[t.source.file]}:{t.source.line}"
        )


class _Loop:
    __slots__ = ("count", "body", "flat", "ops")

    def __init__(self, count: int, body: tuple, ops: int):
        self.count, self.body, self.ops = count, body, ops  # ops: operations per iteration
        self.flat = all(isinstance(b, _Task) for b in body)  # only TASKs: may run batched


class _Window:
    __slots__ = ("pc", "reconfs", "parsecs")

    def __init__(self, pc: int, reconfs: int, parsecs: tuple):
        # reconfs: how many; parsecs: thread bodies
        self.pc, self.reconfs, self.parsecs = pc, reconfs, parsecs


class _Repeat:
    __slots__ = ("count", "windows", "ops")

    def __init__(self, count: int, windows: tuple, ops: int):
        self.count, self.windows, self.ops = count, windows, ops  # ops: operations per iteration


def _prepare(img: Image, models: Mapping[str, CoreModel]) -> tuple[tuple, int]:
    """The image's body as prepared nodes, and the number of operations of the run."""
    files = img.symbols.files if img.symbols is not None else ()

    def body(nodes) -> tuple[tuple, int]:
        out: list[_Task | _Loop] = []
        ops = 0
        for n in nodes:
            if isinstance(n, Task):
                out.append(_Task(n, img, files, models))
                ops += 1
            else:
                inner, k = body(n.body)
                out.append(_Loop(n.count, inner, k))
                ops += n.count * k
        return tuple(out), ops

    def window(w: Window) -> tuple[_Window, int]:
        recs = len(w.reconfs)
        parsecs, ops = [], recs
        for p in w.parsecs:
            threads = []
            for th in p.threads:
                b, k = body(th.body)
                threads.append(b)
                ops += k
            parsecs.append(tuple(threads))
        return _Window(w.offset, recs, tuple(parsecs)), ops

    out: list[_Window | _Repeat] = []
    total = 0
    for node in img.body:
        if isinstance(node, Repeat):
            wins = [window(w) for w in node.windows]
            k = sum(k for _, k in wins)
            out.append(_Repeat(node.count, tuple(w for w, _ in wins), k))
            total += node.count * k
        else:
            w, k = window(node)
            out.append(w)
            total += k
    return tuple(out), total


# ---- batching a loop ----------------------------------------------------------------


def _meet(
    x: int, s: int, length_a: int, y: int, t: int, length_b: int, n: int, later: bool
) -> bool:
    """Whether bytes [x + s*i, +length_a) and [y + t*k, +length_b) intersect for some
    i, k in 0 .. n-1 with i > k (``later``) or i != k: the overlap oracle
    (``aci.overlap.meet``); where it gives up, True (the loop runs unbatched, which is
    always correct)."""
    v = Var("i", 0, n, "loop", 0)
    a, b = Affine.of(x, {v: s}), Affine.of(y, {v: t})
    if meet(b, length_b, a, length_a, later=v):  # a's iteration after b's
        return True
    return not later and bool(meet(a, length_a, b, length_b, later=v))


def _loop_is_separable(progressions: list[list[tuple[int, int, int, bool]]], n: int) -> bool:
    """Whether running task 0 for all n iterations, then task 1 for all, ... (each as
    one batched call that reads all its inputs before writing) leaves memory as the
    program order does. ``progressions[j]`` lists task j's ports as (address at
    iteration 0, stride, length, is an output).

    Two accesses may swap only if neither writes what the other touches. Batching
    task j swaps its iterations among themselves (so no output of one iteration may
    meet another iteration's ports); running task j of iteration i before task k > j
    of an earlier iteration i' < i swaps those two (so they may not conflict).
    """
    for j, pj in enumerate(progressions):
        for a in pj:
            if a[3] and any(_meet(a[0], a[1], a[2], b[0], b[1], b[2], n, later=False) for b in pj):
                return False
        for pk in progressions[j + 1 :]:
            for a in pj:
                for b in pk:
                    if (a[3] or b[3]) and _meet(a[0], a[1], a[2], b[0], b[1], b[2], n, later=True):
                        return False
    return True


# ---- the engine -------------------------------------------------------------------------


class _Effects:
    """The functional effects of a run that the machine found free of errors: every
    task's core model on its ports' views, in program order."""

    def __init__(self, board: Board, progress: Progress | None, total_ops: int):
        self.board = board
        self.progress = progress
        self.total_ops = total_ops
        self.ops = 0
        self.idx: list[int] = []  # current iteration of each enclosing counted level
        self.effects = True

    def address(self, port) -> int:
        return port[0] + sum(s * i for s, i in zip(port[2], self.idx, strict=True))

    def apply(self, t: _Task) -> None:
        assert t.model is not None  # a task without a model stops the run before it
        inputs, outputs = {}, []
        for (name, _), port in zip(t.model.ports, t.ports, strict=True):
            view = self.board.view(self.address(port), port[1])
            if port[3]:
                outputs.append((name, view))
            else:
                inputs[name] = _read_only(view[None])
        results = _model_run(t, inputs)
        for name, view in outputs:  # after the model has read all its inputs
            view[:] = _rows(t, results, name, 1, view.size)[0]

    def run_batched(self, loop: _Loop) -> bool:
        """The functional effects of every iteration of ``loop`` at once, when that
        is exactly equivalent; False (nothing done) when it is not."""
        n, level = loop.count, len(self.idx) - 1  # the loop has pushed its own level
        progs = [[(self.address(p), p[2][level], p[1], p[3]) for p in t.ports] for t in loop.body]
        if not _loop_is_separable(progs, n):
            return False
        board = self.board
        for t, ports in zip(loop.body, progs, strict=True):
            inputs, outputs = {}, []
            for (name, _), (base, stride, length, out) in zip(t.model.ports, ports, strict=True):
                if out:
                    outputs.append((name, base, stride, length))
                elif stride == 0:  # shared by every iteration: one row, broadcast by the model
                    inputs[name] = _read_only(board.view(base, length)[None])
                else:
                    inputs[name] = _read_only(board.rows(base, stride, n, length))
            results = _model_run(t, inputs)
            for name, base, stride, length in outputs:
                board.rows(base, stride, n, length)[...] = _rows(t, results, name, n, length)
        return True

    def body(self, nodes: tuple) -> None:
        for node in nodes:
            if type(node) is _Task:
                if self.effects:
                    self.apply(node)
                self.ops += 1
                continue
            if not node.ops:  # nothing runs in it, however often it repeats
                continue
            idx = self.idx
            idx.append(0)
            batched = self.effects and node.flat and node.count > 1 and self.run_batched(node)
            if batched:
                self.effects = False
            try:
                for i in range(node.count):
                    idx[-1] = i
                    self.body(node.body)
                    if self.progress:
                        self.progress(self.ops, self.total_ops)
            finally:
                if batched:
                    self.effects = True
                idx.pop()

    def window(self, w: _Window) -> None:
        self.ops += w.reconfs
        for threads in w.parsecs:
            for th in threads:
                self.body(th)
        if self.progress:
            self.progress(self.ops, self.total_ops)

    def run(self, body: tuple) -> None:
        for node in body:
            if type(node) is _Window:
                self.window(node)
                continue
            if not node.ops:
                continue
            self.idx.append(0)
            for i in range(node.count):
                self.idx[-1] = i
                for w in node.windows:
                    self.window(w)
            self.idx.pop()


def _read_only(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


def _model_run(t: _Task, inputs: dict) -> Mapping[str, np.ndarray]:
    """The model's outputs; a user's model that fails is the user's error (ModelError)."""
    assert t.model is not None  # a task without a model stops the run before it
    if t.model.origin is None:
        return t.model.run(t.words, inputs, t.slot)
    try:
        return t.model.run(t.words, inputs, t.slot)
    except Exception as e:
        where = f" ({t.source})" if t.source else ""
        raise ModelError(
            f"the model of core `{t.name}` ({t.model.origin}) failed on the task at offset "
            f"{t.pc}{where}: {type(e).__name__}: {e}"
        ) from None


def _rows(
    t: _Task, results: Mapping[str, np.ndarray], name: str, n: int, length: int
) -> np.ndarray:
    """A model's output port as (n, length) bytes; a broken shipped model is a bug, a
    broken user's model the user's error."""
    y = results.get(name)
    if (
        not isinstance(y, np.ndarray)
        or y.dtype != np.uint8
        or y.ndim != 2
        or y.shape[1] != length
        or y.shape[0] not in (1, n)
    ):
        got = (
            "nothing"
            if y is None
            else f"{getattr(y, 'dtype', type(y).__name__)} {getattr(y, 'shape', '')}"
        )
        message = f"model `{t.name}` gave {got} for port `{name}`, not uint8 ({n}, {length})"
        if t.model is not None and t.model.origin is not None:
            raise ModelError(f"{message} ({t.model.origin}; docs/models.md)")
        raise BoardFault(message)
    return np.broadcast_to(y, (n, length))


# ---- entry point ----------------------------------------------------------------------


def run_image(
    data: bytes,
    mode: str | None = None,
    inputs: Mapping | None = None,
    outputs: Iterable[str] = (),
    timing_only: bool = False,
    trace: Trace | None = None,
    progress: Progress | None = None,
    models: Iterable = (),
) -> RunResult:
    """Validate and run one image; see the module docstring."""
    if mode not in (None, *MODES):
        raise ValueError(f"mode must be one of {MODES} or None, not {mode!r}")
    data = bytes(data)
    # One run requested by the host (doorbell 1) and acknowledged by the board.
    sync = {f.name: 0 for f in SYNC.fields} | {"doorbell": 1, "ack": 1}
    try:
        img = decode(data)
    except ImageError as e:
        # A refused image gives no trustworthy link figures or default mode: its
        # events are at t = 0, in the requested mode (strict when none was asked).
        mode = mode or "strict"
        if trace:
            trace({"ev": "image", "t": 0, "bytes": len(data), "mode": mode})
            trace({"ev": "error", "t": 0, "code": e.code, "name": e.name, "pc": e.offset})
        sync.update(status=SYNC_STATUS["error"], error_code=e.code, error_offset=e.offset)
        return RunResult(
            mode,
            len(data),
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            (),
            RunError(e.code, e.name, e.offset, 0, e.detail),
            sync,
            None,
            None,
        )
    mode = mode or ("dataflow" if img.dataflow else "strict")
    board = Board.for_image(img)
    load_inputs(board, inputs, outputs)
    body, total_ops = _prepare(img, load_models(models))
    prepared: dict[int, _Task] = {}
    _index(body, prepared)
    t0 = timing.image_transfer_ns(img.target.timing, len(data))
    if trace:
        trace({"ev": "image", "t": t0, "bytes": len(data), "mode": mode})
    # Timing and run-time errors come from the machine; functional effects follow
    # in program order once the run is known to succeed (docs/execution.md).
    tl = simulate(
        img,
        len(data),
        mode,
        emit=trace,
        no_model=(lambda t: prepared[t.offset].why) if not timing_only else None,
        params=lambda t: prepared[t.offset].words,
    )
    error = None
    if tl.error is not None:
        name, t_err, detail, task = tl.error
        error = RunError(
            ERROR_BY_NAME[name].code, name, task.offset, t_err, detail, prepared[task.offset].source
        )
    elif not timing_only:
        _Effects(board, progress, total_ops).run(body)
    total = error.t if error else tl.t_end + timing.completion_ns(img.target.timing)
    if error is None and trace:
        trace({"ev": "done", "t": total, "tasks": tl.tasks, "prs": tl.prs})
    span = tl.t_end - tl.t0
    slots = tuple(
        SlotUse(
            tl.busy[s], tl.reconfiguring[s], span - tl.busy[s] - tl.reconfiguring[s], tl.done[s]
        )
        for s in range(img.target.slots)
    )
    sync.update(
        status=SYNC_STATUS["error" if error else "done"],
        error_code=error.code if error else 0,
        error_offset=error.offset if error else 0,
        progress=tl.tasks,
        **{f"slot_done{s}": tl.done[s] for s in range(img.target.slots)},
    )
    board.sync.update(sync)
    return RunResult(
        mode,
        len(data),
        tl.t0,
        tl.t_end,
        total,
        tl.prs,
        tl.pr_ns,
        tl.tasks,
        sum(tl.done),
        slots,
        error,
        dict(board.sync),
        board,
        img,
    )


class PythonEngine(OneShotEngine):
    """The reference interpreter as an :class:`aci.engine.Engine` (``--engine python``)."""

    name: ClassVar[str] = "python"

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
        return run_image(data, mode, inputs, outputs, timing_only, trace, progress, self.models)


def _index(nodes, out: dict) -> None:
    """pc -> prepared task, for the machine's callbacks."""
    for n in nodes:
        if type(n) is _Task:
            out[n.pc] = n
        elif type(n) is _Loop:
            _index(n.body, out)
        elif type(n) is _Window:
            for threads in n.parsecs:
                for th in threads:
                    _index(th, out)
        else:
            for w in n.windows:
                for threads in w.parsecs:
                    for th in threads:
                        _index(th, out)
