"""Units and dimensions of compile-time quantities.

Every quantity is an exact rational in a canonical unit of its dimension: bytes,
nanoseconds, bits per second, hertz; a plain number has dimension ``count``. Decimal
numbers are allowed (``2.5 MB``) as long as the value that reaches a field is whole.
"""

from __future__ import annotations

from fractions import Fraction

COUNT, BYTES, TIME, RATE, FREQ = "count", "bytes", "time", "rate", "frequency"

# unit -> (dimension, factor to the canonical unit)
UNITS: dict[str, tuple[str, int]] = {
    "B": (BYTES, 1),
    "KB": (BYTES, 10**3),
    "MB": (BYTES, 10**6),
    "GB": (BYTES, 10**9),
    "KiB": (BYTES, 2**10),
    "MiB": (BYTES, 2**20),
    "GiB": (BYTES, 2**30),
    "ns": (TIME, 1),
    "us": (TIME, 10**3),
    "ms": (TIME, 10**6),
    "s": (TIME, 10**9),
    "b/s": (RATE, 1),
    "Kb/s": (RATE, 10**3),
    "Mb/s": (RATE, 10**6),
    "Gb/s": (RATE, 10**9),
    "B/s": (RATE, 8),
    "KB/s": (RATE, 8 * 10**3),
    "MB/s": (RATE, 8 * 10**6),
    "GB/s": (RATE, 8 * 10**9),
    "Hz": (FREQ, 1),
    "kHz": (FREQ, 10**3),
    "MHz": (FREQ, 10**6),
    "GHz": (FREQ, 10**9),
}

EXAMPLE = {
    COUNT: "a plain number",
    BYTES: "a size such as `2 MB`",
    TIME: "a time such as `50 us`",
    RATE: "a rate such as `400 MB/s`",
    FREQ: "a frequency such as `150 MHz`",
}


def quantity(value: Fraction, unit: str) -> tuple[Fraction, str]:
    dim, factor = UNITS[unit]
    return value * factor, dim


def multiply(a: str, b: str) -> str | None:
    """The dimension of a product, or None when it has no meaning here."""
    if a == COUNT:
        return b
    if b == COUNT:
        return a
    return None


def divide(a: str, b: str) -> str | None:
    """The dimension of a quotient: X / count = X, X / X = count."""
    if b == COUNT:
        return a
    if a == b:
        return COUNT
    return None


def number_value(text: str) -> Fraction:
    """The value of a number literal: decimal (with a fraction), 0x hex or 0b binary; `_` separates digits."""
    t = text.replace("_", "")
    if t[:2] in ("0x", "0X"):
        return Fraction(int(t[2:], 16))
    if t[:2] in ("0b", "0B"):
        return Fraction(int(t[2:], 2))
    return Fraction(t)
