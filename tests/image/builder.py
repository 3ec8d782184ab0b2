"""Hand-built images for the engine tests (the interpreter's, the firmware's), with
round timing figures: aci.image values, encoded by aci.encode.

Every rate is 1 byte (or 8 bits) per ns and the clock 1 GHz, so durations are easy
to add up by hand:

* t0 = 1000 (link latency) + image bytes;
* a PR of TEST (1000-byte bitstream) = 100 + 1000 = 1100 ns, of OTHER (2000 bytes) 2100 ns;
* a TEST task with n = 100 (ports of 100 bytes) and ``cycles`` = 10 + 2 + max(100, cycles);
* completion = t + 1000.
"""

from __future__ import annotations

from pathlib import Path

from aci import record
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

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = ROOT / "programs"

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
OTHER = CoreInfo(7, "OTHER", ("in", "out"), 2, 2000, 0xE0000)  # a core without a model
PR_TEST, PR_OTHER = 1100, 2100
LATENCY = 1000


def task_ns(cycles: int = 0, n: int = 100) -> int:
    return 10 + 2 + max(n, cycles)


def task(
    slot: int,
    a: int,
    y: int,
    n: int = 100,
    cycles: int = 0,
    core: int = 200,
    waits=(),
    strides=(),
    params: int = 0,
) -> Task:
    """A TEST-shaped task reading n bytes at ``a`` and writing n bytes at ``y``;
    ``strides`` gives (stride of a, stride of y) per enclosing counted level."""
    sa = tuple(s[0] for s in strides)
    sy = tuple(s[1] for s in strides)
    return Task(
        slot,
        core,
        (Port(a, n, sa), Port(y, n, sy)),
        params,
        2,
        cycles,
        tuple(Wait(s, lag) for s, lag in waits),
    )


def thread(*body) -> Thread:
    return Thread(tuple(body))


def parsec(*threads) -> Parsec:
    return Parsec(tuple(threads))


def window(reconfs=(), *parsecs) -> Window:
    return Window(tuple(Reconf(s, c) for s, c in reconfs), tuple(parsecs))


def loop(count: int, *body) -> Loop:
    return Loop(count, tuple(body))


def repeat(count: int, *windows) -> Repeat:
    return Repeat(count, tuple(windows))


# One u8 buffer over the first 64 KiB, so tests can load and read memory by name.
MEM = BufferSymbol("mem", "u8", "scratch", (65536,), 0, 0, 65536)


def image(
    *body,
    params=(100, 0),
    dataflow: bool = False,
    watchdog: int = 0,
    slots: int = 4,
    cores=(TEST, OTHER),
    symbols: bool = True,
) -> bytes:
    """The bytes of an image with the round target above."""
    target = TargetInfo(slots, record.evolve(TIMING, watchdog_ns=watchdog), (MEMORY,))
    return encode(
        Image(
            target,
            tuple(cores),
            tuple(params),
            tuple(body),
            dataflow,
            Symbols((MEM,)) if symbols else None,
        )
    )


def t0(data: bytes) -> int:
    return LATENCY + len(data)
