"""Systems in the language (docs/language.md, "Systems"): what the checker derives from a
system's placement, its compilation to a bundle, and `acic compile` / `acic schedule`
of a system. Each diagnostic has its corpus file in tests/check/ (e100 .. e105)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aci import bundle, cli
from aci.check import check
from aci.parse import load
from aci.place import place
from aci.program import Flow
from aci.system import HOST, compile_system, simulate

ROOT = Path(__file__).resolve().parents[2]
TWO = ROOT / "programs" / "systems" / "two_stages.aci"
SPLIT = ROOT / "programs" / "systems" / "bnn_split.aci"
OK = ROOT / "tests" / "check" / "ok_system.aci"


def unit_of(path, defines=None):
    return check(load(str(path)), defines)


def test_placement_implies_the_flow():
    (s,) = unit_of(TWO).systems.values()
    assert [b.name for b in s.boards] == ["a", "b"]
    assert [(st.program, st.boards) for st in s.stages] == [("first", ("a",)), ("second", ("b",))]
    assert (s.batches, s.batch, s.streams) == (8, 1, ("data",))
    assert set(s.flows) == {
        Flow("send", "data", -1, 0, True),  # streamed: a slice per batch
        Flow("transfer", "mid", 0, 1, True),  # `first` writes it on a, `second` reads it on b
        Flow("collect", "out", 1, -1, True),
    }
    (bnn,) = unit_of(SPLIT).systems.values()
    constants = {f.buffer for f in bnn.flows if f.kind == "send" and not f.per_batch}
    assert constants == {f"w{i}" for i in range(9)} | {f"t{i}" for i in range(9)}
    assert {f.dst for f in bnn.flows if f.buffer == "w6"} == {1}  # the classifier's weights
    assert [f for f in bnn.flows if f.kind == "transfer"] == [Flow("transfer", "fm5", 0, 1, True)]


def test_a_system_compiles_to_the_plan_its_flow_says():
    unit = unit_of(TWO)
    plan = compile_system(unit, "row")
    first, second = place(unit.programs["first"]), place(unit.programs["second"])
    addr = {p.name: {b.name: b.address for b in p.buffers} for p in (first, second)}
    n = 65_536
    assert [st[1] for st in plan.stages] == [("a",), ("b",)]
    assert [p.program for p, _ in plan.stages] == ["first", "second"]
    batch3 = [s for s in plan.steps if s.batch == 3]
    assert [(s.kind, s.src, s.dst) for s in batch3] == [
        ("send", HOST, "a"),
        ("run", "a", "a"),
        ("transfer", "a", "b"),
        ("run", "b", "b"),
        ("collect", "b", HOST),
    ]
    send, _, xfer, _, collect = batch3
    assert [(m.buffer, m.src, m.dst, m.length) for m in send.moves] == [
        ("data", 3 * n, addr["first"]["data"], n)
    ]
    assert [(m.buffer, m.src, m.dst) for m in xfer.moves] == [
        ("mid", addr["first"]["mid"], addr["second"]["mid"])
    ]
    assert [(m.buffer, m.src, m.dst) for m in collect.moves] == [
        ("out", addr["second"]["out"], 3 * n)
    ]
    assert {h.name: (h.role, h.per_batch, h.size) for h in plan.host_buffers} == {
        "data": ("input", True, 8 * n),
        "out": ("output", True, 8 * n),
    }
    # the bundle holds exactly this plan
    data = bundle.encode(plan)
    assert bundle.decode(data).plan == plan
    assert bundle.encode(bundle.decode(data).plan) == data


def test_replicas_take_the_batches_in_turn():
    plan = compile_system(unit_of(OK), "s")
    runs = [(s.src, s.batch) for s in plan.steps if s.kind == "run"]
    assert runs == [
        ("a", 0), ("c", 0), ("b", 1), ("c", 1), ("a", 2), ("c", 2), ("b", 3), ("c", 3)
    ]  # fmt: skip
    xfers = [(s.src, s.dst, s.batch) for s in plan.steps if s.kind == "transfer"]
    assert xfers == [("a", "c", 0), ("b", "c", 1), ("a", "c", 2), ("b", "c", 3)]
    # `x` is streamed to p1's boards; p2 reads no input: no constants anywhere
    assert all(s.batch >= 0 for s in plan.steps if s.kind == "send")
    r = simulate(plan)
    assert r.boards["a"].count == r.boards["b"].count == 2 and r.boards["c"].count == 4


def test_the_bnn_split_beats_one_board_as_simulated():
    """The split on three boards (convolutions on two) against the same programs'
    whole work on one board: more than 1.5 times the throughput."""
    plan = compile_system(unit_of(SPLIT), "bnnsplit")
    r = simulate(plan)
    one = sum(p.run_ns for p, _ in plan.stages)  # a batch's work on one board
    assert r.images_per_s > 1.5 * plan.batch * 1e9 / one
    assert r.links["b0->b2"].nbytes == 12 * 100 * 1024  # fm5: 1 KiB per image


def test_acic_compile_and_schedule_of_a_system(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compile", str(TWO)]) == 0
    assert "bundle of system `row`" in capsys.readouterr().err
    b = bundle.read("two_stages.acb")
    assert b.plan.name == "row" and set(b.images) == {"a", "b"}

    assert cli.main(["compile", str(TWO), "--program", "first", "-o", "first.acx"]) == 0
    capsys.readouterr()
    assert Path("first.acx").read_bytes() == b.image("a")  # the stage's image, as compiled alone

    assert cli.main(["compile", str(TWO), "--emit", "asm"]) == 0
    assert capsys.readouterr().out.startswith('; ACI bundle, format 1.0\n.bundle name="row"')

    assert cli.main(["schedule", str(TWO), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["total_ns"] == simulate(b.plan).total_ns
    assert set(rep["boards"]) == {"a", "b"}
    assert set(rep["links"]) == {"host->a", "host->b", "a->b", "b->host"}
    assert cli.main(["schedule", str(TWO)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("system row: 8 batches") and "  a->b: 8 transfers" in out
    assert cli.main(["schedule", str(TWO), "--gantt", "g.png"]) == 2


@pytest.mark.parametrize(
    "args",
    [[], ["--program", "nope"]],
    ids=["two systems", "unknown name"],
)
def test_which_system_or_program_is_compiled(tmp_path, capsys, args):
    src = tmp_path / "two.aci"
    text = TWO.read_text().replace('"../', f'"{ROOT}/programs/')
    src.write_text(text + text[text.index("system row") :].replace("system row", "system other"))
    assert cli.main(["compile", str(src), "-o", str(tmp_path / "x")] + args) == 1
    err = capsys.readouterr().err
    assert "E091" in err and "systems: other, row" in err


def test_acic_plan_writes_a_system_program_that_compiles_to_its_plan(tmp_path, capsys):
    """plan -> system program -> bundle: the program `acic plan -o` writes checks,
    compiles to a bundle, and simulates to the chosen plan's figures; so does a split."""
    from aci.system import System, network, pipeline, system_source

    bnn = str(ROOT / "programs" / "bnn_auto.aci")
    out = tmp_path / "planned.aci"
    args = ["plan", bnn, "--boards", "2", "--batch", "10", "--batches", "4", "--json"]
    assert cli.main(args + ["-o", str(out)]) == 0
    chosen = json.loads(capsys.readouterr().out)["chosen"]
    defines = ["-D", "IMAGES=10", "-D", "BATCH=10"]
    assert cli.main(["compile", str(out), "-o", str(tmp_path / "p.acb"), *defines]) == 0
    b = bundle.read(str(tmp_path / "p.acb"))
    assert [boards for _, boards in b.plan.stages] == [("b0", "b1")]
    assert simulate(b.plan).total_ns == pytest.approx(chosen["total_ns"], rel=1e-3)

    net = network(bnn, 10)
    split = pipeline(net, System.uniform(3, target=net.target), 4, (2,), (2, 1))
    src = tmp_path / "split.aci"
    src.write_text(system_source(net, split, str(src)))
    unit = unit_of(src, {"IMAGES": "10", "BATCH": "10"})
    (name,) = unit.systems
    plan = compile_system(unit, name)
    assert [boards for _, boards in plan.stages] == [("b0", "b1"), ("b2",)]
    assert [s.kind for s in plan.steps] == [s.kind for s in split.steps]
    assert simulate(plan).total_ns == pytest.approx(simulate(split).total_ns, rel=1e-3)
    assert cli.main(["plan", bnn, "--boards", "1,2", "-o", str(out)]) == 2


def test_acic_check_names_the_systems(capsys):
    assert cli.main(["check", str(TWO)]) == 0
    assert capsys.readouterr().out.endswith("ok (first, second; system row)\n")
    assert cli.main(["check", "--format", "json", str(TWO)]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["files"]
    assert (entry["programs"], entry["systems"]) == (["first", "second"], ["row"])
