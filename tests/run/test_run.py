"""Every engine on hand-built images: strict and dataflow ready times, waits and lags,
skipped RECONFs, run-time errors, refused images, SYNC, functional effects; the
Python interpreter's own choices (error sentences, batched loops) at the end."""

from __future__ import annotations

import numpy as np
import pytest

from aci import run as run_module
from aci.engine import run_on
from aci.run import run_image

from ..image.builder import (
    PR_OTHER,
    PR_TEST,
    image,
    loop,
    parsec,
    repeat,
    t0,
    task,
    task_ns,
    thread,
    window,
)

LONG = 5000  # cycles of a long task: 10 + 2 + 5000 = 5012 ns


@pytest.fixture
def run(engine):
    """run(data, mode=None, **kw) -> (RunResult, trace events), on each engine."""

    def go(data, mode=None, **kw):
        events = []
        return run_on(engine, data, mode, trace=events.append, **kw), events

    go.engine = engine
    return go


def explains(run, error, words: str) -> bool:
    """A run-time error's detail names the cause, in the same words on every engine
    (aci.format.MESSAGES filled with the same numbers)."""
    del run
    return words in error.detail


def starts(events, kind="task"):
    return [e["t"] for e in events if e["ev"] == f"{kind}_start"]


def test_strict_parsec_runs_threads_in_parallel_after_all_prs(run):
    data = image(
        window([(0, 200), (1, 200)], parsec(thread(task(0, 0, 1000)), thread(task(1, 0, 2000))))
    )
    r, ev = run(data)
    t = t0(data)
    # Both PRs through the ICAP one after the other, then both tasks at once.
    assert [(e["ev"], e["t"]) for e in ev if e["ev"].startswith("pr")] == [
        ("pr_start", t),
        ("pr_end", t + PR_TEST),
        ("pr_start", t + PR_TEST),
        ("pr_end", t + 2 * PR_TEST),
    ]
    assert starts(ev) == [t + 2 * PR_TEST] * 2
    assert r.t_end == t + 2 * PR_TEST + task_ns()
    assert r.total_ns == r.t_end + 1000
    assert ev[-1] == {"ev": "done", "t": r.total_ns, "tasks": 2, "prs": 2}


def test_dataflow_task_waits_only_for_its_slot(run):
    data = image(
        window([(0, 200), (1, 200)], parsec(thread(task(0, 0, 1000)), thread(task(1, 0, 2000))))
    )
    r, ev = run(data, "dataflow")
    t = t0(data)
    assert starts(ev) == [t + PR_TEST, t + 2 * PR_TEST]
    assert r.t_end == t + 2 * PR_TEST + task_ns()


def test_strict_parsecs_run_one_after_the_other(run):
    data = image(
        window(
            [(0, 200), (1, 200)],
            parsec(thread(task(0, 0, 1000, cycles=LONG))),
            parsec(thread(task(1, 0, 2000))),
        )
    )
    t = t0(data)
    _, ev = run(data, "strict")
    assert starts(ev) == [t + 2 * PR_TEST, t + 2 * PR_TEST + task_ns(LONG)]
    _, ev = run(data, "dataflow")  # no waits: nothing holds the second task back
    assert starts(ev) == [t + PR_TEST, t + 2 * PR_TEST]


def test_strict_thread_order_crosses_slots(run):
    # A thread's tasks run one after another even on different slots.
    data = image(
        window(
            [(0, 200), (1, 200)], parsec(thread(task(0, 0, 1000, cycles=LONG), task(1, 0, 2000)))
        )
    )
    t = t0(data)
    _, ev = run(data, "strict")
    assert starts(ev) == [t + 2 * PR_TEST, t + 2 * PR_TEST + task_ns(LONG)]


