"""`from "FILE"` contents reach the board on every path (issue 12.1): the compiler
carries them in the image's INIT section, and both engines write them into memory
when they accept the image, before the host's `--set` inputs (which override them).

Every engine of tests/conftest.py is asked (python, firmware, firmware-asan), and
the firmware's simulated board itself (`acifw-sim`, with no input from the host),
`aci.testing.run_program` and the `acic run` command on both engines.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aci.decode import decode
from aci.engine import run_on
from aci.pipeline import compile_file
from aci.testing import run_program

from .harness import ROOT, SIM, c_run

LIB = ROOT / "programs"
SRC = bytes((7 * k + 3) % 256 for k in range(4096))
OVERRIDE = bytes((k * k) % 251 for k in range(4096))


def expected(a: bytes, salt: int = 1) -> set[bytes]:
    """The TEST core's output (docs/execution.md) on whichever slot it ran."""
    x = np.frombuffer(a, np.uint8).astype(np.int64)
    k = np.arange(len(a))
    return {((5 * x + salt + 3 * s + k) % 256).astype(np.uint8).tobytes() for s in range(4)}


@pytest.fixture
def program(tmp_path) -> Path:
    (tmp_path / "src.bin").write_bytes(SRC)
    np.save(tmp_path / "w.npy", np.arange(-24, 24, dtype=np.int16).reshape(4, 12))
    p = tmp_path / "init.aci"
    p.write_text(
        f'import "{LIB}/targets/zcu102.aci"\nimport "{LIB}/cores/test.aci"\n'
        'input  buffer src : u8[4096] in ddr from "src.bin"\n'
        'buffer w : i16[4][12] in ocm from "w.npy"\n'
        "output buffer dst : u8[4096] in ddr\n"
        "program p on zcu102 {\n"
        "    window { parsec { thread { task TEST(a: src, y: dst, n: 4096, salt: 1) } } }\n"
        "}\n",
        encoding="utf-8",
    )
    return p


@pytest.mark.parametrize("mode", ["strict", "dataflow"])
def test_the_image_carries_the_files(program, mode):
    img = decode(compile_file(str(program), mode=mode).data)
    by_address = {c.address: c.data for c in img.init}
    assert by_address[img.buffer("src").address] == SRC
    assert by_address[img.buffer("w").address] == np.arange(-24, 24, dtype="<i2").tobytes()
    assert img.buffer("dst").address not in by_address


def test_every_engine_starts_from_the_files(program, engine):
    data = compile_file(str(program)).data
    r = run_on(engine, data, outputs=["src", "dst", "w"])
    assert r.ok, r.error
    assert engine.get("src").tobytes() == SRC
    assert engine.get("dst").tobytes() in expected(SRC)
    assert np.array_equal(engine.get("w"), np.arange(-24, 24, dtype=np.int16).reshape(4, 12))
    # An explicit input overrides the file's contents, and nothing else does.
    r = run_on(engine, data, inputs={"src": OVERRIDE}, outputs=["dst", "w"])
    assert engine.get("dst").tobytes() in expected(OVERRIDE)
    assert np.array_equal(engine.get("w"), np.arange(-24, 24, dtype=np.int16).reshape(4, 12))


def test_the_firmware_loads_init_itself(program):
    """acifw-sim with no input from the host: the bytes come from the image alone."""
    data = compile_file(str(program), symbols=False).data  # stripped: no buffer names at all
    img = decode(data)
    dst = next(
        c for c in decode(compile_file(str(program)).data).symbols.buffers if c.name == "dst"
    )
    src = img.init[0]
    run = c_run(SIM, data, ranges=[(src.address, 4096), (dst.address, 4096)])
    assert run.error is None
    assert run.memory[(src.address, 4096)] == SRC
    assert run.memory[(dst.address, 4096)] in expected(SRC)


def test_aci_testing_starts_from_the_files(program):
    r = run_program(program, mode="dataflow")
    r.assert_ok()
    assert r.buffer("dst").tobytes() in expected(SRC)
    r = run_program(program, inputs={"src": np.frombuffer(OVERRIDE, np.uint8)})
    assert r.buffer("dst").tobytes() in expected(OVERRIDE)


@pytest.mark.parametrize("engine", ["python", "firmware"])
def test_acic_run_on_an_image_and_with_set(program, tmp_path, engine):
    acic = str(Path(sys.executable).parent / "acic")
    image = tmp_path / "p.acx"
    subprocess.run(
        [acic, "compile", str(program), "-o", str(image)], check=True, capture_output=True
    )
    (tmp_path / "other.bin").write_bytes(OVERRIDE)
    for extra, source in (([], SRC), (["--set", f"src={tmp_path / 'other.bin'}"], OVERRIDE)):
        out = tmp_path / "dst.bin"
        p = subprocess.run(
            [acic, "run", str(image), "--engine", engine, "--get", f"dst={out}", *extra],
            capture_output=True,
            text=True,
            cwd=tmp_path.parent,
        )
        assert p.returncode == 0, p.stderr
        assert out.read_bytes() in expected(source)


def test_a_npy_of_the_wrong_type_is_refused(tmp_path, program):
    np.save(tmp_path / "w.npy", np.zeros((4, 12), np.uint16))  # same size, wrong element type
    with pytest.raises(Exception) as e:
        compile_file(str(program))
    [d] = e.value.diagnostics
    assert d.code == "E073" and "int16" in d.message and "uint16" in d.message
