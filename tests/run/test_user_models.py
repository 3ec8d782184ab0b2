"""A user's own core runs functionally (issue 12.7): the example core MIX with its
Python model (python engine, aci.testing) and its C model (a shared library the
test builds against firmware/include/aci_model.h, loaded by the firmware's
simulated board) compute the same memory and traces; without a model the error
says what to do; broken models and model files are clear errors."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aci.diagnostics import AciError
from aci.firmware_sim import run_image_firmware
from aci.models import ModelError
from aci.pipeline import compile_file
from aci.run import run_image
from aci.testing import run_program
from aci.trace import dumps

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "programs" / "examples" / "custom_core.aci"
PY_MODEL = ROOT / "programs" / "examples" / "models" / "mix.py"
C_MODEL = ROOT / "programs" / "examples" / "models" / "mix.c"
ACIC = str(Path(sys.executable).parent / "acic")


@pytest.fixture(scope="module")
def c_library(tmp_path_factory) -> Path:
    subprocess.run(["make", "-s", "-C", str(ROOT / "firmware")], check=True, capture_output=True)
    lib = tmp_path_factory.mktemp("lib") / "mix.so"
    subprocess.run(
        [
            "gcc",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Wshadow",
            "-Wconversion",
            "-Werror",
            "-shared",
            "-fPIC",
            "-I",
            str(ROOT / "firmware" / "include"),
            "-o",
            str(lib),
            str(C_MODEL),
        ],
        check=True,
        capture_output=True,
    )
    return lib


def reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    i = np.arange(a.shape[1])
    mid = (3 * a.astype(np.int64) + b + i) % 256
    return ((5 * mid + b + i) % 256).astype(np.uint8)


def inputs(seed: int):
    rng = np.random.default_rng(seed)
    return {
        "a": rng.integers(0, 256, (4, 1024), dtype=np.uint8),
        "b": rng.integers(0, 256, 1024, dtype=np.uint8),
    }


@pytest.mark.parametrize("mode", ["strict", "dataflow"])
def test_both_models_compute_the_core_and_agree(c_library, mode):
    data = compile_file(str(PROGRAM), mode=mode).data
    x = inputs(7)
    traces = {}
    for name, engine, models in (
        ("python", run_image, [PY_MODEL]),
        ("firmware", run_image_firmware, [c_library]),
    ):
        lines = []
        r = engine(
            data,
            inputs=x,
            outputs=["y"],
            models=models,
            trace=lambda e, lines=lines: lines.append(dumps(e)),
        )
        assert r.ok, (name, r.error)
        assert np.array_equal(r.board.array("y"), reference(x["a"], x["b"])), name
        traces[name] = lines
    assert traces["python"] == traces["firmware"]


def test_aci_testing_takes_models():
    x = inputs(3)
    r = run_program(PROGRAM, inputs=x, models=[PY_MODEL], mode="dataflow")
    r.assert_ok()
    assert np.array_equal(r.buffer("y"), reference(x["a"], x["b"]))
    assert len(r.tasks(core="MIX")) == 8


@pytest.mark.parametrize("engine", ["python", "firmware"])
def test_without_a_model_the_error_says_what_to_do(engine, c_library, tmp_path):
    p = subprocess.run(
        [ACIC, "run", str(PROGRAM), "--engine", engine], capture_output=True, text=True
    )
    assert p.returncode == 1
    assert "no_model" in p.stderr and "core `MIX` (core id 42)" in p.stderr
    assert "--timing-only" in p.stderr and "--models" in p.stderr and "docs/models.md" in p.stderr
    assert "FILE.py" in p.stderr and "LIB.so" in p.stderr
    # Each engine takes its own kind of model and ignores the other's.
    both = ["--models", str(PY_MODEL), "--models", str(c_library)]
    out = tmp_path / f"y-{engine}.npy"
    p = subprocess.run(
        [ACIC, "run", str(PROGRAM), "--engine", engine, *both, "--get", f"y={out}"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    assert np.array_equal(
        np.load(out), reference(np.zeros((4, 1024), np.uint8), np.zeros(1024, np.uint8))
    )
    p = subprocess.run(
        [ACIC, "run", str(PROGRAM), "--engine", engine, "--timing-only"], capture_output=True
    )
    assert p.returncode == 0


def write(tmp_path, name, text) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


HEADER = "from aci.models import core\nimport numpy as np\n"
PORTS = 'ports={"a": "in", "b": "in", "y": "out"}, params=("n", "k")'


@pytest.mark.parametrize(
    "text, message",
    [
        (HEADER + "x = 1 / 0\n", "broken.py:3: loading the model file failed: ZeroDivisionError"),
        (HEADER, "registers no model"),
        (
            HEADER
            + f"@core('MIX', {PORTS})\ndef f(params, inputs, slot):\n    raise RuntimeError('boom')\n",
            "failed on the task at offset",
        ),
        (
            HEADER
            + f"@core('MIX', {PORTS})\ndef f(params, inputs, slot):\n    return {{'y': inputs['a'][:, :3]}}\n",
            "gave uint8 (4, 3) for port `y`",
        ),
        (
            HEADER
            + f"@core('MIX', {PORTS}, lengths=lambda p: (1, 1, 1))\ndef f(params, inputs, slot):\n    return {{}}\n",
            None,
        ),
    ],
)
def test_broken_models_are_the_users_errors(tmp_path, text, message):
    model = write(tmp_path, "broken.py", text)
    data = compile_file(str(PROGRAM)).data
    if message is None:  # a model that does not accept the task: no_model with its reason
        r = run_image(data, models=[model])
        assert r.error.name == "no_model" and "does not take this task" in r.error.detail
        assert "port lengths [1024, 1024, 1024]" in r.error.detail
        return
    with pytest.raises(ModelError) as e:
        run_image(data, models=[model])
    assert message in str(e.value)
    p = subprocess.run(
        [ACIC, "run", str(PROGRAM), "--models", str(model)], capture_output=True, text=True
    )
    assert p.returncode == 1 and message in p.stderr and "Traceback" not in p.stderr


def test_broken_c_libraries_are_refused(tmp_path):
    src = write(
        tmp_path,
        "bad.c",
        '#include "aci_model.h"\n'
        "const aci_model *aci_models(unsigned *count, unsigned *abi)\n"
        "{ *count = 0; *abi = ACI_MODEL_ABI + 1; return 0; }\n",
    )
    lib = tmp_path / "bad.so"
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-I",
            str(ROOT / "firmware" / "include"),
            "-o",
            str(lib),
            str(src),
        ],
        check=True,
    )
    data = compile_file(str(PROGRAM)).data
    for models, why in (
        ([lib], "ACI_MODEL_ABI"),
        ([src], "cannot load model library"),
        ([tmp_path / "none.so"], "no such file"),
    ):
        with pytest.raises(AciError) as e:
            run_image_firmware(data, models=models)
        assert why in str(e.value)