def test_strict_window_begins_after_previous_window(run):
    data = image(
        window([(0, 200)], parsec(thread(task(0, 0, 1000, cycles=LONG)))),
        window([(1, 200)], parsec(thread(task(1, 0, 2000)))),
    )
    t = t0(data)
    r, ev = run(data, "strict")
    first_end = t + PR_TEST + task_ns(LONG)
    assert [e["t"] for e in ev if e["ev"] == "pr_start"] == [t, first_end]
    assert [(e["ev"], e["t"]) for e in ev if e["ev"].startswith("window")] == [
        ("window_start", t),
        ("window_end", first_end),
        ("window_start", first_end),
        ("window_end", first_end + PR_TEST + task_ns()),
    ]
    f, fev = run(data, "dataflow")
    # Configuration prefetch: slot 1 is configured while slot 0 computes.
    assert [e["t"] for e in fev if e["ev"] == "pr_start"] == [t, t + PR_TEST]
    assert f.total_ns < r.total_ns


@pytest.mark.parametrize(
    "waits, start",
    [
        ((), "pr1"),  # no wait: only slot 1's own PR
        (((0, 0),), "task0"),  # the last operation of slot 0: its task
        (((0, 1),), "pr1"),  # all but the last one: slot 0's PR, already over
        (((0, 5),), "pr1"),  # a negative index is satisfied at once
        (((0, 1), (0, 0)), "task0"),  # the latest wait decides
    ],
)
def test_dataflow_waits_and_lags(waits, start, run):
    data = image(
        window(
            [(0, 200), (1, 200)],
            parsec(thread(task(0, 0, 1000, cycles=LONG), task(1, 1000, 2000, waits=waits))),
        ),
        dataflow=True,
    )
    t = t0(data)
    expected = {"pr1": t + 2 * PR_TEST, "task0": t + PR_TEST + task_ns(LONG)}[start]
    r, ev = run(data)
    assert r.mode == "dataflow"
    assert starts(ev)[1] == expected
    # Strict ignores the waits and orders the thread.
    _, sev = run(data, "strict")
    assert starts(sev)[1] == t + 2 * PR_TEST + task_ns(LONG)


def test_skipped_reconf_counts_as_an_operation(run):
    # Slot 0's operations: PR (0), task (1), skipped PR (2). A wait with lag 1 names
    # index 1 only if the skipped RECONF counts.
    def build(lag):
        return image(
            window([(0, 200)], parsec(thread(task(0, 0, 1000, cycles=LONG)))),
            window([(0, 200), (1, 200)], parsec(thread(task(1, 1000, 2000, waits=((0, lag),))))),
            dataflow=True,
        )

    t = t0(build(1))
    r, ev = run(build(1))
    assert r.pr_count == 2 and r.pr_ns == 2 * PR_TEST
    assert [e["slot"] for e in ev if e["ev"] == "pr_start"] == [0, 1]
    assert starts(ev)[1] == t + PR_TEST + task_ns(LONG)
    assert r.slots[0].operations == 3 and r.sync["slot_done0"] == 3
    _, ev2 = run(build(2))  # index 0: slot 0's PR
    assert starts(ev2)[1] == t + 2 * PR_TEST


def test_skipped_reconf_in_repeat_and_window_times(run):
    data = image(
        repeat(3, window([(0, 200)], parsec(thread(task(0, 0, 1000, strides=((100, 100),))))))
    )
    t = t0(data)
    r, ev = run(data)
    assert r.pr_count == 1 and r.tasks == 3
    wins = [e["t"] for e in ev if e["ev"].startswith("window")]
    assert wins == [
        t,
        t + PR_TEST + task_ns(),
        t + PR_TEST + task_ns(),
        t + PR_TEST + 2 * task_ns(),
        t + PR_TEST + 2 * task_ns(),
        t + PR_TEST + 3 * task_ns(),
    ]
    assert [e["ports"] for e in ev if e["ev"] == "task_start"] == [
        [[0, 100], [1000, 100]],
        [[100, 100], [1100, 100]],
        [[200, 100], [1200, 100]],
    ]


def test_reconfiguring_to_another_core_is_performed(run):
    data = image(
        window([(0, 200)], parsec(thread(task(0, 0, 1000)))),
        window([(0, 7)], parsec(thread(task(0, 0, 1000, core=7)))),
        window([(0, 200)], parsec(thread(task(0, 0, 1000)))),
    )
    r, _ = run(data, timing_only=True)
    assert r.pr_count == 3 and r.pr_ns == 2 * PR_TEST + PR_OTHER


