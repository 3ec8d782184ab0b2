"""Work balance: loops split over slots when the compiler may, and only then."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from aci.balance import _independent, _single_loop_window
from aci.check import check
from aci.cores import bnndata
from aci.parse import load
from aci.pipeline import compile_file
from aci.place import place
from aci.run import run_image

ROOT = Path(__file__).resolve().parents[2]
HEAD = f'''import "{ROOT}/programs/targets/zcu102.aci"
import "{ROOT}/programs/cores/test.aci"
buffer b : u8[64][256] in ddr
buffer c : u8[64][256] in ddr
'''


def loop_of(tmp_path, body):
    p = tmp_path / "p.aci"
    p.write_text(HEAD + textwrap.dedent(body))
    prog = place(next(iter(check(load(str(p))).programs.values())))
    return prog.body[0]


def test_independent_iterations_split(tmp_path):
    w = loop_of(
        tmp_path,
        "program p on zcu102 { window { parsec { thread { loop i in 0 .. 8 {"
        " task TEST(a: b[i], y: c[i], n: 256, salt: 0) } } } } }",
    )
    assert _single_loop_window(w) is not None


def test_a_loop_carrying_data_is_not_split(tmp_path):
    # iteration i reads what iteration i - 1 wrote
    w = loop_of(
        tmp_path,
        "program p on zcu102 { window { parsec { thread { loop i in 1 .. 8 {"
        " task TEST(a: b[i - 1], y: b[i], n: 256, salt: 0) } } } } }",
    )
    assert not _independent(w.parsecs[0].threads[0].body[0])
    assert _single_loop_window(w) is None


def test_every_iteration_writing_one_place_is_not_split(tmp_path):
    w = loop_of(
        tmp_path,
        "program p on zcu102 { window { parsec { thread { loop i in 0 .. 8 {"
        " task TEST(a: b[i], y: c[0], n: 256, salt: 0) } } } } }",
    )
    assert _single_loop_window(w) is None


def test_named_slots_are_left_alone(tmp_path):
    w = loop_of(
        tmp_path,
        "program p on zcu102 { window { parsec { thread on slot 2 { loop i in 0 .. 8 {"
        " task TEST(a: b[i], y: c[i], n: 256, salt: 0) } } } } }",
    )
    assert _single_loop_window(w) is None


def threads_per_window(c):
    return [len(w.parsecs[0].threads) for w in c.scheduled.body[0].windows]


def test_bnn_auto_keeps_cores_resident_for_small_batches():
    # strict mode: batches run one after another (dataflow mode groups them first)
    c = compile_file(
        str(ROOT / "programs/bnn_auto.aci"), {"IMAGES": "40", "BATCH": "2"}, mode="strict"
    )
    assert threads_per_window(c) == [1, 2, 1]
    r = run_image(c.data, timing_only=True)
    assert r.pr_count == 4  # one per slot, once: FP_CONV, 2 x BIN_CONV, BIN_FC stay


def test_bnn_auto_spreads_large_batches():
    c = compile_file(
        str(ROOT / "programs/bnn_auto.aci"), {"IMAGES": "1200", "BATCH": "300"}, mode="dataflow"
    )
    assert threads_per_window(c) == [4, 4, 4]


def test_bnn_auto_computes_the_network():
    n = 4
    data = bnndata.generate(5, n)
    for mode in ("strict", "dataflow"):
        c = compile_file(
            str(ROOT / "programs/bnn_auto.aci"), {"IMAGES": str(n), "BATCH": "4"}, mode=mode
        )
        r = run_image(c.data, inputs=data, outputs=["scores"])
        assert r.ok
        assert np.array_equal(r.board.array("scores").reshape(n, 10), bnndata.forward(data))


def test_balance_never_loses_to_one_slot_per_window():
    for batch in ("2", "25"):
        for mode in ("strict", "dataflow"):
            auto = compile_file(
                str(ROOT / "programs/bnn_auto.aci"), {"IMAGES": "100", "BATCH": batch}, mode=mode
            )
            static = compile_file(
                str(ROOT / "programs/bnn_static.aci"), {"IMAGES": "100", "BATCH": "100"}, mode=mode
            )
            assert (
                run_image(auto.data, timing_only=True).t_end
                <= run_image(static.data, timing_only=True).t_end
            )
