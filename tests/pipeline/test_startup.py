"""Start-up: a command imports only what it needs. ``acic compile`` and ``acic
check`` of the BNN, each in a fresh interpreter, never import numpy, the trace
writers or the plotting library (the engines and reports do, for ``acic run``), nor
Lark (the parser runs generated tables), attrs (the compiler's records are
aci.record's), ZeroMQ, or acic's engines, board daemon and protocol (other
commands' modules)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BNN = ROOT / "programs" / "bnn_pr.aci"
HEAVY = (
    "numpy",
    "matplotlib",
    "vcd",
    "hypothesis",
    "lark",
    "attrs",
    "zmq",
    "aci.engine",
    "aci.run",
    "aci.daemon",
    "aci.protocol",
    "aci._cli_run",
    "aci._cli_board",
)
PROBE = (
    "import sys\nfrom aci.cli import main\ncode = main(sys.argv[1:])\n"
    f"print(code, *[m for m in {HEAVY!r} if m in sys.modules])\n"
)


def imported(*argv) -> list[str]:
    p = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, argv)], capture_output=True, text=True, cwd=ROOT
    )
    assert p.returncode == 0, p.stderr
    code, *heavy = p.stdout.split("\n")[-2].split()
    assert code == "0", p.stderr
    return heavy


@pytest.mark.parametrize("command", ["compile", "check"])
def test_command_imports_no_numpy(command, tmp_path):
    extra = ["-o", tmp_path / "bnn.acx"] if command == "compile" else []
    assert imported(command, BNN, "-D", "BATCH=25", *extra) == []


def test_the_probe_sees_numpy_when_a_command_needs_it():
    """acic run does import numpy: the check above would see it."""
    assert "numpy" in imported("run", ROOT / "programs" / "examples" / "hello.aci", "--timing-only")