def test_empty_window_spans_its_begin(run):
    data = image(window([(0, 200)], parsec(thread(task(0, 0, 1000)))), window())
    t = t0(data)
    _, ev = run(data)
    assert [e["t"] for e in ev if e["ev"].startswith("window")][2:] == [t + PR_TEST + task_ns()] * 2


@pytest.mark.parametrize("mode", ["strict", "dataflow"])
def test_wrong_core_no_core(mode, run):
    data = image(window([(0, 200)], parsec(thread(task(0, 0, 1000)), thread(task(2, 0, 2000)))))
    r, ev = run(data, mode)
    t = t0(data)
    assert r.error.name == "wrong_core" and r.error.code == 40
    (k,) = [i for i, e in enumerate(ev) if e["ev"] == "error"]
    err = ev[k]
    pc = err["pc"]
    # strict: both tasks are ready when the PR ends, the one on slot 0 starts first;
    # dataflow: the task on slot 2 is ready at t0, while slot 0 is being reconfigured.
    assert err == {
        "ev": "error",
        "t": t + PR_TEST if mode == "strict" else t,
        "code": 40,
        "name": "wrong_core",
        "pc": pc,
    }
    assert r.error.offset == pc and r.error.t == err["t"]
    assert explains(run, r.error, "holds no core")
    assert not any(e["ev"] in ("done", "window_end") for e in ev)
    # nothing starts after the error; what was running completes
    assert all(e["ev"].endswith("_end") for e in ev[k + 1 :]) and ev[k + 1 :]
    tasks = 1 if mode == "strict" else 0
    assert r.tasks == tasks and r.total_ns == err["t"]
    assert r.sync["status"] == 3 and r.sync["error_code"] == 40 and r.sync["error_offset"] == pc
    assert r.sync["progress"] == tasks and r.sync["ack"] == 1


def test_wrong_core_other_core(run):
    data = image(window([(0, 7)], parsec(thread(task(0, 0, 1000)))))
    r, _ = run(data)
    assert r.error.name == "wrong_core" and explains(run, r.error, "core id 7")


def test_watchdog(run):
    data = image(
        window([(0, 200)], parsec(thread(task(0, 0, 1000), task(0, 0, 2000, cycles=LONG)))),
        watchdog=1000,
    )
    r, ev = run(data)
    t = t0(data)
    assert r.error.name == "watchdog" and r.error.code == 41
    assert ev[-1]["t"] == t + PR_TEST + task_ns() + 1000
    assert r.tasks == 1


def test_no_model_only_in_functional_runs(run):
    data = image(window([(0, 7)], parsec(thread(task(0, 0, 1000, core=7)))))
    r, ev = run(data)
    assert r.error.name == "no_model" and r.error.code == 42
    assert ev[-1]["t"] == t0(data) + PR_OTHER  # the task's start
    assert explains(run, r.error, "OTHER")
    r, ev = run(data, timing_only=True)
    assert r.ok and ev[-1]["ev"] == "done"


def test_no_model_for_ports_the_model_does_not_take(run):
    # TEST with n = 100 but 50-byte ports: only a hand-made image can say so.
    data = image(window([(0, 200)], parsec(thread(task(0, 0, 1000, n=50)))))
    r, _ = run(data)
    assert r.error.name == "no_model"
    assert r.error.detail == (
        "the functional model of `TEST` does not take this task "
        "(parameter words [100, 0], port lengths [50, 50])"
    )


def test_refused_image(run):
    data = bytearray(image(window([(0, 200)], parsec(thread(task(0, 0, 1000))))))
    data[-1] ^= 0xFF
    r, ev = run(bytes(data), "dataflow")
    assert ev == [
        {"ev": "image", "t": 0, "bytes": len(data), "mode": "dataflow"},
        {"ev": "error", "t": 0, "code": 4, "name": "bad_crc", "pc": 12},
    ]
    assert r.error.code == 4 and r.error.offset == 12 and not r.error.runtime
    assert r.board is None and r.sync["status"] == 3 and r.sync["error_code"] == 4
    r, ev = run(b"ACIX")
    assert ev[0]["mode"] == "strict" and ev[1]["name"] == "bad_length"


