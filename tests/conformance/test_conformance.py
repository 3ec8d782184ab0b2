"""The engine-neutral conformance vectors (tests/conformance), on every engine: each
invalid one is refused with the manifest's error and the Python validator's byte
offset, each valid one runs; and every engine writes the reference interpreter's
trace and SYNC words for all of them, in both modes."""

import json
from pathlib import Path

import pytest

from aci.decode import ImageError, decode
from aci.engine import MODES, run_on

CONFORMANCE = Path(__file__).resolve().parent
MANIFEST = json.loads((CONFORMANCE / "manifest.json").read_text())
VECTORS = sorted(MANIFEST)


def verdict(data: bytes) -> tuple[int, int] | None:
    """The Python validator's verdict: None, or (code, offset)."""
    try:
        decode(data)
    except ImageError as e:
        return e.code, e.offset
    return None


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
            assert (r.error.name, r.error.code) == (expect["error"], expect["code"]) and not r.error.runtime
            assert (r.error.code, r.error.offset) == verdict(data)
        if engine is not reference:
            expected = []
            ref = run_on(reference, data, mode, timing_only=True, trace=expected.append)
            assert events == expected
            assert r.sync == ref.sync and r.error == ref.error
