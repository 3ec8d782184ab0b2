"""Inputs that once broke the firmware (tests/regression/, see its README; `make
fuzz` and `make test` put new crashing inputs there): the ASan build must give the
Python validator's verdict on each and run the valid ones without a report, and the
fuzz harness itself must get through each of them and every conformance vector."""

import subprocess

from .harness import ASAN, BUILD, CONFORMANCE, ROOT, c_run, make, py_verdict

REGRESSION = ROOT / "tests" / "regression"
FUZZ = BUILD / "acifw-fuzz"


def regression_inputs():
    return sorted(p for p in REGRESSION.glob("*") if p.name != "README.md")


def test_regression_inputs():
    for path in regression_inputs():
        data = path.read_bytes()
        c = c_run(ASAN, data, timing_only=True)
        assert c.error is None or c.error[0] >= 40 or c.error == py_verdict(data), path.name
        assert c.returncode in (0, 1), path.name


def test_fuzz_harness_replays_inputs():
    """libFuzzer given files runs each once: what `make fuzz` would have run first."""
    make("fuzz-build")
    inputs = regression_inputs() + sorted(CONFORMANCE.glob("*/*.acx"))
    assert len(inputs) >= 90
    p = subprocess.run([str(FUZZ), *map(str, inputs)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stderr.count("Running: ") == len(inputs)
