"""Random instruction-level programs, run by the firmware and by the Python
interpreter: byte-identical traces, equal SYNC words and equal final memory.

Hypothesis builds images as aci.image values (random hierarchies of repeats,
windows, reconfigurations, parsecs, threads over one or two slots, nested loops
with strides, TEST-core tasks with random waits, random timing figures, sometimes
a watchdog, a core without a model, a wrong core or parameters the model refuses)
and encodes them with aci.encode. Memory stays race-free by construction, so both
interpreters must agree on it whatever order they apply effects in: every slot
reads the shared input or its own area and writes only its own area (a slot runs
its operations in program order in both).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from aci.encode import encode
from aci.image import (
    BufferSymbol,
    CoreInfo,
    Image,
    Loop,
    MemoryInfo,
    Parsec,
    Port,
    Reconf,
    Repeat,
    Symbols,
    TargetInfo,
    Task,
    Thread,
    Wait,
    Window,
)
from aci.timing import Timing

from .harness import ASAN, SIM, c_run, extents, first_difference, py_run

TEST = CoreInfo(200, "TEST", ("in", "out"), 2, 4096, 0xF0000)
TEST2 = CoreInfo(
    201, 'TE"ST\\2', ("in", "out"), 2, 8192, 0xF8000
)  # no model; a name JSON must escape
AREA = 0x10000  # the shared input, then one area per slot
INPUT = BufferSymbol("input", "u8", "input", (AREA,), 0, 0, AREA)


@st.composite
def timings(draw):
    return Timing(
        icap_bytes_per_s=draw(st.sampled_from([10**8, 10**9, 3 * 10**9])),
        pr_overhead_ns=draw(st.sampled_from([0, 50, 1000])),
        dma_bytes_per_s=draw(st.sampled_from([10**8, 10**9, 7 * 10**8])),
        clock_hz=draw(st.sampled_from([10**8, 10**9, 333_333_333])),
        task_overhead_ns=draw(st.sampled_from([0, 10, 2000])),
        pf_write_ns=draw(st.sampled_from([0, 1, 10])),
        link_bits_per_s=draw(st.sampled_from([8 * 10**9, 10**10])),
        link_latency_ns=draw(st.sampled_from([0, 1000, 20_000])),
        watchdog_ns=draw(st.sampled_from([0] * 6 + [500, 5000] * 2)),
    )


@st.composite
def programs(draw):
    slots = draw(st.integers(1, 5))
    params: list[int] = []

    def task(slot_choices, levels):
        slot = draw(st.sampled_from(slot_choices))
        core = draw(st.sampled_from([200] * 18 + [201, 201]))
        n = draw(st.integers(1, 64))
        own = AREA * (slot + 1) + 0x8000
        a = draw(st.sampled_from([0x8000, own])) + 16 * draw(st.integers(0, 64))
        y = own + 16 * draw(st.integers(0, 64))
        stride = st.sampled_from([0, n, -n, 256, -256, 64])
        ports = (
            Port(a, n, tuple(draw(stride) for _ in levels)),
            Port(y, n, tuple(draw(stride) for _ in levels)),
        )
        words = [n if draw(st.integers(0, 30)) else n + 1, draw(st.integers(0, 2**16 - 1))]
        params.extend(words)
        waits = tuple(
            Wait(draw(st.integers(0, slots - 1)), draw(st.integers(0, 4)))
            for _ in range(draw(st.integers(0, 3)))
        )
        return Task(slot, core, ports, len(params) - 2, 2, draw(st.integers(0, 5000)), waits)

    def body(slot_choices, levels, depth):
        items = []
        for _ in range(draw(st.integers(1, 3))):
            if depth < 3 and draw(st.integers(0, 2)) == 0:
                count = draw(st.integers(1, 3))
                items.append(Loop(count, tuple(body(slot_choices, levels + (count,), depth + 1))))
            else:
                items.append(task(slot_choices, levels))
        return items

    def window(levels):
        reconfs = tuple(
            Reconf(draw(st.integers(0, slots - 1)), draw(st.sampled_from([200] * 5 + [201])))
            for _ in range(draw(st.integers(0, slots)))
        )
        parsecs = []
        for _ in range(draw(st.integers(0, 2))):
            free = draw(st.permutations(range(slots)))
            threads = []
            while free and draw(st.integers(0, 3)):
                take = min(len(free), draw(st.integers(1, 2)))  # a thread may use two slots
                mine, free = list(free[:take]), free[take:]
                threads.append(Thread(tuple(body(mine, levels, 0))))
            parsecs.append(Parsec(tuple(threads)))
        return Window(reconfs, tuple(parsecs))

    top = []
    if draw(st.integers(0, 4)):  # usually: every slot gets TEST first
        top.append(Window(tuple(Reconf(s, 200) for s in range(slots)), ()))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            count = draw(st.integers(1, 3))
            top.append(
                Repeat(count, tuple(window((count,)) for _ in range(draw(st.integers(1, 2)))))
            )
        else:
            top.append(window(()))
    memory = MemoryInfo("ddr", 0, 1 << 20)
    target = TargetInfo(slots, draw(timings()), (memory,))
    img = Image(
        target,
        (TEST, TEST2),
        tuple(params),
        tuple(top),
        draw(st.booleans()),
        Symbols((INPUT,), ("r.aci",)),
    )
    initial = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(
        0, 256, AREA, dtype=np.uint8
    )
    return encode(img), initial.tobytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_program(program):
    data, initial = program
    ranges = extents(data)
    for mode in ("strict", "dataflow"):
        py = py_run(data, mode, {"input": initial}, False, ranges)
        for exe in (SIM, ASAN):
            c = c_run(exe, data, mode, {"input": initial}, False, ranges)
            assert c.error == py.error
            assert c.trace == py.trace, first_difference(py.trace, c.trace)
            assert c.sync == py.sync
            assert c.memory == py.memory


@pytest.mark.filterwarnings(
    "ignore::hypothesis.errors.HypothesisWarning"
)  # find() reprs what it found
@pytest.mark.parametrize("outcome", [None, 40, 41, 42])
def test_generator_reaches_the_corners(outcome):
    """The strategy makes runs that complete and runs that stop on each run-time error.
    Each outcome is searched for on its own (``find`` stops at the first hit), so the
    test does not hang on how often a fixed number of draws happens to hit it."""

    def ends_so(program) -> bool:
        r = py_run(program[0], "strict", {"input": program[1]})
        return (None if r.error is None else r.error[0]) == outcome

    find(
        programs(),
        ends_so,
        settings=settings(
            max_examples=2000, database=None, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
