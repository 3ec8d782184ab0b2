"""Software pipelining (aci/pipelining.py): a repeat's iterations grouped, windows
ordered stage by stage, private scratch buffers renamed. On random programs the
pipelined dataflow image computes what the program computes in order (every declared
buffer, scratch ones included, ends the same as in a strict run) and its waits order
every conflicting pair; repeats it may not touch are left as written."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aci import program as P
from aci.check import check
from aci.cores import bnndata
from aci.decode import decode
from aci.diagnostics import SourceError
from aci.parse import load
from aci.pipeline import compile_file
from aci.pipelining import pipelining
from aci.place import place
from aci.report import lower_bound
from aci.run import run_image
from tests.firmware.harness import extents
from tests.run.test_differential import assert_same, outcome

from .ordering import assert_conflicts_ordered, task_instances, task_times
from .test_schedule import PRELUDE, ROOT

pl = sys.modules["aci.pipelining"]  # the module (``aci.pipelining`` names the stage's function)
REPS = 6
HEAD = (
    PRELUDE
    + f"""input buffer x : u8[{REPS}][4][64] in ddr
buffer s1 : u8[4][64] in ddr
buffer s2 : u8[4][64] in ddr
output buffer o : u8[{REPS}][4][64] in ddr
target one {{
    slots 1 capacity {{ lut 20_000  ff 40_000  bram 120  dsp 16 }}
    memory ddr at 0x0000_0000 size 2 GiB
    icap 383 MB/s  pr_overhead 50 us
    dma 1200 MB/s  clock 150 MHz  task_overhead 2 us  pf_write 10 ns
    link 10 Gb/s  latency 20 us
}}
"""
)
NAMES = ("x", "s1", "s2", "o")


@st.composite
def programs(draw):
    """A repeat of 1 to 3 windows, each a loop over rows: a chain x -> s1 -> s2 -> o,
    sometimes reading scratch rows the iteration has not written (with fewer than
    four rows: not private, the repeat stays as written). The TEST core's results
    depend on the slot: either every thread names its slot on the four-slot board, or
    no slot is named on a board with one slot."""
    n = draw(st.integers(1, 4))
    stages = draw(st.integers(1, 3))
    chain = ["x[r][i]", "s1[i]", "s2[i]", "o[r][i]"][:stages] + ["o[r][i]"]
    reads = list(chain)
    if stages > 1 and draw(st.booleans()):
        reads[1] = "s1[3 - i]"
    named = draw(st.booleans())
    windows = []
    for w in range(stages):
        slot = f"on slot {draw(st.integers(0, 3))} " if named else ""
        task = f"task TEST(a: {reads[w]}, y: {chain[w + 1]}, n: 64, salt: {w})"
        windows.append(
            f"window {{ parsec {{ thread {slot}{{ loop i in 0 .. {n} {{ {task} }} }} }} }}"
        )
    reps = draw(st.integers(2, REPS))
    return (
        f"program p on {'zcu102' if named else 'one'} {{ repeat r in 0 .. {reps} {{\n"
        + "\n".join(windows)
        + "\n} }\n"
    )


def run(path, mode):
    c = compile_file(str(path), mode=mode)
    rng = np.random.default_rng(3)
    r = run_image(
        c.data, inputs={"x": rng.integers(0, 256, (REPS, 4, 64), dtype=np.uint8)}, outputs=NAMES
    )
    assert r.ok, r.error
    return c, r


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(programs(), st.sampled_from([pl.GROUP_OPS, 8]))
def test_pipelined_programs_compute_what_the_program_does(tmp_path, monkeypatch, text, group_ops):
    # 8 operations per group at most: several groups, and iterations left over
    monkeypatch.setattr(pl, "GROUP_OPS", group_ops)
    p = tmp_path / "p.aci"
    p.write_text(HEAD + text)
    try:
        _, strict = run(p, "strict")
    except SourceError:
        assume(False)  # a race the checker refuses, say
    c, flow = run(p, "dataflow")
    for name in NAMES:
        assert np.array_equal(strict.board.array(name), flow.board.array(name)), (name, text)
    # the waits order every pair of task instances on different slots that touch
    # the same bytes, one writing
    ev = []
    r = run_image(c.data, timing_only=True, trace=ev.append)
    assert r.ok
    inst = task_instances(decode(c.data))
    assert_conflicts_ordered(inst, task_times(inst, ev), text)
    # no run beats the bound for every mapping
    assert lower_bound(decode(c.data))["bound_ns"] <= r.t_end - r.t0


def checked(tmp_path, text):
    p = tmp_path / "p.aci"
    p.write_text(HEAD + text)
    return place(next(iter(check(load(str(p))).programs.values())))


CHAIN = """program p on zcu102 { repeat r in 0 .. 6 {
window { parsec { thread { loop i in 0 .. 4 { task TEST(a: x[r][i], y: s1[i], n: 64, salt: 0) } } } }
window { parsec { thread { loop i in 0 .. 4 { task OTHER(a: s1[i], y: o[r][i], n: 64) } } } }
} }
"""


def test_a_chain_is_grouped_merged_and_renamed(tmp_path):
    prog = checked(tmp_path, CHAIN)
    out = pipelining(prog, "dataflow")
    (rep,) = out.body
    assert rep.var.count == 1  # the six iterations in one group
    loops = [w.parsecs[0].threads[0].body[0] for w in rep.windows]
    assert [lp.var.count for lp in loops] == [24, 24]  # one loop over the group's rows
    moved = {b.name: b for b in out.buffers}
    before = {b.name: b for b in prog.buffers}
    assert moved["x"] == before["x"] and moved["o"] == before["o"]
    # s1's six copies: the declared buffer is the last one, where the last iteration writes
    task = loops[0].body[0]
    assert task.ports[1].buffer == moved["s1"] and moved["s1"].address != before["s1"].address
    assert task.ports[1].offset.const == -5 * 256
    assert pipelining(prog, "strict") is prog


def test_fewer_copies_than_iterations_leave_a_first_group(tmp_path, monkeypatch):
    monkeypatch.setattr(pl, "GROUP_OPS", 8 * 4)  # four iterations of eight tasks at most per group
    out = pipelining(checked(tmp_path, CHAIN.replace("0 .. 6", "0 .. 5")), "dataflow")
    # five iterations: one left over (as written), then two groups of two
    assert [n.var.count for n in out.body] == [1, 2]
    assert [len(n.windows) for n in out.body] == [2, 2]
    assert [n.windows[0].parsecs[0].threads[0].body[0].var.count for n in out.body] == [4, 8]


def test_repeats_that_must_stay_as_written(tmp_path):
    carried = CHAIN.replace(
        "y: o[r][i]", "y: o[0][i]"
    )  # every iteration writes the same output rows
    exposed = CHAIN.replace(
        "a: x[r][i], y: s1[i]", "a: s1[i], y: s1[i]"
    )  # carried from the last iteration
    fixed = CHAIN.replace("s1", "s3")
    for text, head in (
        (carried, ""),
        (exposed, ""),
        (fixed, "buffer s3 : u8[4][64] in ddr at 0x4000_0000\n"),
    ):
        prog = checked(tmp_path, head + text)
        assert pipelining(prog, "dataflow") is prog, text


def test_bnn_pr_gets_faster_with_the_same_scores():
    data = bnndata.generate(11, 8)
    got = {}
    for mode in ("strict", "dataflow"):
        c = compile_file(
            str(ROOT / "programs/bnn_pr.aci"), {"IMAGES": "8", "BATCH": "2"}, mode=mode
        )
        r = run_image(c.data, inputs=data, outputs=["scores"])
        assert r.ok
        got[mode] = (r.board.array("scores").copy(), r.pr_count, r.total_ns)
    assert np.array_equal(got["strict"][0], got["dataflow"][0])
    assert np.array_equal(got["dataflow"][0].reshape(8, 10), bnndata.forward(data))
    assert got["dataflow"][1] == 12 < got["strict"][1] == 48  # each slot loads each core once
    assert got["dataflow"][2] * 3 < got["strict"][2]
    assert isinstance(c.scheduled.body[0], P.Repeat)


@pytest.mark.parametrize(
    "program, ops", [("bnn_pr", 12 + 9), ("bnn_auto", 9)]
)  # per batch: PR requests, tasks
def test_every_engine_agrees_on_a_pipelined_run(other_engine, reference, program, ops, monkeypatch):
    """Seven images one per batch, three batches per group at most: three groups of
    two after the one batch left over; every engine's trace, SYNC words and memory
    equal the reference interpreter's."""
    monkeypatch.setattr(pl, "GROUP_OPS", 3 * ops)
    c = compile_file(
        str(ROOT / f"programs/{program}.aci"), {"IMAGES": "7", "BATCH": "1"}, mode="dataflow"
    )
    assert [n.var.count for n in c.scheduled.body] == [1, 3]
    inputs = {k: np.ascontiguousarray(v).tobytes() for k, v in bnndata.generate(5, 7).items()}
    for timing_only in (True, False):
        ranges = () if timing_only else extents(c.data)
        ref = outcome(
            reference,
            c.data,
            "dataflow",
            None if timing_only else inputs,
            timing_only,
            ranges=ranges,
        )
        assert ref[0].error is None
        assert_same(
            outcome(
                other_engine,
                c.data,
                "dataflow",
                None if timing_only else inputs,
                timing_only,
                ranges=ranges,
            ),
            ref,
        )


def test_a_group_of_windows_on_named_slots_is_one_window_looping_over_the_group():
    """bnn_pr names its slots: a group of K batches is each window once, every thread
    looping over the K batches, so the image does not grow with the images (only a
    group of the batches left over adds one more copy of the windows)."""
    sizes = {}
    for images in (2 * 150, 2 * 450, 2 * 1200):
        c = compile_file(
            str(ROOT / "programs/bnn_pr.aci"),
            {"IMAGES": str(images), "BATCH": "2"},
            mode="dataflow",
        )
        sizes[images] = len(c.data)
        (rep,) = c.scheduled.body  # 2 * 9 + 12 operations a batch: groups of 150
        k = pl.GROUP_OPS // (2 * 9 + 12)
        assert rep.var.count == images // 2 // k and len(rep.windows) == 3
        for w in rep.windows:
            for th in w.parsecs[0].threads:
                (loop,) = th.body
                assert isinstance(loop, P.Loop) and loop.var.count == k
    assert len(set(sizes.values())) == 1, sizes
    one = compile_file(str(ROOT / "programs/bnn_pr.aci"), {"IMAGES": "2", "BATCH": "2"})
    assert sizes[300] < 1.2 * len(one.data), (sizes, len(one.data))
