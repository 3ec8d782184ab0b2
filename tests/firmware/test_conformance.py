"""The engine-neutral conformance vectors (tests/conformance): the firmware refuses
every invalid one with the Python validator's code and byte offset (and the
manifest's code), accepts every valid one, and writes the same trace and SYNC
words as the Python interpreter for all of them. Run on the host build and on the
ASan+UBSan build (which also uses the portable, no-__int128 arithmetic)."""

import pytest

from .harness import ASAN, CONFORMANCE, MANIFEST, SIM, VECTORS, c_run, first_difference, py_run, py_verdict


@pytest.mark.parametrize("exe", [SIM, ASAN], ids=["host", "asan"])
@pytest.mark.parametrize("name", VECTORS)
def test_vector(exe, name):
    data = (CONFORMANCE / name).read_bytes()
    expect = MANIFEST[name]
    c = c_run(exe, data, timing_only=True)
    assert c.error == py_verdict(data)
    if expect["valid"]:
        assert c.error is None and c.returncode == 0
    else:
        assert c.error[0] == expect["code"] and c.returncode == 1
        assert f"{expect['error']} (code {expect['code']}) at offset {c.error[1]}" in c.stderr
    for mode in ("strict", "dataflow"):
        c = c_run(exe, data, mode=mode, timing_only=True)
        py = py_run(data, mode=mode, timing_only=True)
        assert c.trace == py.trace, first_difference(py.trace, c.trace)
        assert c.sync == py.sync
