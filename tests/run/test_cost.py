"""The reference interpreter costs what runs, not what is declared: an image that
declares tens of millions of operations but stops after two, and nested empty loops
of 2^24 iterations, end at once and in little memory, with the same result and trace
as the C firmware. Each run is a child process with a time limit, so that a
regression fails instead of hanging the suite."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ..firmware.harness import ROOT, SIM, c_run, py_run
from ..image.builder import LATENCY, PR_TEST, image, loop, parsec, task, thread, window

BIG = 1 << 24


def stops_after_two(mode: str) -> bytes:
    """Two TEST tasks run, then OTHER's task finds TEST in the slot: 2^26 + 2 declared."""
    return image(
        window(
            [(0, 200)],
            parsec(
                thread(
                    task(0, 0, 100),
                    task(0, 0, 200),
                    loop(BIG, loop(4, task(0, 0, 300, core=7, strides=((0, 0), (0, 0))))),
                )
            ),
        ),
        dataflow=mode == "dataflow",
    )


def empty_loops(depth: int, mode: str) -> bytes:
    """One task, ``depth`` nested loops of 2^24 iterations with nothing inside, one task."""
    body = loop(BIG)
    for _ in range(depth - 1):
        body = loop(BIG, body)
    return image(
        window([(0, 200)], parsec(thread(task(0, 0, 100), body, task(0, 0, 200)))),
        dataflow=mode == "dataflow",
    )


def run_in_child(make: str) -> dict:
    """``run_image(make)`` in a fresh interpreter, limited to 60 s: its result and the
    child's peak memory."""
    code = f"""
import json, resource, sys
sys.path.insert(0, {str(ROOT)!r})
from aci.run import run_image
from tests.run.test_cost import *
r = run_image({make}, trace=lambda e: None)
print(json.dumps({{"error": r.error and r.error.name, "tasks": r.tasks, "t0": r.t0, "total": r.total_ns,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("mode", ["strict", "dataflow"])
def test_an_early_error_ends_at_once(mode):
    r = run_in_child(f"stops_after_two({mode!r})")
    assert r["error"] == "wrong_core" and r["tasks"] == 2


@pytest.mark.parametrize("depth", [2, 4])
@pytest.mark.parametrize("mode", ["strict", "dataflow"])
def test_nested_empty_loops_cost_nothing(depth, mode):
    r = run_in_child(f"empty_loops({depth}, {mode!r})")
    assert r["error"] is None and r["tasks"] == 2
    assert r["total"] == r["t0"] + PR_TEST + 2 * (10 + 2 + 100) + LATENCY


def test_memory_grows_with_what_runs():
    """Peak memory with 2^26 declared operations is that of a one-loop image."""
    small = run_in_child("empty_loops(1, 'strict')")["maxrss_kib"]
    assert run_in_child("stops_after_two('dataflow')")["maxrss_kib"] < small + 20 * 1024
    assert run_in_child("empty_loops(4, 'dataflow')")["maxrss_kib"] < small + 20 * 1024


@pytest.mark.parametrize("mode", ["strict", "dataflow"])
def test_the_firmware_agrees(mode):
    for data in (stops_after_two(mode), empty_loops(4, mode)):
        c, py = c_run(SIM, data), py_run(data)
        assert (c.error, c.trace, c.sync, c.memory) == (py.error, py.trace, py.sync, py.memory)