def test_sync_after_a_good_run(run):
    data = image(
        window([(0, 200), (1, 200)], parsec(thread(task(0, 0, 1000)), thread(task(1, 0, 2000))))
    )
    r, _ = run(data)
    assert r.sync["status"] == 2 and r.sync["ack"] == 1 and r.sync["progress"] == 2
    assert [r.sync[f"slot_done{s}"] for s in range(4)] == [2, 2, 0, 0]
    from aci.format import SYNC

    assert SYNC.unpack(r.board.sync_bytes())["progress"] == 2


def test_bad_mode(engine):
    engine.load(image(window()))
    with pytest.raises(ValueError):
        engine.run("eager")


# ---- functional effects ----------------------------------------------------------------


def reference(a: np.ndarray, salt: int, slot: int) -> np.ndarray:
    """docs/execution.md's TEST core, written out."""
    return np.array([(5 * int(v) + salt + 3 * slot + k) % 256 for k, v in enumerate(a)], np.uint8)


def test_functional_chain_in_program_order(run):
    # mem[0:100] -> mem[1000:1100] on slot 0 (salt 0) -> mem[2000:2100] on slot 2 (salt 1)
    data = image(
        window(
            [(0, 200), (2, 200)], parsec(thread(task(0, 0, 1000), task(2, 1000, 2000, params=2)))
        ),
        params=(100, 0, 100, 1),
    )
    mem = np.random.default_rng(1).integers(0, 256, 65536, dtype=np.uint8)
    r, _ = run(data, inputs={"mem": mem})
    out = r.board.array("mem")
    b = reference(mem[:100], 0, 0)
    assert (out[1000:1100] == b).all()
    assert (out[2000:2100] == reference(b, 1, 2)).all()
    assert (out[100:1000] == mem[100:1000]).all()


def test_task_reads_all_inputs_before_writing(run):
    # y one byte after a: a core that wrote while reading would see its own output.
    data = image(window([(0, 200)], parsec(thread(task(0, 0, 1)))))
    mem = np.arange(65536, dtype=np.uint64).astype(np.uint8)
    out = run(data, inputs={"mem": mem})[0].board.array("mem")
    assert (out[1:101] == reference(mem[:100], 0, 0)).all()


def test_timing_only_touches_no_memory():
    data = image(window([(0, 200)], parsec(thread(task(0, 0, 1000)))))
    r = run_image(data, timing_only=True)
    assert r.ok and r.board.allocated == 0


@pytest.mark.parametrize(
    "stride_a, stride_y, batched",
    [
        (100, 100, True),  # independent iterations
        (0, 100, True),  # shared input
        (100, 100 - 1, False),  # outputs overlap: program order decides
        (100, 0, False),  # every iteration writes the same place
    ],
)
def test_loop_effects_match_program_order(stride_a, stride_y, batched, monkeypatch):
    verdicts = []
    original = run_module._Effects.run_batched
    monkeypatch.setattr(
        run_module._Effects,
        "run_batched",
        lambda self, loop: verdicts.append(original(self, loop)) or verdicts[-1],
    )
    data = image(
        window(
            [(0, 200)], parsec(thread(loop(8, task(0, 0, 5000, strides=((stride_a, stride_y),)))))
        )
    )
    mem = np.random.default_rng(2).integers(0, 256, 65536, dtype=np.uint8)
    out = run_image(data, inputs={"mem": mem}).board.array("mem")
    expect = mem.copy()
    for i in range(8):
        a = expect[stride_a * i : stride_a * i + 100].copy()
        expect[5000 + stride_y * i : 5000 + stride_y * i + 100] = reference(a, 0, 0)
    assert (out == expect).all()
    assert verdicts == [batched]


def test_loop_chain_is_not_batched(run):
    # Iteration i reads what iteration i - 1 wrote: y[i] = f(y[i - 1]).
    data = image(
        window([(0, 200)], parsec(thread(loop(6, task(0, 0, 100, strides=((100, 100),))))))
    )
    mem = np.random.default_rng(3).integers(0, 256, 65536, dtype=np.uint8)
    out = run(data, inputs={"mem": mem})[0].board.array("mem")
    expect = mem.copy()
    for i in range(6):
        expect[100 * i + 100 : 100 * i + 200] = reference(
            expect[100 * i : 100 * i + 100].copy(), 0, 0
        )
    assert (out == expect).all()
