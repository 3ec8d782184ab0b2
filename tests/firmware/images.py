"""Small hand-built images for the firmware tests (aci.image values, encoded by
aci.encode), with round timing figures: every rate is one byte (or 8 bits) per ns
and the clock 1 GHz, so a TEST task of n bytes takes 10 + 2 + max(n, cycles) ns."""

from __future__ import annotations

import attrs

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

TIMING = Timing(
    icap_bytes_per_s=10**9,
    pr_overhead_ns=100,
    dma_bytes_per_s=10**9,
    clock_hz=10**9,
    task_overhead_ns=10,
    pf_write_ns=1,
    link_bits_per_s=8 * 10**9,
    link_latency_ns=1000,
    watchdog_ns=0,
)
MEMORY = MemoryInfo("ddr", 0, 1 << 20)
TEST = CoreInfo(200, "TEST", ("in", "out"), 2, 1000, 0xF0000)
TEST2 = CoreInfo(
    201, "TEST2", ("in", "out"), 2, 1500, 0xF8000
)  # same shape, but no model: no_model
MEM = BufferSymbol("mem", "u8", "scratch", (65536,), 0, 0, 65536)


def task(slot, a, y, n=100, cycles=0, core=200, waits=(), strides=(), params=0) -> Task:
    """A TEST-shaped task reading n bytes at a and writing n bytes at y; strides:
    (stride of a, stride of y) per enclosing counted level."""
    return Task(
        slot,
        core,
        (Port(a, n, tuple(s[0] for s in strides)), Port(y, n, tuple(s[1] for s in strides))),
        params,
        2,
        cycles,
        tuple(Wait(s, lag) for s, lag in waits),
    )


def window(reconfs=(), *parsecs) -> Window:
    return Window(tuple(Reconf(s, c) for s, c in reconfs), tuple(parsecs))


def parsec(*threads) -> Parsec:
    return Parsec(tuple(Thread(tuple(t)) for t in threads))


def loop(count, *body) -> Loop:
    return Loop(count, tuple(body))


def repeat(count, *windows) -> Repeat:
    return Repeat(count, tuple(windows))


def image(
    *body, params=(100, 0), dataflow=False, watchdog=0, slots=4, cores=(TEST, TEST2), timing=TIMING
) -> bytes:
    target = TargetInfo(slots, attrs.evolve(timing, watchdog_ns=watchdog), (MEMORY,))
    return encode(
        Image(target, tuple(cores), tuple(params), tuple(body), dataflow, Symbols((MEM,)))
    )
