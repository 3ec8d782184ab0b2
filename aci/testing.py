"""Unit-testing schedules: run a program on the simulated board, then assert.

``run_program(path, defines=None, program=None, mode="strict", inputs=None,
timing_only=False, models=()) -> Result`` compiles a ``.aci`` file (in ``mode``),
runs it in the same mode with the given initial buffers (name -> numpy array, as
:meth:`aci.board.Board.load` takes them; buffers declared `from "FILE"` start with
that file's contents) and the user's core models (model files or
:class:`aci.cores.CoreModel` objects, :mod:`aci.models`), and keeps the whole trace.

A :class:`Result` has the run's figures (``total_ns``, ``pr_count``, ``tasks_run``,
``error``), its ``events`` (the canonical trace as dicts), the operations as
:class:`Op` spans (``tasks(core=, slot=)``, ``prs(slot=, core=)``), the final
contents of buffers (``buffer(name)``) and assertions whose failure messages say
what happened when (``assert_ok``, ``assert_before``, ``assert_concurrent``,
``assert_no_overlap``, ``assert_total_under``).

``assert_refused(path, code, line=None, column=None, defines=None, program=None,
mode="strict")`` asserts the opposite: compiling the program fails with a
diagnostic of ``code`` (at ``line`` and ``column`` when given), and returns that
diagnostic; it fails, listing what was reported, when the program compiles or is
refused for other reasons only.

Raises :class:`aci.diagnostics.SourceError` when the program does not compile and
:class:`aci.board.DataError` for inputs that do not fit its buffers. A run-time
error (wrong_core, watchdog, no_model) is not raised: it is ``Result.error``, and
``assert_ok`` fails on it. ``pytest_plugin`` wraps ``run_program`` as the
``aci_run`` fixture.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

import attrs
import numpy as np

from .engine import RunError, RunResult
from .pipeline import compile_file
from .run import run_image
from .timing import format_ns
from .trace import spans

__all__ = ["Op", "Result", "assert_refused", "run_program"]


@attrs.frozen
class Op:
    """One performed operation: a task or a reconfiguration, with its times."""

    kind: str  # "task" or "pr"
    core: str
    slot: int
    start: int
    end: int
    pc: int
    ports: tuple[tuple[int, int], ...] = ()  # (address, length), tasks only
    params: tuple[int, ...] = ()  # tasks only

    @property
    def duration(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Op) -> bool:
        return self.start < other.end and other.start < self.end

    def __str__(self) -> str:
        what = f"task {self.core}" if self.kind == "task" else f"PR of {self.core}"
        return f"{what} on slot {self.slot} (pc {self.pc}, {format_ns(self.start)} .. {format_ns(self.end)})"


class Result:
    """A finished run of a program and everything it recorded."""

    def __init__(self, path: str, run: RunResult, events: list[dict]):
        self.path = path
        self.run = run
        self.events = events
        self.ops = [
            Op(
                s["kind"],
                s["core"],
                s["slot"],
                s["start"],
                s["end"],
                s["pc"],
                tuple(tuple(p) for p in s.get("ports", ())),
                tuple(s.get("params", ())),
            )
            for s in spans(events)
            if s["kind"] != "window"
        ]

    @property
    def total_ns(self) -> int:
        return self.run.total_ns

    @property
    def pr_count(self) -> int:
        return self.run.pr_count

    @property
    def tasks_run(self) -> int:
        return self.run.tasks

    @property
    def error(self) -> RunError | None:
        return self.run.error

    def tasks(self, core: str | None = None, slot: int | None = None) -> list[Op]:
        """Tasks in issue order, optionally only of one core and/or one slot."""
        return self._select("task", core, slot)

    def prs(self, slot: int | None = None, core: str | None = None) -> list[Op]:
        """Performed reconfigurations in issue order (skipped ones are not listed)."""
        return self._select("pr", core, slot)

    def _select(self, kind: str, core: str | None, slot: int | None) -> list[Op]:
        return [
            o
            for o in self.ops
            if o.kind == kind and core in (None, o.core) and slot in (None, o.slot)
        ]

    def buffer(self, name: str) -> np.ndarray:
        """A buffer's contents after the run, in its dtype and shape (bits: uint64 words)."""
        if self.run.board is None:
            raise AssertionError(f"{self.path}: the image was refused, there is no memory to read")
        return self.run.board.array(name)

    # ---- assertions -----------------------------------------------------------

    def assert_ok(self) -> None:
        """The run completed without a run-time error."""
        e = self.error
        if e is not None:
            where = f" ({e.source})" if e.source else ""
            raise AssertionError(
                f"{self.path}: run stopped by {e.name} (code {e.code}) at pc {e.offset}{where}, "
                f"t = {format_ns(e.t)}: {e.detail}"
            )

    def assert_total_under(self, ns: int) -> None:
        """The whole run, as the host sees it, takes less than ``ns``."""
        if not self.total_ns < ns:
            raise AssertionError(
                f"{self.path}: the run takes {format_ns(self.total_ns)} ({self.total_ns} ns), "
                f"not under {format_ns(ns)} ({ns} ns)"
            )

    @staticmethod
    def assert_before(a: Op, b: Op) -> None:
        """``a`` ends no later than ``b`` starts."""
        if a.end > b.start:
            raise AssertionError(
                f"expected {a} to end before {b} starts; it ends {format_ns(a.end - b.start)} after"
            )

    @staticmethod
    def assert_concurrent(a: Op, b: Op) -> None:
        """``a`` and ``b`` run at the same time for a while (the schedule overlaps them)."""
        if not a.overlaps(b):
            raise AssertionError(f"expected {a} and {b} to overlap in time; they do not")

    def assert_no_overlap(self, ops: Iterable[Op] | None = None) -> None:
        """No two of ``ops`` overlap in time. Without ``ops``: the board's own
        invariants — no two operations of one slot overlap, nor two reconfigurations."""
        if ops is None:
            for slot in sorted({o.slot for o in self.ops}):
                self.assert_no_overlap([o for o in self.ops if o.slot == slot])
            self.assert_no_overlap(self.prs())
            return
        ordered = sorted(ops, key=lambda o: (o.start, o.end))
        for a, b in itertools.pairwise(ordered):
            if a.overlaps(b):
                raise AssertionError(f"{a} overlaps {b}")


