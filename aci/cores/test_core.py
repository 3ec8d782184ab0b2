"""The deterministic test core ``TEST`` (id 200) of docs/execution.md.

Ports ``in a : u8[n]`` and ``out y : u8[n]``, parameters ``n`` and ``salt``. The core
reads all of ``a``, then writes ``y[k] = (5 * a[k] + salt + 3 * slot + k) mod 256``.
Because the slot takes part, a test can tell from memory alone which slot ran a task.

``compute(params, inputs, slot)`` takes ``inputs["a"]`` as a ``uint8`` array of shape
``(N, n)`` (N independent invocations, or 1) and returns ``{"y": (N, n) uint8}``.
``port_lengths(params)`` gives the bytes of ``a`` and ``y``; both raise ``ValueError``
for parameters or inputs the core does not accept.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

NAME = "TEST"
ID = 200
PORTS = (("a", "in"), ("y", "out"))
PARAMS = ("n", "salt")


def port_lengths(params: Mapping[str, int]) -> tuple[int, int]:
    """Bytes of ports ``a`` and ``y`` for these parameters."""
    n = params["n"]
    if n < 1:
        raise ValueError(f"TEST: n must be >= 1, got {n}")
    return n, n


def compute(
    params: Mapping[str, int], inputs: Mapping[str, np.ndarray], slot: int
) -> dict[str, np.ndarray]:
    n = port_lengths(params)[0]
    a = inputs["a"]
    if a.dtype != np.uint8 or a.ndim != 2 or a.shape[1] != n:
        raise ValueError(
            f"TEST: input `a` must be uint8 of shape (N, {n}), got {a.dtype} {a.shape}"
        )
    # Sums stay below 5*255 + 65535 + 3*15 + 2^20, far inside int64; the mod is exact.
    offset = (params["salt"] + 3 * slot + np.arange(n, dtype=np.int64)) % 256
    y = (5 * a.astype(np.int64) + offset) % 256
    return {"y": y.astype(np.uint8)}
