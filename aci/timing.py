"""The timing model of docs/execution.md as small pure functions.

Every function takes a :class:`Timing` (the TARGET figures, defined here, below
every stage that uses them) and plain
integers and returns integer nanoseconds; divisions round up and are exact
(``muldiv_ceil`` works on Python integers, the C firmware on 128-bit ones). No
floats anywhere, so the Python engine, the scheduler and the firmware agree to the
nanosecond (``format_ns``, for people, is the one function that rounds). Nothing
here raises on the values a valid image can hold; a zero rate (which the validator
refuses) would raise ``ZeroDivisionError``.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import record

NS_PER_S = 10**9


@record.frozen
class Timing:
    """The timing parameters of docs/machine.md, in integer canonical units."""

    icap_bytes_per_s: int
    pr_overhead_ns: int
    dma_bytes_per_s: int
    clock_hz: int
    task_overhead_ns: int
    pf_write_ns: int
    link_bits_per_s: int
    link_latency_ns: int
    watchdog_ns: int = 0  # 0: no watchdog


def muldiv_ceil(a: int, b: int, c: int) -> int:
    """ceil(a * b / c), exactly (the C firmware does the same in 128 bits)."""
    return -(-(a * b) // c)


__all__ = [
    "NS_PER_S",
    "completion_ns",
    "compute_ns",
    "dma_ns",
    "format_ns",
    "image_transfer_ns",
    "muldiv_ceil",
    "param_write_ns",
    "port_bytes",
    "pr_ns",
    "task_ns",
]


def image_transfer_ns(t: Timing, image_bytes: int) -> int:
    """``t0``: sending an image of ``image_bytes`` over the host link, latency included."""
    return t.link_latency_ns + muldiv_ceil(image_bytes * 8, NS_PER_S, t.link_bits_per_s)


def pr_ns(t: Timing, bitstream_bytes: int) -> int:
    """Duration of one partial reconfiguration (it holds the ICAP for all of it)."""
    return t.pr_overhead_ns + muldiv_ceil(bitstream_bytes, NS_PER_S, t.icap_bytes_per_s)


def param_write_ns(t: Timing, param_words: int) -> int:
    """Writing a task's parameter block into its slot's PF, one 32-bit word at a time."""
    return param_words * t.pf_write_ns


def dma_ns(t: Timing, nbytes: int) -> int:
    """Moving ``nbytes`` through one slot's DMA channel."""
    return muldiv_ceil(nbytes, NS_PER_S, t.dma_bytes_per_s)


def compute_ns(t: Timing, cycles: int) -> int:
    """``cycles`` of the core clock."""
    return muldiv_ceil(cycles, NS_PER_S, t.clock_hz)


def port_bytes(lengths: Iterable[int], directions: Iterable[str]) -> tuple[int, int]:
    """(bytes read, bytes written) by a task: its port lengths summed by direction."""
    read = written = 0
    for length, direction in zip(lengths, directions, strict=True):
        if direction == "out":
            written += length
        else:
            read += length
    return read, written


def task_ns(t: Timing, param_words: int, cycles: int, in_bytes: int, out_bytes: int) -> int:
    """Duration of one task: the fixed overhead and the PF writes, then input DMA,
    computation and output DMA overlapped (the longest of the three counts)."""
    return (
        t.task_overhead_ns
        + param_write_ns(t, param_words)
        + max(dma_ns(t, in_bytes), compute_ns(t, cycles), dma_ns(t, out_bytes))
    )


def completion_ns(t: Timing) -> int:
    """From the end of the last operation until the host sees completion."""
    return t.link_latency_ns


def format_ns(ns: int) -> str:
    """A time for people (not for traces): 950 ns, 9.514 us, 2.901 ms, 899.505 s."""
    for unit, scale in (("s", NS_PER_S), ("ms", 10**6), ("us", 10**3)):
        if abs(ns) >= scale:
            return f"{ns / scale:.3f} {unit}"
    return f"{ns} ns"