def run_program(
    path: str,
    defines: Mapping[str, object] | None = None,
    program: str | None = None,
    mode: str = "strict",
    inputs: Mapping[str, np.ndarray] | None = None,
    timing_only: bool = False,
    models: Iterable = (),
) -> Result:
    """Compile ``path`` in ``mode``, run it with ``inputs`` and ``models`` and return the Result."""
    compiled = compile_file(
        str(path), {k: str(v) for k, v in (defines or {}).items()}, program, mode
    )
    events: list[dict] = []
    run = run_image(
        compiled.data,
        mode,
        inputs=inputs,
        timing_only=timing_only,
        trace=events.append,
        models=models,
    )
    return Result(str(path), run, events)


def assert_refused(
    path: str,
    code: str,
    line: int | None = None,
    column: int | None = None,
    defines: Mapping[str, object] | None = None,
    program: str | None = None,
    mode: str = "strict",
):
    """The diagnostic of ``code`` (at ``line``:``column`` when given) that compiling
    ``path`` reports; AssertionError when there is none."""
    from .diagnostics import SourceError

    try:
        compile_file(str(path), {k: str(v) for k, v in (defines or {}).items()}, program, mode)
    except SourceError as e:
        for d in e.diagnostics:
            if (
                d.code == code
                and (line is None or (d.span is not None and d.span.line == line))
                and (column is None or (d.span is not None and d.span.column == column))
            ):
                return d
        got = "; ".join(
            f"{d.code} at {d.span or 'no location'}: {d.message}" for d in e.diagnostics
        )
        where = (
            ""
            if line is None
            else f" at line {line}" + ("" if column is None else f", column {column}")
        )
        raise AssertionError(f"{path}: expected {code}{where}, got {got}") from None
    raise AssertionError(f"{path}: expected {code}, but the program compiles")
