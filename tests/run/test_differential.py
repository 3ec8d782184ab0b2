"""Differential tests: every engine runs images exactly as the reference interpreter
does. For every program in programs/ (compiled in each mode, run in each mode) the
traces are byte-identical, the SYNC words equal, and the final contents of every
SYMBOLS buffer the same; the BNN computes the reference scores on every engine;
run-time errors stop the run at the same instant with the same trace."""

import re

import numpy as np
import pytest

from aci.cores import bnndata
from aci.decode import decode
from aci.engine import MODES, run_on
from aci.pipeline import compile_file
from aci.trace import dumps
from tests.firmware.harness import ROOT, extents, first_difference
from tests.image import builder as I

# Every shipped single-board program (a file with a system compiles to a bundle:
# tests/system/test_language.py)
PROGRAMS = sorted(
    p
    for p in (ROOT / "programs").rglob("*.aci")
    if re.search(r"^program ", p.read_text(), re.M)
    and not re.search(r"^system ", p.read_text(), re.M)
)
SEED = 20240611
IMAGES = 4


def compiled(path, mode) -> bytes:
    defines = {"IMAGES": str(IMAGES), "BATCH": "2"} if "bnn" in path.name else None
    return compile_file(str(path), defines, mode=mode).data


def inputs_for(data: bytes) -> dict[str, bytes]:
    """Initial contents of every input buffer: the BNN's generated data, random bytes otherwise."""
    img = decode(data)
    names = {b.name: b for b in img.symbols.buffers if b.role == "input"}
    if "w0" in names:
        gen = bnndata.generate(SEED, IMAGES)
        return {k: np.ascontiguousarray(v).tobytes() for k, v in gen.items() if k in names}
    rng = np.random.default_rng(7)
    return {k: rng.integers(0, 256, b.size, dtype=np.uint8).tobytes() for k, b in names.items()}


def outcome(engine, data, mode, inputs=None, timing_only=False, outputs=(), ranges=()):
    """What a run leaves: its result, its canonical trace text, the named buffers
    (through ``get``) and raw memory ranges."""
    lines = []
    r = run_on(
        engine,
        data,
        mode,
        inputs,
        outputs,
        timing_only,
        trace=lambda e: lines.append(dumps(e) + "\n"),
    )
    buffers = {name: engine.get(name).tobytes() for name in outputs} if r.ok else {}
    memory = {(a, n): r.board.read(a, n) for a, n in ranges} if r.ok else {}
    return r, "".join(lines), buffers, memory


def figures(r) -> dict:
    """A result as JSON: the error's words included (aci.format.MESSAGES, filled
    with the same numbers by every engine)."""
    return r.to_json()


def assert_same(got, ref):
    r, trace, buffers, memory = got
    rr, rtrace, rbuffers, rmemory = ref
    assert figures(r) == figures(rr)
    assert trace == rtrace, first_difference(rtrace, trace)
    assert r.sync == rr.sync
    assert buffers == rbuffers and memory == rmemory


@pytest.mark.parametrize("run_mode", MODES)
@pytest.mark.parametrize("compile_mode", MODES)
@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.stem)
def test_program(other_engine, reference, path, compile_mode, run_mode):
    data = compiled(path, compile_mode)
    # An image compiled for strict mode carries no WAITs: run in dataflow mode, its
    # tasks race, and memory depends on the order effects are applied in (the
    # firmware: start order, as docs/execution.md says). Only its timing is compared.
    racy = compile_mode == "strict" and run_mode == "dataflow"
    for timing_only in (True, False):
        inputs = None if timing_only else inputs_for(data)
        outputs = () if timing_only or racy else [b.name for b in decode(data).symbols.buffers]
        ref = outcome(reference, data, run_mode, inputs, timing_only, outputs)
        assert ref[0].error is None
        assert_same(outcome(other_engine, data, run_mode, inputs, timing_only, outputs), ref)


