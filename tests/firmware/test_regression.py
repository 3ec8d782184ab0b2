"""Inputs that once broke the firmware (tests/regression/, named after the bug;
`make -C firmware fuzz` puts new crashing inputs there): the ASan build must give
the Python validator's verdict on each, and run the valid ones without a report."""

from .harness import ASAN, ROOT, c_run, py_verdict

REGRESSION = ROOT / "tests" / "regression"


def test_regression_inputs():
    for path in sorted(REGRESSION.glob("*")) if REGRESSION.is_dir() else []:
        data = path.read_bytes()
        c = c_run(ASAN, data, timing_only=True)
        assert c.error is None or c.error[0] >= 40 or c.error == py_verdict(data), path.name
        assert c.returncode in (0, 1), path.name
