"""The Python model of the example core MIX (programs/examples/custom_core.aci):
``y[i] = (k * a[i] + b[i] + i) mod 256``. Load it with ``acic run --models`` this
file, or ``aci.testing.run_program(..., models=[this file])``; docs/models.md."""

import numpy as np

from aci.models import core


def lengths(params):
    n = params["n"]
    if n < 1:
        raise ValueError(f"MIX: n must be at least 1, got {n}")
    return n, n, n


@core("MIX", ports={"a": "in", "b": "in", "y": "out"}, params=("n", "k"), lengths=lengths)
def mix(params, inputs, slot):
    # inputs: uint8 arrays (N invocations, n bytes), or (1, n) for a port all share.
    n, k = params["n"], params["k"]
    y = k * inputs["a"].astype(np.int64) + inputs["b"] + np.arange(n)
    return {"y": (y % 256).astype(np.uint8)}
