"""The BNN end to end: compiled programs, run functionally in both modes, give the
scores of the plain whole-network reference; and the full PR run in timing-only
mode is fast."""

from __future__ import annotations

import numpy as np
import pytest

from aci.cores import bnndata
from aci.image import Task, children
from aci.pipeline import compile_file
from aci.run import run_image

from ..cores import bnn_reference as ref
from ..image.builder import PROGRAMS

SEED = 20240611
IMAGES = 8


@pytest.fixture(scope="module")
def network():
    data = bnndata.generate(SEED, IMAGES)
    _, scores = ref.forward(data)  # the slow, obviously correct network
    assert (scores == bnndata.forward(data)).all()
    return data, scores


def waits_of(nodes):
    for n in nodes:
        yield from n.waits if isinstance(n, Task) else waits_of(children(n))


@pytest.mark.parametrize(
    "program, defines",
    [
        ("bnn_static", {"IMAGES": "4", "BATCH": "4"}),
        ("bnn_static", {"IMAGES": "4", "BATCH": "2"}),
        ("bnn_pr", {"IMAGES": "8", "BATCH": "4"}),
        ("bnn_pr", {"IMAGES": "8", "BATCH": "8"}),  # two images per thread: batched loops
    ],
)
def test_scores_match_the_reference(network, program, defines):
    data, scores = network
    n = int(defines["IMAGES"])
    inputs = {**data, "images": data["images"][:n]}
    totals = {}
    for mode in ("strict", "dataflow"):
        c = compile_file(str(PROGRAMS / f"{program}.aci"), defines, mode=mode)
        r = run_image(c.data, inputs=inputs, outputs=["scores"])
        assert r.ok and r.mode == mode
        got = r.board.array("scores")
        assert got.dtype == np.int32 and got.shape == (n, 10)
        assert (got == scores[:n]).all(), f"{program} {defines} {mode}"
        assert r.tasks == 9 * n
        totals[mode] = r.total_ns
        if mode == "dataflow" and program == "bnn_static":
            # Layers on three slots depend on each other: the compiler says so.
            assert list(waits_of(c.image.body))
    assert totals["dataflow"] <= totals["strict"]


def test_full_pr_run_timing_only():
    c = compile_file(str(PROGRAMS / "bnn_pr.aci"), {"BATCH": "1"})
    r = run_image(
        c.data, timing_only=True
    )  # its speed is a target of bench/bench_run.py, not a test
    assert r.ok and r.tasks == 90_000 and r.pr_count == 120_000 and r.operations == 210_000
    assert r.board.allocated == 0
