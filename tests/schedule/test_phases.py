"""Free mappings: loops cut at task granularity in phases (aci.phases), every slot count
per window, and the balancer keeping the better of the uniform and the free search."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aci import phases, record
from aci import program as P
from aci.balance import _single_loop_window, substitute
from aci.check import check
from aci.cores import bnndata
from aci.decode import decode
from aci.encode import encode
from aci.lower import lower
from aci.machine import simulate
from aci.parse import load
from aci.pipeline import compile_file
from aci.place import place
from aci.run import run_image
from aci.schedule import schedule
from aci.waits import waits

from .ordering import assert_conflicts_ordered, task_instances, task_times

ROOT = Path(__file__).resolve().parents[2]
UNEVEN = ROOT / "programs/examples/uneven.aci"
BNN_AUTO = ROOT / "programs/bnn_auto.aci"


@pytest.fixture
def uniform_only(monkeypatch):
    """The balancer as it was before free mappings (its uniform search only), until
    the test calls ``undo()``."""
    monkeypatch.setattr(sys.modules["aci.balance"], "FREE_PASSES", 0)
    return monkeypatch


def t_end(c, mode):
    return simulate(c.image, len(c.data), mode).t_end


def test_solver_spreads_three_chains_over_two_threads():
    # three iterations of two equal tasks on two threads: contiguous shares take two
    # iterations' time (4 units), cut ones three units (every thread busy throughout)
    cut = phases.solve(3, [10, 10], 2)
    loads: dict = {}
    for chain in cut:
        phases_seen = [p for p, _ in chain]
        assert phases_seen == sorted(phases_seen)  # an iteration's tasks in order
        for (p, s), d in zip(chain, [10, 10], strict=True):
            loads[p, s] = loads.get((p, s), 0) + d
    spans = [max(v for (p, _), v in loads.items() if p == q) for q in {p for p, _ in loads}]
    assert sum(spans) == 30


def test_an_iteration_is_on_one_thread_per_phase():
    for chain in phases.solve(5, [7, 3, 7], 4):
        by_phase: dict = {}
        for p, s in chain:
            by_phase.setdefault(p, set()).add(s)
        assert all(len(s) == 1 for s in by_phase.values())


def test_uneven_example_is_cut_in_strict_mode_and_faster(uniform_only):
    before = compile_file(str(UNEVEN), mode="strict")
    uniform_only.undo()
    after = compile_file(str(UNEVEN), mode="strict")
    (w,) = after.scheduled.body
    assert len(w.parsecs) > 1  # phases
    for p in w.parsecs:
        slots = [{t.slot for t in P.walk_tasks(th)} for th in p.threads]
        assert all(len(s) == 1 for s in slots)
        assert len({next(iter(s)) for s in slots}) == len(slots)  # disjoint slots
    assert t_end(after, "strict") < t_end(before, "strict")


def _instances(w: P.Window) -> list[tuple]:
    """Every task instance of a window as (parsec, thread, position, (ports)) in order."""
    out = []
    for pi, p in enumerate(w.parsecs):
        for ti, th in enumerate(p.threads):
            pos = itertools.count()

            def walk(node, values, pi=pi, ti=ti, pos=pos):
                if isinstance(node, P.Task):
                    ports = tuple(
                        (r.buffer.name, r.offset.at(values), r.length, d.direction)
                        for r, d in zip(node.ports, node.core.ports, strict=True)
                    )
                    out.append((pi, ti, next(pos), node.params, ports))
                    return
                for i in range(node.var.start, node.var.start + node.var.count):
                    for b in node.body:
                        walk(b, {**values, node.var: i})

            for b in th.body:
                walk(b, {})
    return out


def test_uneven_example_keeps_every_task_once_and_each_chunk_in_order():
    c = compile_file(str(UNEVEN), mode="strict")
    (w,) = c.scheduled.body
    got = _instances(w)
    n = c.checked.consts["N"]
    chunks = c.checked.consts["CHUNKS"]
    # the source's tasks, each exactly once
    want = sorted(
        (src, i * n, dst, salt)
        for i in range(chunks)
        for src, dst, salt in (("data", "mid", 1), ("mid", "late", 2), ("late", "out", 3))
    )
    seen = sorted((t[4][0][0], t[4][0][1], t[4][1][0], dict(t[3])["salt"]) for t in got)
    assert seen == want
    # a chunk's three stages: phases non-decreasing, in one phase on one thread in order
    for i in range(chunks):
        stages = sorted((dict(t[3])["salt"], t[0], t[1], t[2]) for t in got if t[4][0][1] == i * n)
        for (_, p1, t1, k1), (_, p2, t2, k2) in zip(stages, stages[1:], strict=False):
            assert p1 < p2 or (p1 == p2 and t1 == t2 and k1 < k2)


HEAD = f'''import "{ROOT}/programs/targets/zcu102.aci"
import "{ROOT}/programs/cores/test.aci"
'''


@st.composite
def chains(draw):
    """A loop of n iterations, each a chain of stages through scratch buffers."""
    n = draw(st.integers(3, 9))
    stages = draw(st.integers(2, 4))
    sizes = [draw(st.sampled_from([4096, 16384, 65536])) for _ in range(stages)]
    size = max(sizes)
    bufs = ["src"] + [f"s{j}" for j in range(stages - 1)] + ["dst"]
    decl = [f"input buffer src : u8[{n}][{size}] in ddr"]
    decl += [f"buffer {b} : u8[{n}][{size}] in ddr" for b in bufs[1:-1]]
    decl += [f"output buffer dst : u8[{n}][{size}] in ddr"]
    tasks = [
        f"task TEST(a: {bufs[j]}[i][0 .. {sizes[j]}], y: {bufs[j + 1]}[i][0 .. {sizes[j]}],"
        f" n: {sizes[j]}, salt: {j})"
        for j in range(stages)
    ]
    body = "\n".join(tasks)
    text = "\n".join(decl) + textwrap.dedent(f"""
        program p on zcu102 {{ window {{ parsec {{ thread {{ loop i in 0 .. {n} {{
        {body}
        }} }} }} }} }}
        """)
    k = draw(st.integers(2, min(4, n - 1)))
    return text, k


@settings(max_examples=25, deadline=None)
@given(chains())
def test_a_cut_loop_orders_every_conflict_and_keeps_its_meaning(case):
    """A loop cut by aci.phases (forced, whatever the timing model prefers): in dataflow
    mode every pair of conflicting task instances on different slots is ordered in the
    run, and strict and dataflow runs of the image leave the same memory."""
    text, k = case
    path = Path(f"/tmp/aci-phases-{abs(hash(text))}.aci")
    path.write_text(HEAD + text)
    try:
        prog = place(next(iter(check(load(str(path))).programs.values())))
    finally:
        path.unlink()
    (w,) = prog.body
    loop = _single_loop_window(w)
    assert loop is not None
    uid = itertools.count(1 << 24)
    cut = phases.phased(prog, w, loop, k, lambda: next(uid), substitute, force=True)
    assert cut is not None
    prog = record.evolve(prog, body=(cut,))
    data = encode(lower(waits(schedule(prog, "dataflow")), "dataflow"))
    ev: list = []
    rng = np.random.default_rng(len(text))
    src = next(b for b in prog.buffers if b.name == "src")
    inputs = {"src": rng.integers(0, 256, src.size, dtype=np.uint8).tobytes()}
    r = run_image(data, "dataflow", inputs=inputs, outputs=["dst"], trace=ev.append)
    s = run_image(data, "strict", inputs=inputs, outputs=["dst"])
    assert r.ok and s.ok
    assert np.array_equal(r.board.array("dst"), s.board.array("dst"))
    _assert_conflicts_ordered(data, ev)


def _assert_conflicts_ordered(data: bytes, events: list) -> None:
    """Every two task instances on different slots that touch the same bytes, one of
    them writing, ran one after the other in program order (as in test_schedule)."""
    inst = task_instances(decode(data))
    times = task_times(inst, events)
    assert len(times) == len(inst)
    assert_conflicts_ordered(inst, times)


def test_bnn_cut_in_strict_mode_computes_the_network():
    """bnn_auto.aci at three images per batch: its BIN_CONV loop is cut in phases
    (strict mode), and the scores are the reference network's."""
    n = 6
    c = compile_file(str(BNN_AUTO), {"IMAGES": str(n), "BATCH": "3"}, mode="strict")
    assert any(len(w.parsecs) > 1 for w in c.scheduled.body[0].windows)
    data = bnndata.generate(11, n)
    r = run_image(c.data, inputs=data, outputs=["scores"])
    assert r.ok
    assert np.array_equal(r.board.array("scores").reshape(n, 10), bnndata.forward(data))


