"""Issue 14.6: a run through the board daemon is the local engines' run. For every
program of programs/, in both modes, functional and timing-only, the remote engine
gives the same RunResult, the same canonical trace byte for byte and the same
memory as the C firmware's simulator and the Python interpreter; the BNN programs
compute the reference scores; a refused image gets the same verdict."""

import functools

import numpy as np
import pytest

from aci.cores import bnndata
from aci.decode import decode
from aci.firmware_sim import run_image_firmware
from aci.pipeline import compile_file
from aci.remote.engine import run_image_remote
from aci.run import run_image
from aci.trace import dumps

from ..firmware.harness import C_MODELS, PY_MODELS, first_difference
from ..run.test_differential import IMAGES, MODES, PROGRAMS, SEED, compiled, inputs_for

MODELS = (*PY_MODELS, *C_MODELS)


def traced(engine, data, mode, inputs, timing_only):
    lines = []
    r = engine(
        data, mode, inputs, timing_only=timing_only, trace=lambda e: lines.append(dumps(e) + "\n")
    )
    return r, "".join(lines)


def memory(r):
    return {(lo, hi): r.board.read(lo, hi - lo) for lo, hi in r.board.extents} if r.board else {}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.stem)
def test_program(board, path, mode):
    data = compiled(path, mode)
    for timing_only in (False, True):
        inputs = None if timing_only else inputs_for(data)
        remote, trace = traced(
            lambda *a, **k: run_image_remote(board, *a, **k), data, mode, inputs, timing_only
        )
        for engine in (
            run_image_firmware,
            run_image,
        ):  # with the example's models, as the daemon has them
            local, expect = traced(
                functools.partial(engine, models=MODELS), data, mode, inputs, timing_only
            )
            assert trace == expect, first_difference(expect, trace)
            assert remote.to_json() == local.to_json()
            assert remote.sync == local.sync
            assert memory(remote) == memory(local)


@pytest.mark.parametrize("path", [p for p in PROGRAMS if "bnn" in p.name], ids=lambda p: p.stem)
def test_bnn_scores(board, path):
    data = compiled(path, "dataflow")
    r = run_image_remote(board, data, inputs=inputs_for(data), outputs=["scores"])
    assert (r.board.array("scores") == bnndata.forward(bnndata.generate(SEED, IMAGES))).all()


def test_refused_image(board):
    data = bytearray(compile_file(str(PROGRAMS[0])).data)
    data[0] ^= 1
    remote, trace = traced(
        lambda *a, **k: run_image_remote(board, *a, **k), bytes(data), None, None, False
    )
    local, expect = traced(run_image_firmware, bytes(data), None, None, False)
    assert remote.error == local.error and remote.error.name == "bad_magic"
    assert trace == expect and remote.to_json() == local.to_json() and remote.board is None


def test_image_stays_loaded_between_runs_and_runs_afresh(board):
    """Two runs of one image in one session: the second starts from zeroed memory
    again (LOAD backs it anew), as a local run does."""
    data = compiled(next(p for p in PROGRAMS if p.stem == "pipeline"), "dataflow")
    inputs = inputs_for(data)
    first = run_image_remote(board, data, inputs=inputs)
    second = run_image_remote(board, data, inputs=inputs)
    assert memory(first) == memory(second) and first.to_json() == second.to_json()
    img = decode(data)
    assert any(
        np.frombuffer(first.board.read(b.address, b.size), np.uint8).any()
        for b in img.symbols.buffers
        if b.role == "output"
    )
