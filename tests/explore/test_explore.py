"""``acic explore``: the sweep's functions (aci.explore) and the command (exit codes, files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aci import cli
from aci import explore as X
from aci._cli_explore import MODES as CLI_MODES
from aci.diagnostics import SourceError
from aci.pipeline import compile_file

PROGRAMS = Path(__file__).resolve().parent.parent.parent / "programs"
BNN_PR = str(PROGRAMS / "bnn_pr.aci")
PARALLEL = str(PROGRAMS / "examples/parallel.aci")
PIPELINE = str(PROGRAMS / "examples/pipeline.aci")
HELLO = str(PROGRAMS / "examples/hello.aci")


@pytest.fixture
def acic(capsys):
    """Run ``acic ARGS...``; (code, out, err)."""

    def run(*argv):
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


# ---- combinations -------------------------------------------------------------------


def test_combinations_order_first_slowest():
    assert X.combinations(["A=1,2", "B=10,20,30"]) == [
        {"A": 1, "B": 10},
        {"A": 1, "B": 20},
        {"A": 1, "B": 30},
        {"A": 2, "B": 10},
        {"A": 2, "B": 20},
        {"A": 2, "B": 30},
    ]


def test_combinations_fixed_value_and_number_syntax():
    assert X.combinations(["N=0x10", "M=1_000,-3"]) == [{"N": 16, "M": 1000}, {"N": 16, "M": -3}]
    assert X.combinations([]) == [{}]
    assert X.combinations(["A=2,2,3"]) == [{"A": 2}, {"A": 3}]


@pytest.mark.parametrize("spec", [["A=1,2.5"], ["A=x"], ["A=1,,2"], ["A=1", "A=2"]])
def test_combinations_bad_values(spec):
    with pytest.raises(X.ExploreError) as e:
        X.combinations(spec)
    assert not isinstance(e.value, X.SpecSyntaxError)


@pytest.mark.parametrize("item", ["A", "=1", "1A=2", "A="])
def test_combinations_bad_syntax(item):
    with pytest.raises(X.SpecSyntaxError, match="NAME=V1,V2"):
        X.combinations([item])


def test_modes_agree():
    assert CLI_MODES == X.MODES


# ---- explore ------------------------------------------------------------------------


def test_rows_match_a_direct_simulation():
    rows = X.explore(
        BNN_PR, X.combinations(["BATCH=1,4", "IMAGES=8"]), ["strict", "dataflow"], jobs=1
    )
    assert [(r["defines"]["BATCH"], r["mode"]) for r in rows] == [
        (1, "strict"),
        (1, "dataflow"),
        (4, "strict"),
        (4, "dataflow"),
    ]
    for r in rows:
        assert r["ok"] and r["error"] is None and r["program"] == "bnn_pr" and r["images"] == 8
        c = compile_file(
            BNN_PR, {"BATCH": str(r["defines"]["BATCH"]), "IMAGES": "8"}, mode=r["mode"]
        )
        assert r["image_bytes"] == len(c.data)
        assert r["tasks"] == 8 * 9
        assert r["ns_per_image"] == r["total_ns"] / 8
        assert 0 < r["utilisation"] < 1 and r["total_ns"] > r["t_end_ns"] > r["t0_ns"] > 0
    by = {(r["defines"]["BATCH"], r["mode"]): r for r in rows}
    # One image per batch reconfigures the four slots three times per image.
    assert by[(1, "strict")]["prs"] == 8 * 12 and by[(4, "strict")]["prs"] == 2 * 12
    for b in (1, 4):
        assert by[(b, "dataflow")]["total_ns"] <= by[(b, "strict")]["total_ns"]


def test_parallel_equals_serial():
    sweeps = X.combinations(["CHUNKS=1,2,4", "N=1024,4096"])
    serial = X.explore(PIPELINE, sweeps, ["strict", "dataflow"], jobs=1)
    pooled = X.explore(PIPELINE, sweeps, ["strict", "dataflow"], jobs=2)
    strip = [{k: v for k, v in r.items() if k != "compile_s"} for r in serial]
    assert strip == [{k: v for k, v in r.items() if k != "compile_s"} for r in pooled]


def test_progress_reports_every_combination():
    seen = []
    X.explore(
        PARALLEL,
        X.combinations(["BATCHES=1,2,3"]),
        jobs=1,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_failed_combination_keeps_the_others():
    rows = X.explore(PARALLEL, X.combinations(["SLOTS=2,5,4"]), jobs=2)
    assert [r["ok"] for r in rows] == [True, False, True]
    assert rows[1]["error"].startswith("error[E061]") and "total_ns" not in rows[1]


def test_unknown_const_propagates():
    with pytest.raises(SourceError) as e:
        X.explore(PARALLEL, X.combinations(["NOPE=1,2"]))
    assert [d.code for d in e.value.diagnostics] == ["E013"]


def test_unknown_program_propagates():
    with pytest.raises(SourceError) as e:
        X.explore(PARALLEL, [{}], programs=["nope"])
    assert [d.code for d in e.value.diagnostics] == ["E091"]


# ---- table and plot -----------------------------------------------------------------


def test_table():
    rows = X.explore(
        BNN_PR, X.combinations(["BATCH=2,4", "IMAGES=8"]), ["strict", "dataflow"], jobs=1
    )
    lines = X.table(rows).splitlines()
    assert lines[0].split() == [
        "BATCH",
        "IMAGES",
        "mode",
        "total",
        "per",
        "image",
        "PRs",
        "PR",
        "time",
        "util",
        "image",
    ]
    assert len(lines) == 5
    assert lines[1].split()[:3] == ["2", "8", "strict"] and lines[4].split()[:3] == [
        "4",
        "8",
        "dataflow",
    ]
    assert all(line.rstrip().endswith(" B") and "%" in line for line in lines[1:])


def test_table_failed_row_and_no_images():
    rows = X.explore(PARALLEL, X.combinations(["SLOTS=4,5"]), jobs=1)
    text = X.table(rows)
    assert "per image" not in text.splitlines()[0]
    assert "failed: error[E061]" in text.splitlines()[2]


@pytest.mark.parametrize("ext", ["png", "svg"])
def test_plot(tmp_path, ext):
    rows = X.explore(
        PARALLEL, X.combinations(["PART=1024,65536", "BATCHES=1,2"]), ["strict", "dataflow"], jobs=1
    )
    out = tmp_path / f"sweep.{ext}"
    X.plot(rows, str(out), "parallel")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if ext == "png" else b"<svg" in data
    if ext == "svg":  # one curve per mode and other value: 2 x 2 legend entries
        for label in (b"strict, BATCHES=1", b"dataflow, BATCHES=2"):
            assert label in data or label.replace(b" ", b"") in data.replace(b" ", b"")


def test_plot_refuses():
    rows = X.explore(PARALLEL, [{}], jobs=1)
    with pytest.raises(X.ExploreError, match="nothing to plot"):
        X.plot(rows, "/tmp/never.png")
    with pytest.raises(X.ExploreError, match=".png or .svg"):
        X.plot(rows, "/tmp/never.pdf")


# ---- the command --------------------------------------------------------------------


def test_cli_table(acic):
    code, out, err = acic(
        "explore",
        BNN_PR,
        "-D",
        "BATCH=1,5",
        "-D",
        "IMAGES=20",
        "--mode",
        "strict,dataflow",
        "--jobs",
        "2",
    )
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("BATCH  IMAGES  mode") and len(lines) == 5


def test_cli_json(acic):
    code, out, _ = acic("explore", HELLO, "--json", "--mode", "dataflow")
    assert code == 0
    doc = json.loads(out)
    assert doc["file"] == HELLO
    (row,) = doc["rows"]
    assert (
        row["ok"]
        and row["mode"] == "dataflow"
        and row["prs"] == 1
        and row["tasks"] == 1
        and row["defines"] == {}
    )


def test_cli_plot(acic, tmp_path):
    out = tmp_path / "f.svg"
    code, _, _ = acic("explore", PARALLEL, "-D", "BATCHES=1,2,3", "--plot", out)
    assert code == 0 and b"<svg" in out.read_bytes()


def test_cli_failed_combination_exit_1(acic):
    code, out, err = acic("explore", PARALLEL, "-D", "SLOTS=4,5")
    assert code == 1
    assert "failed: error[E061]" in out and out.splitlines()[1].split()[:2] == ["4", "strict"]
    assert "1 of 2 combinations failed" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-D", "SLOTS=1,x"], "`x` is not an integer"),
        (["-D", "NOPE=1,2"], "there is no const `NOPE`"),
        (["--program", "nope"], "no program `nope`"),
        (["-D", "SLOTS=4", "--plot", "/nonexistent-dir/f.png"], "no directory"),
    ],
)
def test_cli_bad_input_exit_1(acic, argv, message):
    code, out, err = acic("explore", PARALLEL, *argv)
    assert code == 1 and out == "" and message in err


@pytest.mark.parametrize(
    "argv",
    [
        ["-D", "SLOTS"],
        ["--mode", "fast"],
        ["--mode", "strict,"],
        ["--jobs", "0"],
        ["--jobs", "two"],
        ["-D", "SLOTS=4", "--plot", "f.pdf"],
        ["--plot", "f.png"],
        ["--bogus"],
    ],
)
def test_cli_bad_flags_exit_2(acic, argv):
    code, out, err = acic("explore", PARALLEL, *argv)
    assert code == 2 and out == "" and "acic: error:" in err
