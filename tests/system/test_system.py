"""The system simulator and the planner (docs/system.md) on the BNN of programs/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aci import cli
from aci.system import (
    HOST,
    Link,
    PlanError,
    System,
    candidates,
    network,
    pipeline,
    plan,
    simulate,
    to_perfetto,
)

ROOT = Path(__file__).resolve().parents[2]
BNN = str(ROOT / "programs" / "bnn_auto.aci")
BATCH = 100


@pytest.fixture(scope="module")
def net():
    return network(BNN, BATCH)


def test_network_cut_at_its_windows(net):
    assert len(net.windows) == 3  # FP_CONV | the five BIN_CONVs | the three BIN_FCs
    assert net.per_batch == {"images", "scores"}  # weights are constants, sent once
    assert net.crossing(0) == BATCH * 3 * 32 * 32  # the images, i8
    assert net.crossing(1) == BATCH * 128 * 32 * 32 // 8  # fm0, bits
    assert net.crossing(2) == BATCH * 8192 // 8  # fm5: the convolutions' output, the smallest
    assert net.crossing(3) == BATCH * 10 * 4  # the scores
    whole, parts = net.part(0, 3), [net.part(0, 1), net.part(1, 2), net.part(2, 3)]
    # each run pays its own first reconfigurations and completion: the parts sum to a little more
    assert whole.run_ns < sum(p.run_ns for p in parts) < whole.run_ns * 1.01


def test_one_board_one_batch_is_load_send_run_collect(net):
    system = System.uniform(1, 10**10, 20_000)
    p = pipeline(net, system, 1, (), (1,))
    part = p.stages[0][0]
    link = system.link(HOST, "b0")
    weights = sum(net.sizes[n] for n in net.constants)
    assert [(s.kind, s.batch) for s in p.steps] == [
        ("load", -1),
        ("send", -1),  # the weights and thresholds, once
        ("send", 0),
        ("run", 0),
        ("collect", 0),
    ]
    assert p.steps[1].nbytes == weights == sum(m.length for m in p.steps[1].moves)
    expected = (
        link.transfer_ns(len(part.data))
        + link.transfer_ns(weights)
        + link.transfer_ns(part.in_bytes)
        + part.run_ns
        + link.transfer_ns(part.out_bytes)
    )
    assert simulate(p).total_ns == expected
    assert link.transfer_ns(1250) == 20_000 + 1000  # 10 kbit at 10 Gb/s


def test_steps_say_which_bytes_move_where(net):
    """Every send, transfer and collect names its buffers, with board addresses and the
    host's offsets; the host buffers are what a run needs and returns."""
    p = pipeline(net, System.uniform(2), 3, (2,), (1, 1))
    first, second = (part for part, _ in p.stages)
    assert net.constants == {f"w{i}" for i in range(9)} | {f"t{i}" for i in range(9)}
    assert net.constants_of(0, 2) == tuple(
        sorted({f"w{i}" for i in range(6)} | {f"t{i}" for i in range(6)})
    )
    sends = [s for s in p.steps if s.kind == "send" and s.batch == 2]
    assert [(m.buffer, m.src, m.dst, m.length) for s in sends for m in s.moves] == [
        ("images", 2 * net.sizes["images"], net.addresses["images"], net.sizes["images"])
    ]
    (xfer,) = [s for s in p.steps if s.kind == "transfer" and s.batch == 1]
    assert (xfer.src, xfer.dst) == ("b0", "b1")
    assert [(m.buffer, m.src, m.dst) for m in xfer.moves] == [
        ("fm5", net.addresses["fm5"], net.addresses["fm5"])
    ]
    (col,) = [s for s in p.steps if s.kind == "collect" and s.batch == 1]
    assert [(m.buffer, m.src, m.dst, m.length) for m in col.moves] == [
        ("scores", net.addresses["scores"], net.sizes["scores"], net.sizes["scores"])
    ]
    host = {h.name: h for h in p.host_buffers}
    assert host["images"].per_batch and host["images"].size == 3 * net.sizes["images"]
    assert host["scores"].role == "output" and host["scores"].size == 3 * net.sizes["scores"]
    assert not host["w6"].per_batch and host["w6"].size == net.sizes["w6"]
    # each board gets the constants of its own part only
    consts = {
        s.dst: {m.buffer for m in s.moves} for s in p.steps if s.kind == "send" and s.batch < 0
    }
    assert consts == {"b0": set(net.constants_of(0, 2)), "b1": set(net.constants_of(2, 3))}
    assert first.in_bytes == net.sizes["images"] and second.in_bytes == net.sizes["fm5"]


def test_data_parallel_scales_with_the_boards(net):
    one = simulate(pipeline(net, System.uniform(1), 8, (), (1,))).images_per_s
    for n in (2, 4):
        r = simulate(pipeline(net, System.uniform(n), 8 * n, (), (n,)))
        assert r.images_per_s >= 0.95 * n * one
        assert all(u.count == 8 for u in r.boards.values())


