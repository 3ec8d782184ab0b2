"""`acic run --engine firmware`: the C firmware behind acic's own command.

Every engine gives the reference interpreter's RunResult (times, PRs, per-slot use,
SYNC words, the error with its code, offset and source line) and trace events; the
firmware also the same trace files in every format, the same final memory and the
same --get files (.npy and raw); a missing or failing simulator is a one-line error,
never a traceback."""

import json
import stat
from pathlib import Path

import numpy as np
import pytest

from aci import record
from aci.cli import main
from aci.cores import bnndata
from aci.encode import encode
from aci.engine import open_engine, run_on
from aci.firmware_sim import FirmwareError, run_image_firmware
from aci.image import Image, Source, Symbols
from aci.pipeline import compile_file
from tests.run.test_differential import IMAGES, SEED

from ..image import builder as I
from .harness import ROOT, SIM

HELLO = ROOT / "programs" / "examples" / "hello.aci"


@pytest.fixture
def both(other_engine, reference):
    """both(data, mode, inputs, timing_only) -> the reference's result, the engine's, and their events."""

    def run(data, mode=None, inputs=None, timing_only=False):
        py_events, c_events = [], []
        py = run_on(reference, data, mode, inputs, timing_only=timing_only, trace=py_events.append)
        c = run_on(other_engine, data, mode, inputs, timing_only=timing_only, trace=c_events.append)
        return py, c, py_events, c_events

    return run


def test_refused_images_have_the_decoders_detail(both):
    data = bytearray(compile_file(str(HELLO)).data)
    data[0] ^= 1
    py, c, pe, ce = both(bytes(data))
    assert c.error == py.error and ce == pe and c.board is None and c.slots == ()


# ---- the command line --------------------------------------------------------------


@pytest.fixture
def acic(capsys):
    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_cli_bnn_set_get_npy(acic, tmp_path):
    """The BNN on the firmware from .npy inputs: the --get scores are the reference's,
    and the .npy files equal the Python engine's byte for byte."""
    src = ROOT / "programs" / "bnn_pr.aci"
    gen = bnndata.generate(SEED, IMAGES)
    sets = []
    for name, value in gen.items():
        np.save(tmp_path / f"{name}.npy", value)
        sets += ["--set", f"{name}={tmp_path / f'{name}.npy'}"]
    defines = ["-D", f"IMAGES={IMAGES}", "-D", "BATCH=4"]
    outs = {}
    for engine in ("python", "firmware"):
        out = tmp_path / f"scores-{engine}.npy"
        code, stdout, err = acic(
            "run",
            src,
            *defines,
            *sets,
            "--get",
            f"scores={out}",
            "--engine",
            engine,
            "--get",
            f"fm5={tmp_path / f'fm5-{engine}.bin'}",
        )
        assert code == 0, err
        outs[engine] = stdout
    assert (np.load(tmp_path / "scores-firmware.npy") == bnndata.forward(gen)).all()
    for name in ("scores-{}.npy", "fm5-{}.bin"):
        assert (tmp_path / name.format("firmware")).read_bytes() == (
            tmp_path / name.format("python")
        ).read_bytes()
    assert "run by the C firmware" in outs["firmware"]
    # the same figures, line for line, after the first
    assert outs["firmware"].splitlines()[1:] == outs["python"].splitlines()[1:]


@pytest.mark.parametrize("name", ["t.jsonl", "t.json", "t.vcd"])
def test_cli_trace_formats(acic, tmp_path, name):
    files = {}
    for engine in ("python", "firmware"):
        path = tmp_path / engine / name
        path.parent.mkdir()
        code, _, err = acic(
            "run",
            ROOT / "programs" / "examples" / "pipeline.aci",
            "--mode",
            "dataflow",
            "--trace",
            path,
            "--engine",
            engine,
        )
        assert code == 0, err
        files[engine] = path.read_bytes()
    assert files["firmware"] == files["python"] and len(files["python"]) > 100


def test_cli_json(acic):
    code, out, _ = acic("run", HELLO, "--engine", "firmware", "--json", "--timing-only")
    result = json.loads(out)
    assert (
        code == 0
        and result["engine"] == "firmware"
        and result["pr_count"] == 1
        and result["tasks"] == 1
    )
    code, out, _ = acic("run", HELLO, "--json", "--timing-only")
    assert {**json.loads(out), "engine": "firmware"} == result


