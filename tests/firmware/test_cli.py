"""acifw-sim's command line: exit codes (0 done, 1 refused or stopped, 2 usage),
messages naming the error with its code and offset, and the data flags (--set,
--get, --load, --save, --mem, --dump, --sync) against the Python board."""

import subprocess

import numpy as np
import pytest

from aci import format as F
from aci.pipeline import compile_file

from ..image import builder as I
from .harness import CONFORMANCE, MANIFEST, ROOT, SIM, py_run, py_verdict

HELLO = compile_file(
    str(ROOT / "programs" / "examples" / "hello.aci")
).data  # TEST(a: src, y: dst, n: 4096, salt: 1)
SRC, DST = 0x0, 0x1000  # hello's buffers, by its SYMBOLS


def sim(*args, cwd=None):
    return subprocess.run([str(SIM), *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def hello(tmp_path):
    path = tmp_path / "hello.acx"
    path.write_bytes(HELLO)
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "no image given"),
        (("{img}", "--frob"), "unknown option --frob"),
        (("{img}", "--mode", "fast"), "--mode is strict or dataflow"),
        (("{img}", "--mode"), "--mode needs a value"),
        (("{img}", "--set", "nothing"), "malformed value"),
        (("{img}", "--save", "0x10=out"), "malformed value"),
        (("{img}", "--save", "0x10:0=out"), "malformed value"),
        (("{img}", "--load", "-5=x"), "malformed value"),
        (("{img}", "{img}"), "unexpected argument"),
        (("{img}", "--set", "nope={img}"), "no buffer `nope`"),
        (("{img}", "--dump", "sram={img}"), "no memory region `sram`"),
        (("{img}", "--set", "src={img}"), "`src` holds 4096 bytes"),
        (("{img}", "--load", "0x100000000={img}"), "outside every memory region"),
        (("/nonexistent.acx",), "cannot read /nonexistent.acx"),
    ],
)
def test_usage_errors(hello, args, message):
    r = sim(*(a.replace("{img}", str(hello)) for a in args))
    assert r.returncode == 2
    assert message in r.stderr


def test_invalid_image(tmp_path):
    out = tmp_path / "y.bin"
    r = sim(CONFORMANCE / "invalid" / "crc.acx", "--get", f"dst={out}", "--sync", tmp_path / "sync")
    assert r.returncode == 1
    assert "bad_crc (code 4) at offset 12" in r.stderr
    assert not out.exists()
    sync = F.SYNC.unpack((tmp_path / "sync").read_bytes())
    assert (sync["ack"], sync["status"], sync["error_code"], sync["error_offset"]) == (1, 3, 4, 12)


def test_set_get_and_sync(hello, tmp_path):
    a = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)
    (tmp_path / "a").write_bytes(a.tobytes())
    r = sim(
        hello,
        "--set",
        f"src={tmp_path / 'a'}",
        "--get",
        f"dst={tmp_path / 'y'}",
        "--sync",
        tmp_path / "sync",
    )
    assert r.returncode == 0, r.stderr
    k = np.arange(4096)
    assert (
        np.frombuffer((tmp_path / "y").read_bytes(), np.uint8) == (5 * a.astype(int) + 1 + k) % 256
    ).all()
    py = py_run(HELLO, inputs={"src": a.tobytes()})
    assert (tmp_path / "sync").read_bytes() == F.SYNC.pack(**{**py.sync, "reserved": 0})


def test_load_save_mem_dump(hello, tmp_path):
    a = bytes(range(256)) * 16
    (tmp_path / "a").write_bytes(a)
    r = sim(hello, "--load", f"{SRC}={tmp_path / 'a'}", "--save", f"{DST}:4096={tmp_path / 'y1'}")
    assert r.returncode == 0, r.stderr
    r = sim(
        hello,
        "--mem",
        f"ddr={tmp_path / 'a'}",
        "--dump",
        f"ddr={tmp_path / 'all'}",
        "--get",
        f"dst={tmp_path / 'y2'}",
    )
    assert r.returncode == 0, r.stderr
    y = (tmp_path / "y1").read_bytes()
    assert (
        y
        == (tmp_path / "y2").read_bytes()
        == py_run(HELLO, inputs={"src": a}, ranges=[(DST, 4096)]).memory[(DST, 4096)]
    )
    dump = (tmp_path / "all").read_bytes()
    assert dump[:4096] == a and dump[DST : DST + 4096] == y


def test_runtime_error(tmp_path):
    data = I.image(I.window((), I.parsec(I.thread(I.task(0, 0x1000, 0x8000)))))
    (tmp_path / "e.acx").write_bytes(data)
    r = sim(tmp_path / "e.acx", "--save", f"0x8000:100={tmp_path / 'y'}")
    assert r.returncode == 1
    assert "run-time error: wrong_core (code 40) at offset" in r.stderr
    assert not (tmp_path / "y").exists()


def test_timing_only_runs_no_model(tmp_path):
    data = I.image(I.window([(0, 7)], I.parsec(I.thread(I.task(0, 0x1000, 0x8000, core=7)))))
    (tmp_path / "m.acx").write_bytes(data)
    assert sim(tmp_path / "m.acx").returncode == 1
    assert sim(tmp_path / "m.acx", "--timing-only").returncode == 0


@pytest.mark.parametrize("name", [n for n, e in MANIFEST.items() if not e["valid"]])
def test_refusal_message(name):
    """A refused conformance vector: exit 1 and one line naming the error, its code
    and the validator's offset."""
    expect = MANIFEST[name]
    p = sim(CONFORMANCE / name, "--timing-only")
    code, offset = py_verdict((CONFORMANCE / name).read_bytes())
    assert p.returncode == 1 and code == expect["code"]
    assert f"{expect['error']} (code {expect['code']}) at offset {offset}" in p.stderr