def test_a_stage_waits_for_the_previous_ones_transfer(net):
    events = []
    p = pipeline(net, System.uniform(2), 3, (2,), (1, 1))
    r = simulate(p, events.append)
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    ends = {
        (e["link"], e["batch"]): e["t"] for e in events if e["ev"] == "xfer_end" and "link" in e
    }
    starts = {e["batch"]: e["t"] for e in events if e["ev"] == "run_start" and e["board"] == "b1"}
    for k in range(3):
        assert starts[k] >= ends[("b0->b1", k)]
    assert r.links["b0->b1"].nbytes == 3 * net.crossing(2)
    tracks = {
        e["args"]["name"] for e in to_perfetto(events)["traceEvents"] if e["name"] == "thread_name"
    }
    assert tracks == {"b0", "b1", "host->b0", "host->b1", "b0->b1", "b1->host"}


def test_the_planner_takes_the_best_simulated_candidate(net):
    cands = candidates(net, System.uniform(3), 6)
    rates = [c.result.images_per_s for c in cands]
    assert rates == sorted(rates, reverse=True)
    assert cands[0].rule == "data-parallel"
    assert {c.rule for c in cands} == {"data-parallel", "split", "smallest-output split"}
    assert len(cands) == 8  # x3; 2 cuts x (1,1), (2,1), (1,2); the 3-stage split


def test_a_slow_host_link_makes_the_split_win(net):
    """Board b1 is far from the host (0.5 Mb/s) but near b0: data-parallel starves b1;
    the split feeds it the convolutions' 1 KiB per image from b0 instead."""
    fast = 10**10
    system = System(
        ("b0", "b1"),
        (
            Link(HOST, "b0", fast, 20_000),
            Link(HOST, "b1", 500_000, 20_000),
            Link("b0", "b1", fast, 20_000),
        ),
    )
    best = plan(net, system, 6)
    assert best.rule == "smallest-output split"
    dp = simulate(pipeline(net, system, 6, (), (2,)))
    assert best.result.images_per_s > dp.images_per_s


def test_bad_plans_are_refused(net):
    with pytest.raises(PlanError):
        pipeline(net, System.uniform(2), 1, (1, 2), (1, 1, 1))
    with pytest.raises(PlanError):
        System.uniform(0)
    with pytest.raises(KeyError):
        System(("b0", "b1"), (Link(HOST, "b0", 1, 0),)).link("b0", "b1")


def test_acic_plan(tmp_path, capsys):
    out = tmp_path / "trace.json"
    assert (
        cli.main(["plan", BNN, "--boards", "2", "--batches", "4", "--json", "--perfetto", str(out)])
        == 0
    )
    rep = json.loads(capsys.readouterr().out)
    assert rep["chosen"]["plan"] == "data-parallel x2"
    assert rep["alternatives"][0]["images_per_s"] == max(
        a["images_per_s"] for a in rep["alternatives"]
    )
    assert {
        e["args"]["name"]
        for e in json.loads(out.read_text())["traceEvents"]
        if e["name"] == "thread_name"
    } >= {"b0", "b1", "host->b0"}
    assert cli.main(["plan", BNN, "--boards", "0"]) == 2
    assert cli.main(["plan", str(tmp_path / "missing.aci"), "--boards", "2"]) == 1


def test_acic_plan_over_several_numbers_of_boards(capsys):
    assert cli.main(["plan", BNN, "--boards", "1,3", "--batches", "6", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["boards"] for r in rows] == [1, 3]
    assert [r["candidates"] for r in rows] == [1, 8]
    assert rows[1]["images_per_s"] >= 0.95 * 3 * rows[0]["images_per_s"]
    assert cli.main(["plan", BNN, "--boards", "1,x"]) == 2
    assert cli.main(["plan", BNN, "--boards", "1,2", "--perfetto", "t.json"]) == 2


def test_acic_explore_over_the_number_of_boards(capsys):
    """`acic explore --boards` is the planner's sweep: one row per number of boards."""
    args = ["explore", BNN, "--boards", "1,2", "-D", "BATCH=10", "--json"]
    assert cli.main(args) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["boards"], r["plan"]) for r in rows] == [
        (1, "data-parallel x1"),
        (2, "data-parallel x2"),
    ]
    assert rows[1]["images_per_s"] >= 1.9 * rows[0]["images_per_s"]
    assert cli.main(["explore", BNN, "--boards", "3", "--json"]) == 0
    assert [r["boards"] for r in json.loads(capsys.readouterr().out)["rows"]] == [3]
    assert cli.main(["explore", BNN, "--boards", "2", "-D", "BATCH=1,2"]) == 2
    assert cli.main(["explore", BNN, "--boards", "2", "--mode", "dataflow"]) == 2
