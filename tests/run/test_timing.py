"""The timing model, by hand: the formulas of docs/execution.md on small programs."""

from __future__ import annotations

import pytest

from aci import record, timing
from aci.pipeline import compile_file
from aci.run import run_image
from aci.timing import Timing

from ..image.builder import PROGRAMS


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


T = Timing(
    icap_bytes_per_s=357_000_000,
    pr_overhead_ns=50_000,
    dma_bytes_per_s=1_200_000_000,
    clock_hz=150_000_000,
    task_overhead_ns=2_000,
    pf_write_ns=10,
    link_bits_per_s=10**10,
    link_latency_ns=20_000,
)


def test_formulas():
    assert timing.image_transfer_ns(T, 868) == 20_000 + 695  # 868 * 8 / 10 = 694.4, rounded up
    assert timing.pr_ns(T, 1_000_000) == 50_000 + 2_801_121  # 10^15 / 357e6 = 2801120.45
    assert timing.param_write_ns(T, 3) == 30
    assert timing.dma_ns(T, 4096) == 3414  # 3413.33
    assert timing.dma_ns(T, 0) == 0
    assert timing.compute_ns(T, 1124) == 7494  # 7493.33
    assert timing.port_bytes([10, 20, 30], ["in", "out", "in"]) == (40, 20)
    # overhead + 2 words + the longest of dma in, compute, dma out
    assert timing.task_ns(T, 2, 1124, 4096, 4096) == 2_000 + 20 + 7494
    assert timing.task_ns(T, 0, 0, 12_000, 1) == 2_000 + 10_000
    assert timing.completion_ns(T) == 20_000


def test_exact_ceiling_with_huge_numbers():
    # No float rounding: a product far beyond 2^53 still divides exactly.
    t = record.evolve(T, icap_bytes_per_s=3, pr_overhead_ns=0)
    assert timing.pr_ns(t, 2**60 + 1) == ceil_div((2**60 + 1) * 10**9, 3)
    assert timing.pr_ns(t, 2**60 + 1) != int((2**60 + 1) * 10**9 / 3)


@pytest.mark.parametrize(
    "ns, text",
    [(950, "950 ns"), (9514, "9.514 us"), (2_901_330, "2.901 ms"), (899_505_464_250, "899.505 s")],
)
def test_format_ns(ns, text):
    assert timing.format_ns(ns) == text


def durations(c):
    """PR of TEST and the figures of the image's own target."""
    tm = c.image.target.timing
    core = c.image.cores[0]
    pr = tm.pr_overhead_ns + ceil_div(core.bitstream_size * 10**9, tm.icap_bytes_per_s)
    t0 = tm.link_latency_ns + ceil_div(len(c.data) * 8 * 10**9, tm.link_bits_per_s)
    return tm, pr, t0


def test_task(tm, n: int, cycles: int) -> int:
    """TEST task: 2 parameter words, n bytes in, n bytes out."""
    dma = ceil_div(n * 10**9, tm.dma_bytes_per_s)
    return (
        tm.task_overhead_ns
        + 2 * tm.pf_write_ns
        + max(dma, ceil_div(cycles * 10**9, tm.clock_hz), dma)
    )


test_task.__test__ = False  # a helper, not a test


def test_hello():
    c = compile_file(str(PROGRAMS / "examples/hello.aci"))
    tm, pr, t0 = durations(c)
    r = run_image(c.data)
    # One PR, then one task (n = 4096, cycles n/4 + 100), then completion.
    assert r.t0 == t0
    assert r.total_ns == t0 + pr + test_task(tm, 4096, 4096 // 4 + 100) + tm.link_latency_ns
    assert (r.pr_count, r.pr_ns, r.tasks) == (1, pr, 1)


def test_pipeline_strict():
    c = compile_file(str(PROGRAMS / "examples/pipeline.aci"))
    tm, pr, t0 = durations(c)
    r = run_image(c.data)
    # Two PRs through the one ICAP, then the thread's 8 tasks one after another.
    task = test_task(tm, 65536, 65536 // 4 + 100)
    assert r.total_ns == t0 + 2 * pr + 8 * task + tm.link_latency_ns
    assert r.slots[0].busy_ns == r.slots[1].busy_ns == 4 * task
    assert r.slots[0].reconfiguring_ns == pr
    assert r.slots[0].idle_ns == (2 * pr + 8 * task) - 4 * task - pr


def test_parallel_repeat():
    c = compile_file(str(PROGRAMS / "examples/parallel.aci"))
    tm, pr, t0 = durations(c)
    r = run_image(c.data)
    # Four PRs in the first batch only (later RECONFs are skipped: the slots hold
    # TEST), then three windows of four tasks in parallel.
    task = test_task(tm, 16384, 16384 // 4 + 100)
    assert r.pr_count == 4
    assert r.total_ns == t0 + 4 * pr + 3 * task + tm.link_latency_ns
    assert r.operations == 3 * (4 + 4)
    assert [s.operations for s in r.slots] == [6, 6, 6, 6]


def write_program(tmp_path, body: str, buffers: str) -> str:
    src = (
        f'import "{PROGRAMS / "targets/zcu102.aci"}"\n'
        f'import "{PROGRAMS / "cores/test.aci"}"\n{buffers}\nprogram p on zcu102 {{\n{body}\n}}\n'
    )
    path = tmp_path / "p.aci"
    path.write_text(src)
    return str(path)


def test_two_tasks_one_thread(tmp_path):
    path = write_program(
        tmp_path,
        """
        window { parsec { thread {
            task TEST(a: a, y: b, n: 1000, salt: 3)
            task TEST(a: b, y: c, n: 1000, salt: 4)
        } } }""",
        "input buffer a : u8[1000] in ddr\nbuffer b : u8[1000] in ddr\noutput buffer c : u8[1000] in ddr",
    )
    c = compile_file(path)
    tm, pr, t0 = durations(c)
    r = run_image(c.data)
    assert r.total_ns == t0 + pr + 2 * test_task(tm, 1000, 1000 // 4 + 100) + tm.link_latency_ns


def test_two_windows_two_slots(tmp_path):
    # Strict: the second window begins when the first has finished, so its PR does
    # not overlap the first window's task; dataflow prefetches it.
    path = write_program(
        tmp_path,
        """
        window { parsec { thread on slot 0 { task TEST(a: a, y: b, n: 100000, salt: 1) } } }
        window { reconfigure slot 1 <- TEST
                 parsec { thread on slot 1 { task TEST(a: d, y: c, n: 1000, salt: 2) } } }""",
        "input buffer a : u8[100000] in ddr\noutput buffer b : u8[100000] in ddr\n"
        "input buffer d : u8[1000] in ddr\noutput buffer c : u8[1000] in ddr",
    )
    c = compile_file(path)
    tm, pr, t0 = durations(c)
    big, small = test_task(tm, 100000, 100000 // 4 + 100), test_task(tm, 1000, 1000 // 4 + 100)
    strict = run_image(c.data, "strict")
    assert strict.total_ns == t0 + pr + big + pr + small + tm.link_latency_ns
    d = compile_file(path, mode="dataflow")
    flow = run_image(d.data)
    assert flow.mode == "dataflow"
    # PR 0, then PR 1 while slot 0 computes; the small task needs no data of the big one.
    assert flow.total_ns == t0 + pr + max(big, pr + small) + tm.link_latency_ns
    assert flow.total_ns < strict.total_ns
