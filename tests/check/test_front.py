"""The front end's promises: bounded inputs (issue 18.4), the import search path,
`-D` literals, multi-file `acic check`, warnings and `aci.testing.assert_refused`.

Hostile inputs run `acic` as a real process under a 1 GiB address-space cap and a
time limit: each must end with a located error and exit status 1.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from aci import testing

ROOT = Path(__file__).resolve().parents[2]
BOARD = ROOT / "tests" / "check" / "inc" / "board.aci"
ACIC = [sys.executable, "-m", "aci"]
CAP = 1 << 30


def _cap():
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


def acic(*args, cwd=None, env=None, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*ACIC, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        preexec_fn=_cap,
    )


def _ok_program(tmp_path: Path, name: str = "p.aci", extra: str = "") -> Path:
    p = tmp_path / name
    p.write_text(
        f'import "{BOARD}"\n{extra}buffer s : i32[8]\nbuffer d : i32[8]\n'
        "program p on board { window { parsec { thread { task ADD(a: s, b: s, c: d, n: 8) } } } }\n"
    )
    return p


# ---- bounded inputs ---------------------------------------------------------------


def test_devices_fifos_and_symlink_loops_end_at_once(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.aci"
    loop.symlink_to(loop)
    src = tmp_path / "imports.aci"
    src.write_text(f'import "/dev/zero"\nimport "{fifo}"\nimport "loop.aci"\n')
    r = acic("check", src, timeout=30)
    assert r.returncode == 1, r.stderr
    assert (
        r.stderr.count("error[E001]") == 3
        and "imports.aci:2:1" in r.stderr
        and "imports.aci:3:1" in r.stderr
    )
    r = acic("check", "/dev/zero", timeout=30)
    assert r.returncode == 1 and "error[E001]" in r.stderr and "not a regular file" in r.stderr


def test_huge_files_are_refused_before_reading(tmp_path):
    big = tmp_path / "constants.aci"
    with open(big, "wb") as f:  # 50 MB of constants, sparse beyond the first lines
        f.write(b"const A = 1\n" * 1000)
        f.truncate(50_000_000)
    one_line = tmp_path / "expression.aci"
    one_line.write_text("const A = " + "1+" * 25_000_000 + "1\n")
    for path in (big, one_line):
        r = acic("check", path, timeout=30)
        assert (
            r.returncode == 1
            and "error[E006]" in r.stderr
            and "over the limit of 1048576 bytes" in r.stderr
        )


@pytest.mark.parametrize(
    "text, code, line, column",
    [
        ("const A = " + "9" * 5000 + "\n", "E006", 1, 11),
        ("const A = 1\nconst B = " + " + ".join(["A"] * 10_002) + "\n", "E006", 2, 13),
        ("const A = 1\n\nconst B = " + "(" * 2000 + "1" + ")" * 2000 + "\n", "E007", 3, 1035),
        ("const A = ６４\n", "E003", 1, 11),
        ("const A = ٦٤\n", "E003", 1, 11),
    ],
)
def test_bounds_are_located(tmp_path, text, code, line, column):
    p = tmp_path / "x.aci"
    p.write_text(text, encoding="utf-8")
    r = acic("check", "--format", "json", p, timeout=30)
    assert r.returncode == 1, r.stderr
    (d,) = json.loads(r.stdout)["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == (code, line, column), d


def test_set_from_a_device_is_bounded(tmp_path):
    out = tmp_path / "p.acx"
    assert acic("compile", _ok_program(tmp_path), "-o", out).returncode == 0
    r = acic("run", out, "--set", "s=/dev/zero", timeout=30)
    assert r.returncode == 1 and "buffer `s`" in r.stderr and "Traceback" not in r.stderr


# ---- the search path --------------------------------------------------------------


def test_imports_search_include_dirs_env_and_the_library(tmp_path):
    lib, other = tmp_path / "lib", tmp_path / "other"
    (lib / "cores").mkdir(parents=True)
    other.mkdir()
    (lib / "cores" / "mine.aci").write_text("const MINE = 3\n")
    (other / "theirs.aci").write_text("const THEIRS = 4\n")
    user = tmp_path / "work" / "user.aci"
    user.parent.mkdir()
    user.write_text(
        'import "cores/mine.aci"\nimport "theirs.aci"\nimport "targets/zcu102.aci"\n'
        'import "cores/bnn.aci"\nconst X = MINE + THEIRS\n'
    )
    r = acic("check", "-I", lib, user, cwd="/", env={"ACIC_PATH": str(other)})
    assert r.returncode == 0, r.stderr
    r = acic("check", user, cwd="/", env={"ACIC_PATH": f"{lib}{os.pathsep}{other}"})
    assert r.returncode == 0, r.stderr
    r = acic("check", "--format", "json", user, cwd="/", env={"ACIC_PATH": ""})
    d = json.loads(r.stdout)["diagnostics"]
    assert r.returncode == 1 and [(x["code"], x["line"]) for x in d] == [("E001", 1), ("E001", 2)]
    assert "-I or ACIC_PATH" in d[0]["message"]


def test_a_file_beside_the_importer_wins(tmp_path):
    (tmp_path / "lib" / "targets").mkdir(parents=True)
    (tmp_path / "lib" / "targets" / "zcu102.aci").write_text("const WRONG = 1\n")
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "zcu102.aci").write_text("const RIGHT = 1\n")
    user = tmp_path / "u.aci"
    user.write_text('import "targets/zcu102.aci"\nconst X = RIGHT\n')
    assert acic("check", "-I", tmp_path / "lib", user).returncode == 0


# ---- -D ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, ok",
    [
        ("true", True),
        ("64KiB", True),
        ("64 KiB", True),
        ("-3", True),
        ("0x40", True),
        ("2.5", True),
        ("1e3", False),
        ("1_e2", False),
        ("６４", False),
        ("٦٤", False),
        ("9" * 300, False),
        ("3 apples", False),
    ],
)
def test_defines_take_the_language_literals(tmp_path, value, ok):
    p = tmp_path / "d.aci"
    p.write_text("const V = 1\n")
    r = acic("check", "-D", f"V={value}", p)
    assert r.returncode == (0 if ok else 1), r.stderr
    if not ok:
        assert "error[E013]" in r.stderr


# ---- several files, warnings ------------------------------------------------------


def test_every_clean_file_gets_its_ok_line_and_json_entry(tmp_path):
    good = _ok_program(tmp_path, "good.aci")
    bad = tmp_path / "bad.aci"
    bad.write_text("const A = B\n")
    also = _ok_program(tmp_path, "also.aci")
    r = acic("check", good, bad, also)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [f"{good}: ok (p)", f"{also}: ok (p)"]
    assert "error[E010]" in r.stderr
    r = acic("check", "--format", "json", good, bad, also)
    out = json.loads(r.stdout)
    assert [(f["file"], f["ok"], f["programs"]) for f in out["files"]] == [
        (str(good), True, ["p"]),
        (str(bad), False, []),
        (str(also), True, ["p"]),
    ]
    assert [d["code"] for d in out["files"][1]["diagnostics"]] == ["E010"]
    assert [d["code"] for d in out["diagnostics"]] == ["E010"]


def test_warnings_do_not_fail_check(tmp_path):
    w = ROOT / "tests" / "check" / "w001_task_longer_than_watchdog.aci"
    r = acic("check", w)
    assert r.returncode == 0 and "warning[W001]" in r.stderr and r.stdout.endswith(": ok (p)\n")
    r = acic("check", "--format", "json", w)
    (d,) = json.loads(r.stdout)["diagnostics"]
    assert (d["severity"], d["code"], d["line"]) == ("warning", "W001", 21)
    r = acic("compile", w, "-o", tmp_path / "w.acx")
    assert r.returncode == 0 and "warning[W001]" in r.stderr and (tmp_path / "w.acx").exists()


def test_run_warns_of_get_without_data_and_of_a_strict_image_in_dataflow(tmp_path):
    out = tmp_path / "p.acx"
    assert acic("compile", _ok_program(tmp_path), "-o", out).returncode == 0
    r = acic("run", out, "--timing-only", "--get", f"d={tmp_path / 'd.bin'}")
    assert r.returncode == 0 and "warning: --get under --timing-only" in r.stderr
    r = acic("run", out, "--mode", "dataflow", "--timing-only")
    assert r.returncode == 0 and "scheduled for strict mode" in r.stderr
    r = acic("run", out, "--timing-only")
    assert r.returncode == 0 and "warning" not in r.stderr


# ---- aci.testing ------------------------------------------------------------------


def test_assert_refused(tmp_path):
    racy = ROOT / "tests" / "check" / "e064_race_in_repeat.aci"
    d = testing.assert_refused(racy, "E064", line=13)
    assert d.code == "E064" and d.span.line == 13
    with pytest.raises(AssertionError, match="expected E064 at line 15, got E064 at"):
        testing.assert_refused(racy, "E064", line=15)
    with pytest.raises(AssertionError, match="the program compiles"):
        testing.assert_refused(_ok_program(tmp_path), "E064")


def test_aci_refused_fixture(aci_refused):
    d = aci_refused("e082_no_core.aci", "E082", line=4, column=9)
    assert "no core" in d.message
