"""The scheduler and the machine on small programs whose schedule is known by hand:
slot assignment, PR inference and elision, ICAP serialisation, configuration
prefetch, barriers against dataflow, and dependency waits."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aci import deps, timing
from aci.check import check
from aci.decode import decode
from aci.diagnostics import SourceError
from aci.image import Task, children
from aci.parse import load
from aci.pipeline import compile_file
from aci.place import place
from aci.run import run_image
from aci.schedule import schedule

from .ordering import assert_conflicts_ordered, task_instances, task_times

ROOT = Path(__file__).resolve().parents[2]
# The board, the TEST core and a second core of the same shape (test_deps_index too).
PRELUDE = f'''import "{ROOT}/programs/targets/zcu102.aci"
import "{ROOT}/programs/cores/test.aci"
core OTHER {{
    id 201
    bitstream size 1 MB
    param n : u32 in 1 .. 65536
    in  a : u8[n]
    out y : u8[n]
    cycles n + 100
}}
'''
HEAD = (
    PRELUDE
    + """buffer b : u8[64][256] in ddr
buffer c : u8[64][256] in ddr
"""
)


def build(tmp_path, body: str, mode="strict", name="p.aci"):
    p = tmp_path / name
    p.write_text(HEAD + textwrap.dedent(body))
    return compile_file(str(p), mode=mode)


def events_of(c, mode=None):
    ev = []
    r = run_image(c.data, mode, timing_only=True, trace=ev.append)
    assert r.ok, r.error
    return r, ev


def spans(ev, kind):
    starts, out = {}, []
    for e in ev:
        if e["ev"] == f"{kind}_start":
            starts[(e["slot"], e["pc"])] = e["t"]
        elif e["ev"] == f"{kind}_end":
            out.append((e["slot"], starts.pop((e["slot"], e["pc"])), e["t"]))
    return out


def durations(c):
    tm = c.image.target.timing
    test = next(x for x in c.image.cores if x.name == "TEST")
    pr = timing.pr_ns(tm, test.bitstream_size)
    cyc = 256 // 4 + 100
    task = timing.task_ns(tm, 2, cyc, 256, 256)
    return tm, pr, task


def reconfs(img):
    out = []

    def walk(n):
        if type(n).__name__ == "Reconf":
            out.append((n.slot, n.core))
        for k in children(n):
            walk(k)

    for n in img.body:
        walk(n)
    return out


def test_threads_get_distinct_slots_and_one_pr_each(tmp_path):
    c = build(
        tmp_path,
        """
        program p on zcu102 { window { parsec {
            thread { task TEST(a: b[0], y: c[0], n: 256, salt: 0) }
            thread { task TEST(a: b[1], y: c[1], n: 256, salt: 0) }
        } } }
    """,
    )
    assert reconfs(c.image) == [(0, 200), (1, 200)]
    r, ev = events_of(c)
    tm, pr, task = durations(c)
    # one configuration port: the second PR starts when the first ends
    (s0, a0, e0), (s1, a1, e1) = sorted(spans(ev, "pr"))
    assert (a1, e0) == (e0, a0 + pr) and e1 == a1 + pr
    # strict: the parsec starts when every PR of the window has ended
    assert [t for _, t, _ in spans(ev, "task")] == [e1, e1]


def test_a_thread_with_two_cores_takes_two_slots(tmp_path):
    c = build(
        tmp_path,
        """
        program p on zcu102 { window { parsec { thread {
            task TEST(a: b[0], y: c[0], n: 256, salt: 0)
            task OTHER(a: c[0], y: b[1], n: 256)
        } } } }
    """,
    )
    assert reconfs(c.image) == [(0, 200), (1, 201)]


def test_elision_across_windows(tmp_path):
    c = build(
        tmp_path,
        """
        program p on zcu102 {
            window { parsec { thread { task TEST(a: b[0], y: c[0], n: 256, salt: 0) } } }
            window { parsec { thread { task TEST(a: c[0], y: b[1], n: 256, salt: 1) } } }
            window { parsec { thread { task OTHER(a: b[1], y: c[1], n: 256) } } }
            window { parsec { thread { task TEST(a: c[1], y: b[2], n: 256, salt: 2) } } }
        }
    """,
    )
    # the second window reuses slot 0; OTHER takes a free slot; TEST is still on slot 0
    assert reconfs(c.image) == [(0, 200), (1, 201)]
    r, _ = events_of(c)
    assert r.pr_count == 2


def test_repeat_reconfigures_once(tmp_path):
    # Inside a repeat the RECONF stays in the image (the first iteration needs it);
    # the board skips it once the slot holds the core.
    c = build(
        tmp_path,
        """
        program p on zcu102 { repeat r in 0 .. 5 {
            window { parsec { thread { task TEST(a: b[r], y: c[r], n: 256, salt: 0) } } }
        } }
    """,
    )
    assert reconfs(c.image) == [(0, 200)]
    r, ev = events_of(c)
    assert r.pr_count == 1 and r.tasks == 5
    assert r.slots[0].operations == 10  # five RECONFs (four skipped) and five tasks


def test_explicit_reconfigure_is_honoured(tmp_path):
    c = build(
        tmp_path,
        """
        program p on zcu102 { window {
            reconfigure slot 3 <- OTHER
            parsec { thread { task TEST(a: b[0], y: c[0], n: 256, salt: 0) } }
        } }
    """,
    )
    assert reconfs(c.image) == [(3, 201), (0, 200)]


def test_too_many_cores_for_the_slots(tmp_path):
    body = "".join(
        f"core K{k} {{ id {10 + k} bitstream size 1 MB param n : u32 in 1 .. 65536 "
        f"in a : u8[n] out y : u8[n] cycles n }}\n"
        for k in range(5)
    )
    body += "program p on zcu102 { window { parsec { thread {\n"
    body += "".join(f"task K{k}(a: b[{k}], y: c[{k}], n: 256)\n" for k in range(5)) + "} } } }\n"
    with pytest.raises(SourceError) as e:
        build(tmp_path, body)
    assert [d.code for d in e.value.diagnostics] == ["E067"]


def test_prefetch_and_barriers(tmp_path):
    # Window 2 needs OTHER on a second slot. Strict: its PR waits for window 1 to end.
    # Dataflow: it runs while slot 0 computes (configuration prefetch).
    body = """
        program p on zcu102 {
            window { parsec { thread { loop i in 0 .. 20 { task TEST(a: b[i], y: c[i], n: 256, salt: 0) } } } }
            window { parsec { thread { task OTHER(a: b[40], y: b[41], n: 256) } } }
        }
    """
    strict = build(tmp_path, body, "strict")
    flow = build(tmp_path, body, "dataflow", "q.aci")
    tm, pr, task = durations(strict)
    rs, evs = events_of(strict)
    rf, evf = events_of(flow)
    t0 = rs.t0
    last_test = t0 + pr + 20 * task
    assert [p for p in spans(evs, "pr") if p[0] == 1][0][1] == last_test
    assert [p for p in spans(evf, "pr") if p[0] == 1][0][1] == t0 + pr  # right after slot 0's PR
    # OTHER's task: strict after its PR; dataflow as soon as its PR is done (no data needed)
    other = timing.task_ns(tm, 1, 356, 256, 256)
    assert rs.t_end == last_test + pr + other
    assert rf.t_end == max(t0 + 2 * pr + other, last_test)
    assert rf.t_end < rs.t_end


def test_dataflow_waits_for_data_not_barriers(tmp_path):
    body = """
        program p on zcu102 { window {
            parsec { thread on slot 0 { task TEST(a: b[0], y: c[0], n: 256, salt: 0) }
                     thread on slot 1 { task TEST(a: b[1], y: c[1], n: 256, salt: 0) } }
            parsec { thread on slot 1 { task TEST(a: c[0], y: c[2], n: 256, salt: 1) } }
        } }
    """
    flow = build(tmp_path, body, "dataflow")
    waits = [t.waits for t in _tasks(flow.image)]
    assert [[(w.slot, w.lag) for w in ws] for ws in waits] == [[], [], [(0, 0)]]
    strict = build(tmp_path, body, "strict", "q.aci")
    rs, evs = events_of(strict)
    rf, evf = events_of(flow)
    # the same here, from the image's arrival (the dataflow image is 8 bytes longer):
    # the second parsec's task needs slot 0's result either way
    (s1, a1, e1), (s2, a2, e2) = spans(evs, "task")[-1], spans(evf, "task")[-1]
    assert (s1, a1 - rs.t0, e1 - rs.t0) == (s2, a2 - rf.t0, e2 - rf.t0)


def _tasks(img):
    out = []

    def walk(n):
        if isinstance(n, Task):
            out.append(n)
        for k in children(n):
            walk(k)

    for n in img.body:
        walk(n)
    return out


def test_pipeline_waits():
    c = compile_file(str(ROOT / "programs/examples/pipeline.aci"), mode="dataflow")
    assert [[(w.slot, w.lag) for w in t.waits] for t in _tasks(c.image)] == [[], [(0, 0)]]


def test_static_bnn_waits():
    c = compile_file(
        str(ROOT / "programs/bnn_static.aci"), {"IMAGES": "8", "BATCH": "8"}, mode="dataflow"
    )
    got = [[(w.slot, w.lag) for w in t.waits] for t in _tasks(c.image)]
    # FP_CONV(i+1) rewrites fm0, which L1 of image i read four BIN_CONV tasks ago;
    # L1 reads FP_CONV's output; L5 rewrites fm5, which L6..L8 of image i came after;
    # L6 reads L5's output.
    assert got == [[(1, 4)], [(0, 0)], [], [], [], [(2, 2)], [(1, 0)], [], []]


@pytest.mark.parametrize(
    "program, defines",
    [
        ("bnn_static.aci", {}),
        ("bnn_pr.aci", {"BATCH": "5"}),
        ("bnn_pr.aci", {"BATCH": "25"}),
        ("examples/pipeline.aci", {}),
        ("examples/parallel.aci", {}),
    ],
)
def test_sampled_analysis_matches_exact_on_shipped_programs(program, defines, monkeypatch):
    prog = schedule(
        place(next(iter(check(load(str(ROOT / "programs" / program)), defines).programs.values()))),
        "dataflow",
    )
    monkeypatch.setattr(deps, "EXACT_LIMIT", 10**9)
    exact = deps.waits(prog)
    monkeypatch.setattr(deps, "EXACT_LIMIT", 0)
    assert deps.waits(prog) == exact


@pytest.mark.parametrize("batch", ["1", "5", "25"])
def test_dataflow_never_slower_on_bnn(batch):
    times = {}
    for mode in ("strict", "dataflow"):
        c = compile_file(
            str(ROOT / "programs/bnn_pr.aci"),
            {"BATCH": batch, "IMAGES": str(int(batch) * 8)},
            mode=mode,
        )
        times[mode] = run_image(c.data, timing_only=True).total_ns
    assert times["dataflow"] <= times["strict"]


# ---- soundness of the waits on random programs ------------------------------------------


@st.composite
def programs(draw):
    lines = []
    windows = draw(st.integers(1, 3))
    loop = draw(st.booleans())
    for w in range(windows):
        lines.append("window {")
        for _ in range(draw(st.integers(1, 2))):
            lines.append("parsec {")
            for slot in draw(st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True)):
                lines.append(f"thread on slot {slot} {{")
                if loop:
                    lines.append("loop i in 0 .. 3 {")
                for _ in range(draw(st.integers(1, 2))):
                    src, dst = draw(st.sampled_from(["b", "c"])), draw(st.sampled_from(["b", "c"]))
                    k1, k2 = draw(st.integers(0, 8)), draw(st.integers(0, 8))
                    idx = (lambda k: f"i + {k}") if loop and draw(st.booleans()) else str
                    lines.append(
                        f"task TEST(a: {src}[{idx(k1)}], y: {dst}[{idx(k2)}], n: 256, salt: {w})"
                    )
                if loop:
                    lines.append("}")
                lines.append("}")
            lines.append("}")
        lines.append("}")
    rep = draw(st.integers(1, 3))
    body = "\n".join(lines)
    if rep > 1:
        body = body.replace("b[", "b[4 * r + ").replace("c[", "c[4 * r + ")
        body = f"repeat r in 0 .. {rep} {{\n{body}\n}}"
    return f"program p on zcu102 {{\n{body}\n}}\n"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(programs(), st.sampled_from([0, 10**9]))
def test_waits_order_every_conflict(tmp_path, text, limit):
    """In dataflow mode, a task starts only after every earlier task on another slot
    that touches the same bytes (one of them writing) has ended."""
    p = tmp_path / "r.aci"
    p.write_text(HEAD + text)
    try:
        old = deps.EXACT_LIMIT
        deps.EXACT_LIMIT = limit  # 0: the sampled analysis; 10**9: the exact one
        c = compile_file(str(p), mode="dataflow")
    except SourceError:
        assume(False)  # a race the checker refuses, say
    finally:
        deps.EXACT_LIMIT = old
    ev = []
    r = run_image(c.data, timing_only=True, trace=ev.append)
    assert r.ok
    inst = task_instances(decode(c.data))
    assert_conflicts_ordered(inst, task_times(inst, ev), text)