@pytest.mark.parametrize("path", [p for p in PROGRAMS if "bnn" in p.name], ids=lambda p: p.stem)
def test_bnn_scores(engine, path):
    data = compiled(path, "dataflow")
    expect = bnndata.forward(bnndata.generate(SEED, IMAGES))
    r = run_on(engine, data, inputs=inputs_for(data), outputs=["scores"])
    assert r.ok and (engine.get("scores").reshape(-1, 10) == expect).all()


# ---- run-time errors and other corners, built by hand ------------------------------

A, B = 0x1000, 0x8000
OTHER = I.OTHER.id  # a core without a model
CASES = {
    # the slot holds no core
    "wrong_core_none": I.image(I.window((), I.parsec(I.thread(I.task(0, A, B))))),
    # the slot holds another core, while another slot computes a long task
    "wrong_core_other": I.image(
        I.window(
            [(0, 200), (1, OTHER)],
            I.parsec(I.thread(I.task(0, A, B, cycles=5000)), I.thread(I.task(1, A, B + 0x400))),
        )
    ),
    # the watchdog's time lies after running operations end: their end events come first
    "watchdog_ahead": I.image(
        I.window(
            [(0, 200), (1, 200)],
            I.parsec(
                I.thread(I.task(0, A, B, cycles=300)), I.thread(I.task(1, A, B + 0x400, cycles=900))
            ),
        ),
        watchdog=500,
    ),
    # no model for the core (a functional run only)
    "no_model": I.image(I.window([(0, OTHER)], I.parsec(I.thread(I.task(0, A, B, core=OTHER))))),
    # the parameters do not fit the model (n != port length)
    "model_mismatch": I.image(
        I.window([(0, 200)], I.parsec(I.thread(I.task(0, A, B)))), params=(99, 0)
    ),
    # skipped reconfigurations, repeated windows, windows without operations
    "skips_and_empty": I.image(
        I.repeat(
            3,
            I.window([(0, 200), (1, 200)], I.parsec(I.thread(I.task(0, A, B, strides=[(0, 0)])))),
            I.window(),
            I.window([(1, 200)]),
        ),
        I.window(),
    ),
    # a window of skipped reconfigurations only, then a dataflow wait on it
    "only_skips": I.image(
        I.window([(0, 200)]),
        I.window([(0, 200)]),
        I.window((), I.parsec(I.thread(I.task(0, A, B, waits=[(0, 0), (1, 0)])))),
        dataflow=True,
    ),
    # a thread over two slots, loops with strides, waits with lags
    "thread_two_slots": I.image(
        I.window(
            [(0, 200), (2, 200)],
            I.parsec(
                I.thread(
                    I.loop(
                        3,
                        I.task(0, A, B, strides=[(0, 256)]),
                        I.task(2, B, B + 0x2000, strides=[(256, 256)], waits=[(0, 0)]),
                    )
                ),
                I.thread(I.task(1, A, 0x20000)),
            ),
            I.parsec(I.thread(I.task(0, 0x20000, 0x30000, waits=[(2, 1), (1, 0)]))),
        ),
        params=(100, 7),
    ),
    # the ICAP serves ready reconfigurations in program order, across windows (dataflow prefetch)
    "icap_order": I.image(
        I.window(
            [(0, 200), (1, OTHER), (2, 200)], I.parsec(I.thread(I.task(0, A, B, cycles=4000)))
        ),
        I.window([(0, OTHER), (3, 200)], I.parsec(I.thread(I.task(3, A, B + 0x400)))),
        dataflow=True,
    ),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("timing_only", [False, True], ids=["functional", "timing"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_case(other_engine, reference, case, timing_only, mode):
    """Hand-built images: all the memory they can touch is compared (its extents)."""
    data = CASES[case]
    ranges = extents(data)
    inputs = {"mem": bytes(range(256)) * 256}
    assert_same(
        outcome(other_engine, data, mode, inputs, timing_only, ranges=ranges),
        outcome(reference, data, mode, inputs, timing_only, ranges=ranges),
    )


def test_cases_reach_every_runtime_error(reference):
    errors = [run_on(reference, data, "strict").error for data in CASES.values()]
    assert {40, 41, 42} <= {e.code for e in errors if e}