def test_cli_runtime_error_names_the_source_line(acic, tmp_path):
    """A wrong_core stop: the same one-line message (code, offset, source line, time,
    the words) from both engines."""
    task = record.evolve(I.task(0, 0x1000, 0x8000), source=Source(0, 7))
    img = Image(
        I.TargetInfo(4, I.TIMING, (I.MEMORY,)),
        (I.TEST,),
        (100, 0),
        (I.window((), I.parsec(I.thread(task))),),
        False,
        Symbols((I.MEM,), ("prog.aci",)),
    )
    path = tmp_path / "bad.acx"
    path.write_bytes(encode(img))
    messages = {}
    for engine in ("python", "firmware"):
        code, _, err = acic("run", path, "--engine", engine)
        assert code == 1 and err.startswith("acic: error: ") and err.count("\n") == 1, err
        messages[engine] = err
    assert "wrong_core" in messages["python"] and "(prog.aci:7)" in messages["python"]
    assert messages["python"].endswith("the task needs `TEST` on slot 0, which holds no core\n")
    assert messages["firmware"] == messages["python"]


def test_cli_data_errors_before_the_firmware_runs(acic, tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros(3, np.float32))
    code, _, err = acic(
        "run",
        ROOT / "programs" / "bnn_static.aci",
        "-D",
        "IMAGES=4",
        "--set",
        f"images={bad}",
        "--engine",
        "firmware",
    )
    assert code == 1 and "images" in err and "expected" in err and "Traceback" not in err


def _script(tmp_path, body: str) -> Path:
    path = tmp_path / "fake-sim"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize(
    "body, words",
    [
        ("echo 'simulated out of memory' >&2; exit 1", "simulated out of memory"),
        ("kill -SEGV $$", "exit status -11"),
        ("echo '{\"error\":' ; exit 0", "exit status 0"),
    ],
)
def test_cli_failing_simulator(acic, tmp_path, monkeypatch, body, words):
    monkeypatch.setenv("ACIC_FIRMWARE_SIM", str(_script(tmp_path, body)))
    trace = tmp_path / "t.jsonl"
    code, out, err = acic("run", HELLO, "--engine", "firmware", "--trace", trace)
    assert (
        code == 1 and "firmware simulator failed" in err and words in err and "Traceback" not in err
    )
    assert not trace.exists() and [p.name for p in tmp_path.iterdir()] == ["fake-sim"]


def test_cli_missing_simulator(acic, tmp_path, monkeypatch):
    monkeypatch.setenv("ACIC_FIRMWARE_SIM", str(tmp_path / "nothing"))
    code, _, err = acic("run", HELLO, "--engine", "firmware")
    assert code == 1 and "ACIC_FIRMWARE_SIM" in err and "Traceback" not in err


def test_missing_simulator_api(monkeypatch, tmp_path):
    monkeypatch.setenv("ACIC_FIRMWARE_SIM", str(tmp_path / "nothing"))
    with pytest.raises(FirmwareError):
        run_image_firmware(compile_file(str(HELLO)).data)
    with pytest.raises(FirmwareError):
        open_engine("firmware")
    with pytest.raises(FirmwareError, match="not an executable"):
        open_engine("firmware", sim=tmp_path / "nothing")


def test_cli_engine_option(acic, tmp_path, monkeypatch):
    """--firmware-sim picks the simulator (over $ACIC_FIRMWARE_SIM); it is an option
    of the firmware engine only."""
    monkeypatch.setenv("ACIC_FIRMWARE_SIM", str(tmp_path / "nothing"))
    code, out, err = acic(
        "run", HELLO, "--engine", "firmware", "--firmware-sim", SIM, "--json", "--timing-only"
    )
    assert code == 0 and json.loads(out)["tasks"] == 1, err
    code, _, err = acic("run", HELLO, "--firmware-sim", SIM)
    assert code == 2 and "--firmware-sim is an option of --engine firmware" in err
    code, _, err = acic("run", HELLO, "--engine", "firmware", "--firmware-sim", tmp_path)
    assert code == 1 and "not an executable file" in err and "Traceback" not in err
