"""The engine-neutral conformance vectors (tests/conformance), on every engine: each
invalid one is refused with the manifest's error and the Python validator's byte
offset, each valid one runs; and every engine writes the reference interpreter's
trace and SYNC words for all of them, in both modes. A vector marked validate_only
(millions of operations to run) is validated only, by both validators."""

import json
from pathlib import Path

import pytest

from aci.engine import MODES, run_on
from aci.format import LIMITS
from tests.firmware.harness import ASAN, SIM, c_validate, make
from tests.firmware.harness import py_verdict as verdict

CONFORMANCE = Path(__file__).resolve().parent
MANIFEST = json.loads((CONFORMANCE / "manifest.json").read_text())
VECTORS = sorted(n for n, e in MANIFEST.items() if not e.get("validate_only"))
VALIDATE_ONLY = sorted(n for n, e in MANIFEST.items() if e.get("validate_only"))


@pytest.mark.parametrize("name", VECTORS)
def test_vector(engine, reference, name):
    data = (CONFORMANCE / name).read_bytes()
    expect = MANIFEST[name]
    for mode in MODES:
        events = []
        r = run_on(engine, data, mode, timing_only=True, trace=events.append)
        if expect["valid"]:
            assert r.error is None
        else:
            assert (r.error.name, r.error.code) == (
                expect["error"],
                expect["code"],
            ) and not r.error.runtime
            assert (r.error.code, r.error.offset) == verdict(data)
        if engine is not reference:
            expected = []
            ref = run_on(reference, data, mode, timing_only=True, trace=expected.append)
            assert events == expected
            assert r.sync == ref.sync and r.error == ref.error


@pytest.mark.parametrize("exe", [SIM, ASAN], ids=["host", "asan"])
@pytest.mark.parametrize("name", VALIDATE_ONLY)
def test_validate_only_vector(exe, name):
    make()
    data = (CONFORMANCE / name).read_bytes()
    got, operations = c_validate(exe, data)
    assert got is None and verdict(data) is None
    assert 1 <= operations <= LIMITS["max_operations"]


def test_operations_limit_is_exact():
    """Both validators accept max_operations operations and refuse one more; the
    firmware counts exactly that many for the vector at the limit."""
    make()
    at = (CONFORMANCE / "valid" / "limit_operations_at.acx").read_bytes()
    over = (CONFORMANCE / "invalid" / "limit_operations_over.acx").read_bytes()
    assert c_validate(SIM, at) == (None, LIMITS["max_operations"])
    assert verdict(at) is None
    assert c_validate(SIM, over)[0] == verdict(over) and verdict(over)[0] == 24
