"""The public testing API and the pytest plugin (the example of docs/testing.md runs
as written)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points

import numpy as np
import pytest

from aci.pytest_plugin import aci_run  # noqa: F401  (the fixture, used in-process below)
from aci.testing import Op, run_program

from ..image.builder import PROGRAMS, ROOT

PIPELINE = str(PROGRAMS / "examples/pipeline.aci")


def test_result_views():
    r = run_program(PIPELINE)
    assert r.total_ns == r.run.total_ns and r.pr_count == 2 and r.tasks_run == 8
    assert len(r.tasks()) == 8 and len(r.tasks(slot=1)) == 4 and r.tasks(core="NONE") == []
    assert [p.slot for p in r.prs()] == [0, 1] and r.prs(slot=1, core="TEST")[0].kind == "pr"
    t = r.tasks(slot=0)[0]
    assert t.ports == ((0, 65536), (262144, 65536)) and t.params == (65536, 1)
    assert t.duration == t.end - t.start > 0
    assert r.events[0]["ev"] == "image" and r.events[-1]["ev"] == "done"
    assert r.buffer("out").shape == (4, 65536)


def test_assertion_messages():
    r = run_program(PIPELINE)
    a, b = r.tasks(slot=0)[:2]
    r.assert_before(a, b)
    with pytest.raises(
        AssertionError, match=r"expected task TEST on slot 0 \(pc \d+, .* ms\) to end before"
    ):
        r.assert_before(b, a)
    with pytest.raises(AssertionError, match="to overlap in time"):
        r.assert_concurrent(a, b)
    with pytest.raises(AssertionError, match=r"the run takes .* ms \(\d+ ns\), not under 1.000 us"):
        r.assert_total_under(1000)
    r.assert_no_overlap()
    with pytest.raises(AssertionError, match="overlaps"):
        r.assert_no_overlap([Op("task", "X", 0, 0, 10, 8), Op("task", "Y", 1, 5, 20, 16)])
    r.assert_ok()


def test_run_errors_are_results(tmp_path):
    src = tmp_path / "p.aci"
    # A task longer than the watchdog: the target says 1 us.
    target = (
        (PROGRAMS / "targets/zcu102.aci")
        .read_text()
        .replace("latency 20 us", "latency 20 us  watchdog 1 us")
    )
    (tmp_path / "board.aci").write_text(target)
    src.write_text(
        f'import "board.aci"\nimport "{PROGRAMS / "cores/test.aci"}"\n'
        "input buffer a : u8[4096] in ddr\noutput buffer b : u8[4096] in ddr\n"
        "program p on zcu102 { window { parsec { thread { task TEST(a: a, y: b, n: 4096, salt: 0) } } } }\n"
    )
    r = run_program(str(src))
    assert r.error is not None and r.error.name == "watchdog"
    with pytest.raises(
        AssertionError, match=r"run stopped by watchdog \(code 41\) at pc \d+ \(.*p.aci:5\)"
    ):
        r.assert_ok()


def test_fixture_in_process(aci_run):  # noqa: F811 (the fixture imported above, by name)
    data = np.full((4, 65536), 9, np.uint8)
    r = aci_run(
        "../../programs/examples/pipeline.aci", inputs={"data": data}, defines={"CHUNKS": 4}
    )
    assert r.buffer("data")[3, 0] == 9


def test_fixture_reports_compile_errors(pytester_like):
    result = pytester_like('def test_bad(aci_run):\n    aci_run("missing.aci")\n')
    assert result.returncode == 1
    assert "does not compile" in result.stdout and "E001" in result.stdout
    assert "Traceback" not in result.stdout


@pytest.fixture
def pytester_like(tmp_path):
    """Run a test file in a fresh pytest process with the plugin loaded (as the
    pytest11 entry point will), from a project whose programs/ is a copy of ours."""
    shutil.copytree(PROGRAMS, tmp_path / "programs")
    (tmp_path / "tests").mkdir()

    # Once the entry point is installed pytest loads the plugin itself; loading it
    # again with -p would register the module twice.
    installed = any(e.value == "aci.pytest_plugin" for e in entry_points(group="pytest11"))
    load = [] if installed else ["-p", "aci.pytest_plugin"]

    def run(source: str):
        (tmp_path / "tests" / "test_user.py").write_text(source)
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                *load,
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/test_user.py",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def test_documented_example_passes(pytester_like):
    doc = (ROOT / "docs/testing.md").read_text()
    example = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    result = pytester_like(example)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
