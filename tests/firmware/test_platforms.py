"""The firmware on other machines: the aarch64 build under qemu-aarch64 (the
conformance vectors and the BNN, against Python), and the Cortex-R5 build of the
core alone, which must link against nothing but hal.h."""

import re
import subprocess

import numpy as np
import pytest

from aci.cores import bnndata
from aci.decode import decode
from aci.pipeline import compile_file

from .harness import (
    CONFORMANCE,
    CROSS,
    FIRMWARE,
    MANIFEST,
    ROOT,
    VECTORS,
    c_run,
    c_validate,
    first_difference,
    make,
    py_run,
    py_verdict,
)

QEMU = ("qemu-aarch64",)


@pytest.fixture(scope="module")
def cross():
    make("cross")
    return CROSS


def test_conformance_on_aarch64(cross):
    for name in VECTORS:
        data = (CONFORMANCE / name).read_bytes()
        if MANIFEST[name].get("validate_only"):
            assert c_validate(cross, data, prefix=QEMU)[0] is None and py_verdict(data) is None, (
                name
            )
            continue
        c = c_run(cross, data, timing_only=True, prefix=QEMU)
        assert c.error == py_verdict(data), name
        if MANIFEST[name]["valid"]:
            py = py_run(data, timing_only=True)
            assert c.trace == py.trace, first_difference(py.trace, c.trace)


@pytest.mark.parametrize("program", ["bnn_static", "bnn_pr"])
def test_bnn_on_aarch64(cross, program):
    data = compile_file(
        str(ROOT / "programs" / f"{program}.aci"), {"IMAGES": "4", "BATCH": "4"}, mode="dataflow"
    ).data
    gen = bnndata.generate(5, 4)
    names = {b.name: (b.address, b.size) for b in decode(data).symbols.buffers}
    inputs = {k: np.ascontiguousarray(v).tobytes() for k, v in gen.items()}
    c = c_run(cross, data, inputs=inputs, ranges=[names["scores"]], prefix=QEMU)
    py = py_run(data, inputs=inputs)
    assert c.trace == py.trace, first_difference(py.trace, c.trace)
    scores = np.frombuffer(c.memory[names["scores"]], "<i4").reshape(-1, 10)
    assert (scores == bnndata.forward(gen)).all()


def test_r5_core_needs_only_the_hal():
    r = subprocess.run(["make", "-C", str(FIRMWARE), "-s", "r5"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    undefined = re.search(r"undefined symbols: (.*)", r.stdout).group(1).split()
    assert undefined and all(s.startswith("hal_") for s in undefined)
    text = int(re.search(r"^\s*(\d+)\s+(\d+)\s+(\d+)", r.stdout, re.M).group(1))
    assert text < 32 * 1024  # code for a board's TCM
