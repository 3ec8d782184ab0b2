"""``acic run --engine remote``: the same summary, JSON, trace files and --get files as
the local C engine, through the real command line (a subprocess) against a real
daemon; its own option errors are usage errors; a board that does not answer is a
one-line error naming it, exit 1."""

import json
import os
import subprocess
import sys

import pytest

from ..firmware.harness import ROOT

PIPELINE = ROOT / "programs" / "examples" / "pipeline.aci"


def acic(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "aci", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def remote_args(daemon, keys):
    return [
        "--engine",
        "remote",
        "--board",
        daemon.url,
        "--board-key",
        keys.directory / "board.key",
        "--key",
        keys.directory / "host",
    ]


def test_same_outputs_as_the_local_engine(daemon, keys, tmp_path):
    outs = {}
    for name, engine in (
        ("local", ["--engine", "firmware"]),
        ("remote", remote_args(daemon, keys)),
    ):
        d = tmp_path / name
        d.mkdir()
        p = acic(
            "run",
            PIPELINE,
            *engine,
            "--mode",
            "dataflow",
            "--trace",
            d / "run.jsonl",
            "--get",
            f"out={d / 'out.npy'}",
            "--get",
            f"out={d / 'out.raw'}",
        )
        assert p.returncode == 0, p.stderr
        outs[name] = (
            p.stdout,
            *((d / f).read_bytes() for f in ("run.jsonl", "out.npy", "out.raw")),
        )
        j = acic("run", PIPELINE, *engine, "--json", "--timing-only")
        assert j.returncode == 0, j.stderr
        outs[name] += (json.loads(j.stdout),)
    local, remote = outs["local"], outs["remote"]
    assert (
        remote[0].replace("board daemon at --board", "C firmware on its simulated board")
        == local[0]
    )
    assert remote[1:4] == local[1:4]
    assert {**remote[4], "engine": "firmware"} == local[4]


def test_keys_from_the_environment(daemon, keys):
    env = {
        "ACIC_BOARD_KEY": str(keys.directory / "board.key"),
        "ACIC_KEY": str(keys.directory / "host"),
    }
    p = acic("run", PIPELINE, "--engine", "remote", "--board", daemon.url, "--timing-only", env=env)
    assert p.returncode == 0, p.stderr
    assert "run by the board daemon" in p.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "--engine remote needs --board"),
        (("--board", "tcp://127.0.0.1:1"), "needs --board-key FILE"),
        (
            (
                "--board",
                "tcp://127.0.0.1:1",
                "--board-key",
                "{keys}/board.key",
                "--key",
                "{keys}/host",
                "--board-timeout",
                "soon",
            ),
            "--board-timeout takes a number of seconds",
        ),
    ],
)
def test_usage_errors(keys, args, message):
    args = [str(a).replace("{keys}", str(keys.directory)) for a in args]
    p = acic(
        "run", PIPELINE, "--engine", "remote", *args, env={"ACIC_BOARD_KEY": "", "ACIC_KEY": ""}
    )
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr


def test_no_board_there(keys, tmp_path):
    """Nothing listens at the address: exit 1, one line naming the board."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    p = acic(
        "run",
        PIPELINE,
        "--engine",
        "remote",
        "--board",
        url,
        "--board-key",
        keys.directory / "board.key",
        "--key",
        keys.directory / "host",
        "--board-timeout",
        "0.2",
        "--board-patience",
        "1",
    )
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1 and url in p.stderr and "no answer" in p.stderr


def test_bad_key_file(daemon, tmp_path):
    (tmp_path / "board.key").write_text("not a key\n")
    p = acic(
        "run",
        PIPELINE,
        "--engine",
        "remote",
        "--board",
        daemon.url,
        "--board-key",
        tmp_path / "board.key",
        "--key",
        tmp_path / "nobody",
    )
    assert p.returncode == 1 and "board.key" in p.stderr and "Traceback" not in p.stderr


NO_MODEL = """import "targets/zcu102.aci"

core NOMODEL {
    id 43
    bitstream size 1 MB
    resources { lut 2_000  ff 2_000  bram 4  dsp 1 }
    param n : u32 in 1 .. 4096
    in  a : u8[n]
    out y : u8[n]
    cycles n + 100
}

input  buffer a : u8[64] in ddr
output buffer y : u8[64] in ddr

program p on zcu102 {
    window { parsec { thread { task NOMODEL(a: a, y: y, n: 64) } } }
}
"""


def test_a_run_time_error_reads_as_on_the_local_engines(daemon, keys, tmp_path):
    """The board sends a run-time error's template and arguments: `acic run --engine
    remote` prints the local engines' sentence, word for word."""
    src = tmp_path / "nomodel.aci"
    src.write_text(NO_MODEL)
    said = {}
    for name, engine in (
        ("python", ["--engine", "python"]),
        ("firmware", ["--engine", "firmware"]),
        ("remote", remote_args(daemon, keys)),
    ):
        p = acic("run", src, "-I", ROOT / "programs", *engine)
        assert p.returncode == 1, (name, p.stdout, p.stderr)
        said[name] = p.stdout + p.stderr
    assert "no functional model for core `NOMODEL` (core id 43)" in said["remote"], said
    assert said["remote"] == said["firmware"] == said["python"]