@pytest.mark.parametrize(
    "path, defines, mode",
    [
        (BNN_AUTO, {"BATCH": "3"}, "strict"),
        (BNN_AUTO, {"BATCH": "7"}, "strict"),
        (BNN_AUTO, {"BATCH": "13"}, "strict"),
        (BNN_AUTO, {"BATCH": "7"}, "dataflow"),
        (UNEVEN, {}, "strict"),
        (UNEVEN, {}, "dataflow"),
    ],
)
def test_never_slower_than_the_uniform_search(monkeypatch, path, defines, mode):
    defines = {**defines, "IMAGES": str(4 * int(defines.get("BATCH", 1)))}
    if path == UNEVEN:
        defines = {}
    free = compile_file(str(path), defines, mode=mode)
    monkeypatch.setattr(sys.modules["aci.balance"], "FREE_PASSES", 0)
    uniform = compile_file(str(path), defines, mode=mode)
    assert t_end(free, mode) <= t_end(uniform, mode)


def test_same_image_in_every_process():
    """The solver is deterministic (one worker, a fixed seed, a limit in deterministic
    time): two fresh processes compile the same bytes."""
    code = (
        "import sys, hashlib; from aci.pipeline import compile_file; "
        f"print(hashlib.sha256(compile_file({str(UNEVEN)!r}, "
        "mode='strict').data).hexdigest())"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout
        for _ in range(2)
    }
    assert len(runs) == 1


PROBE = (
    "import sys\nfrom aci.cli import main\nmain(sys.argv[1:])\nprint('ortools' in sys.modules)\n"
)


@pytest.mark.parametrize(
    "argv, solver",
    [
        (["programs/bnn_pr.aci", "-D", "BATCH=25"], False),  # names its slots: no balancing
        (
            ["programs/bnn_auto.aci", "-D", "BATCH=4", "-D", "IMAGES=40", "--mode", "dataflow"],
            False,
        ),
        (["programs/examples/uneven.aci", "--mode", "strict"], True),
    ],
)
def test_only_programs_that_need_the_solver_import_it(tmp_path, argv, solver):
    p = subprocess.run(
        [sys.executable, "-c", PROBE, "compile", *argv, "-o", str(tmp_path / "x.acx")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[-1] == str(solver)
