"""``acic run`` through the CLI's own main (errors, exit codes, files)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from aci import cli, record
from aci.encode import encode
from aci.pipeline import compile_file
from aci.trace import read_jsonl

from ..image.builder import PROGRAMS, image, parsec, task, thread, window

HELLO = str(PROGRAMS / "examples/hello.aci")


@pytest.fixture
def acic(capsys):
    """Run ``acic ARGS...``; (code, out, err)."""

    def run(*argv):
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_summary(acic):
    code, out, err = acic("run", HELLO)
    assert code == 0 and err == ""
    assert (
        "strict mode" in out and "PR          1 reconfiguration" in out and "tasks       1" in out
    )
    assert "ms" in out and "slot" in out


def test_json(acic, tmp_path):
    c = compile_file(HELLO)
    path = tmp_path / "hello.acx"
    path.write_bytes(c.data)
    code, out, _ = acic("run", path, "--json", "--mode", "dataflow", "--timing-only")
    assert code == 0
    result = json.loads(out)
    assert result["mode"] == "dataflow" and result["pr_count"] == 1 and result["tasks"] == 1
    assert result["total_ns"] > result["t0"] > 0 and result["error"] is None
    assert len(result["slots"]) == 4 and {"busy_ns", "reconfiguring_ns", "idle_ns"} <= set(
        result["slots"][0]
    )


@pytest.mark.parametrize("suffix", [".npy", ".bin"])
def test_set_get_round_trip(acic, tmp_path, suffix):
    src = np.random.default_rng(4).integers(0, 256, 4096, dtype=np.uint8)
    inp = tmp_path / f"src{suffix}"
    if suffix == ".npy":
        np.save(inp, src)
    else:
        inp.write_bytes(src.tobytes())
    out = tmp_path / f"dst{suffix}"
    code, _, err = acic(
        "run",
        HELLO,
        "--set",
        f"src={inp}",
        "--get",
        f"dst={out}",
        "--get",
        f"src={tmp_path / 'again.npy'}",
    )
    assert code == 0, err
    dst = np.load(out) if suffix == ".npy" else np.frombuffer(out.read_bytes(), np.uint8)
    # hello: TEST(n 4096, salt 1) on slot 0
    assert (dst == (5 * src.astype(int) + 1 + np.arange(4096)) % 256).all()
    assert (np.load(tmp_path / "again.npy") == src).all()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".acic")) == []


@pytest.mark.parametrize(
    "fmt, check",
    [
        ("jsonl", lambda text: read_jsonl(text)[-1]["ev"] == "done"),
        ("perfetto", lambda text: "traceEvents" in json.loads(text)),
        ("vcd", lambda text: "$timescale 1 ns $end" in text),
    ],
)
def test_trace_formats(acic, tmp_path, fmt, check):
    path = tmp_path / "trace.out"
    code, _, err = acic("run", HELLO, "--trace", path, "--trace-format", fmt)
    assert code == 0, err
    assert check(path.read_text())


def test_trace_format_from_extension(acic, tmp_path):
    assert acic("run", HELLO, "--trace", tmp_path / "t.json")[0] == 0
    assert "traceEvents" in json.loads((tmp_path / "t.json").read_text())
    assert acic("run", HELLO, "--trace", tmp_path / "t.vcd")[0] == 0
    assert (tmp_path / "t.vcd").read_text().startswith("$date")


def expect_error(result, *fragments):
    code, _, err = result
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("acic: error: ")
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0]


def test_invalid_image(acic, tmp_path):
    data = bytearray(compile_file(HELLO).data)
    data[100] ^= 1
    path = tmp_path / "bad.acx"
    path.write_bytes(bytes(data))
    trace = tmp_path / "t.jsonl"
    expect_error(acic("run", path, "--trace", trace), str(path), "bad_crc", "offset 12")
    assert [e["ev"] for e in read_jsonl(trace.read_text())] == ["image", "error"]


def test_run_time_error(acic, tmp_path):
    path = tmp_path / "wrong.acx"
    path.write_bytes(image(window([(0, 200)], parsec(thread(task(1, 0, 1000))))))
    out = tmp_path / "mem.npy"
    code, text, err = acic("run", path, "--json", "--get", f"mem={out}")
    expect_error((code, "", err), "wrong_core", "code 40", "offset", "slot 1")
    assert json.loads(text)["error"]["name"] == "wrong_core"
    assert not out.exists()  # buffers are only written after a completed run


def test_run_time_error_names_the_source_line(acic, tmp_path):
    # hello's task moved to a slot nobody configured; the line table stays.
    img = compile_file(HELLO).image
    w = img.body[0]
    th = w.parsecs[0].threads[0]
    th = record.evolve(th, body=(record.evolve(th.body[0], slot=3),))
    w = record.evolve(w, parsecs=(record.evolve(w.parsecs[0], threads=(th,)),))
    path = tmp_path / "x.acx"
    path.write_bytes(encode(record.evolve(img, body=(w,))))
    expect_error(acic("run", path), "hello.aci:12", "wrong_core", "t = ")


@pytest.mark.parametrize(
    "make, fragments",
    [
        (lambda d: ["--set", f"nope={d / 'x.npy'}"], ["no buffer `nope`", "buffers: src, dst"]),
        (lambda d: ["--set", f"src={d / 'missing.npy'}"], ["cannot read", "missing.npy", "`src`"]),
        (
            lambda d: ["--set", f"src={d / 'f.npy'}"],
            ["f.npy", "buffer `src` is u8[4096]", "float64"],
        ),
        (lambda d: ["--set", f"src={d / 'short.bin'}"], ["short.bin", "got 3 bytes"]),
        (lambda d: ["--get", f"nope={d / 'o.npy'}"], ["no buffer `nope`"]),
        (lambda d: ["--get", f"dst={d / 'no' / 'o.npy'}"], ["no directory"]),
        (lambda d: ["--trace", str(d / "no" / "t.jsonl")], ["cannot write trace"]),
    ],
)
def test_input_errors(acic, tmp_path, make, fragments):
    np.save(tmp_path / "f.npy", np.zeros(4096))
    (tmp_path / "short.bin").write_bytes(b"abc")
    expect_error(acic("run", HELLO, *make(tmp_path)), *fragments)
    assert not any(p.name.startswith(".acic") for p in tmp_path.iterdir())


def test_missing_image(acic, tmp_path):
    expect_error(acic("run", tmp_path / "none.acx"), "cannot read image", "none.acx")


def test_usage_errors(acic, tmp_path):
    assert acic("run", HELLO, "--set", "src")[0] == 2
    path = tmp_path / "x.acx"
    path.write_bytes(compile_file(HELLO).data)
    assert acic("run", path, "-D", "N=1")[0] == 2


def test_source_error_is_rendered(acic, tmp_path):
    bad = tmp_path / "bad.aci"
    bad.write_text("program p on nowhere { }\n")
    code, _, err = acic("run", bad)
    assert code == 1 and "error[" in err and "Traceback" not in err


def test_defines_and_program(acic):
    code, out, _ = acic(
        "run",
        PROGRAMS / "bnn_pr.aci",
        "-D",
        "IMAGES=8",
        "-D",
        "BATCH=4",
        "--program",
        "bnn_pr",
        "--timing-only",
        "--json",
    )
    assert code == 0 and json.loads(out)["tasks"] == 8 * 9


def test_progress_bar():
    from aci._io import ProgressBar

    out = io.StringIO()
    bar = ProgressBar(out, "operations")
    bar(50, 200)
    assert "[#######" in out.getvalue() and " 25% 50/200 operations" in out.getvalue()
    bar(60, 200)  # within a tenth of a second: not redrawn
    assert "60/200" not in out.getvalue()
    bar.clear()
    assert out.getvalue().endswith("\r")
