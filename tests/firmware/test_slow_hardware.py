"""Hardware slower than the timing model (acifw-sim --slow): the executor asks the
HAL which ending operations still run, waits for late ones without changing the
run, and gives up on one that never finishes: the run stops with watchdog at that
operation's end in the model, and the operation never counts as done.
"""

import json
import subprocess
from pathlib import Path

import pytest

from aci.format import message
from aci.pipeline import compile_file

from .harness import ASAN, ROOT, SIM

PROGRAMS = {
    "pipeline": (ROOT / "programs" / "examples" / "pipeline.aci", {}),
    "bnn_pr": (ROOT / "programs" / "bnn_pr.aci", {"IMAGES": "20", "BATCH": "10"}),
}
WATCHDOG = 41


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("slow")
    out = {}
    for name, (path, defines) in PROGRAMS.items():
        out[name] = d / f"{name}.acx"
        out[name].write_bytes(compile_file(str(path), defines).data)
    return out


def run(exe: Path, image: Path, mode: str, *extra: str):
    trace = image.parent / f"{image.stem}-{mode}-{'_'.join(extra).replace(':', '-')}.jsonl"
    p = subprocess.run(
        [
            str(exe),
            str(image),
            "--timing-only",
            "--json",
            "--mode",
            mode,
            "--trace",
            str(trace),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    return p, json.loads(p.stdout), events


@pytest.mark.parametrize("exe", [SIM, ASAN], ids=["sim", "asan"])
@pytest.mark.parametrize("mode", ["strict", "dataflow"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_late_hardware_changes_nothing(images, name, mode, exe):
    p0, res0, trace0 = run(exe, images[name], mode)
    p1, res1, trace1 = run(exe, images[name], mode, "--slow", "0:3", "--slow", "1:3")
    assert p0.returncode == p1.returncode == 0
    assert res1 == res0
    assert trace1 == trace0


@pytest.mark.parametrize("exe", [SIM, ASAN], ids=["sim", "asan"])
@pytest.mark.parametrize("mode", ["strict", "dataflow"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_hung_slot_stops_the_run_with_watchdog(images, name, mode, exe):
    _, normal, trace0 = run(exe, images[name], mode)
    p, hung, trace = run(exe, images[name], mode, "--slow", "1")
    # The first operation to end on slot 1 never finishes on the board.
    first = next(e for e in trace0 if e["ev"] in ("pr_end", "task_end") and e["slot"] == 1)
    at = first["t"]
    assert p.returncode == 1
    assert "run-time error: watchdog" in p.stderr
    words = message("watchdog_hung", slot=1, hang_ns=10_000_000_000)
    assert hung["error"] == {
        "code": WATCHDOG,
        "name": "watchdog",
        "offset": first["pc"],
        "t": at,
        "detail": words,
    }
    assert p.stderr.endswith(f": {words}\n")
    assert hung["sync"]["status"] == 3 and hung["sync"]["error_code"] == WATCHDOG
    assert hung["sync"]["slot_done1"] == 0  # it never counts as done
    # Until then the run is the normal one; nothing starts from then on.
    assert [e for e in trace if e["t"] < at] == [e for e in trace0 if e["t"] < at]
    assert not [e for e in trace if e["t"] >= at and e["ev"] in ("pr_start", "task_start")]
    errors = [e for e in trace if e["ev"] == "error"]
    assert errors == [
        {"ev": "error", "code": WATCHDOG, "name": "watchdog", "pc": first["pc"], "t": at}
    ]
    # A hung task still counts among the tasks the run started.
    assert hung["tasks"] == hung["sync"]["progress"] + (first["ev"] == "task_end")
