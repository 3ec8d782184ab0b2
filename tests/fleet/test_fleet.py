"""A plan on real board daemons (aci.fleet): data-parallel and split pipelines give the
reference scores, and a board killed in the middle of a run (SIGKILL, not started
again) loses no image and repeats none; with no board left, a clear error."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from aci import cli
from aci.fleet import Fleet, FleetError, join_batches, layout, split_batches
from aci.system import System, pipeline

from ..remote.campaign import started_runs
from .conftest import BATCH, BNN, IMAGES

TIMEOUT, PATIENCE = 0.3, 1.5


def scores_of(lay, outputs, images):
    return np.frombuffer(join_batches(lay, outputs, images)["scores"], "<i4").reshape(-1, 10)


def fleet_for(lay, ds, keys, consts, **kw):
    return Fleet(
        lay, [(d.url, keys.board[0]) for d in ds], keys.host, consts, TIMEOUT, PATIENCE, **kw
    )


def runs_started(ds) -> int:
    return sum(sum(started_runs(d.log()).values()) for d in ds)


def test_layout_moves_each_buffer_where_it_is_needed(net):
    lay = layout(net, pipeline(net, System.uniform(3), 4, (1, 2), (1, 1, 1)))
    names = [
        ([b.name for b in s.takes], [b.name for b in s.gives], [b.name for b in s.constants])
        for s in lay.stages
    ]
    assert names == [
        (["images"], ["fm0"], ["w0", "t0"]),
        (["fm0"], ["fm5"], ["w1", "w2", "w3", "w4", "w5", "t1", "t2", "t3", "t4", "t5"]),
        (["fm5"], ["scores"], ["w6", "w7", "w8", "t6", "t7", "t8"]),
    ]
    assert [b.name for b in lay.inputs] == ["images"] and [b.name for b in lay.outputs] == [
        "scores"
    ]
    assert [s.boards for s in lay.stages] == [(0,), (1,), (2,)]
    batches, n = split_batches(lay, {"images": bytes(3 * 32 * 32 * 3)})
    assert n == 3 and len(batches) == 2 and len(batches[1]["images"]) == BATCH * 3 * 32 * 32
    with pytest.raises(FleetError, match="not a whole number of images"):
        split_batches(lay, {"images": bytes(100)})


@pytest.mark.parametrize(
    "cuts, replicas",
    [((), (3,)), ((2,), (2, 1)), ((1, 2), (1, 1, 1))],
    ids=["data-parallel", "conv x2 | classifier", "three stages"],
)
def test_plans_on_three_daemons_give_the_reference_scores(net, data, keys, daemons, cuts, replicas):
    inputs, consts, expect = data
    ds = daemons(3)
    lay = layout(net, pipeline(net, System.uniform(3), 6, cuts, replicas))
    batches, n = split_batches(lay, inputs)
    with fleet_for(lay, ds, keys, consts) as f:
        outputs = f.run(batches)
        runs = [h.runs for h in f.health]
    assert (scores_of(lay, outputs, n) == expect).all()
    assert sum(runs) == len(batches) * len(lay.stages)
    for s in lay.stages:  # each stage on its own boards
        assert sum(runs[b] for b in s.boards) == len(batches)
    assert runs_started(ds) == sum(runs)  # no run twice


def kill_when_running(d):
    d.wait_running()
    d.kill()


@pytest.mark.parametrize(
    "cuts, replicas, victim",
    [((), (3,), 1), ((2,), (2, 1), 2)],
    ids=["a data-parallel board", "the classifier's only board"],
)
def test_a_board_killed_mid_run_loses_and_repeats_nothing(
    net, data, keys, daemons, cuts, replicas, victim
):
    inputs, consts, expect = data
    ds = daemons(3)
    lay = layout(net, pipeline(net, System.uniform(3), 6, cuts, replicas))
    batches, n = split_batches(lay, inputs)
    events = []
    with fleet_for(lay, ds, keys, consts, on_event=events.append) as f:
        killer = threading.Thread(target=kill_when_running, args=(ds[victim],))
        killer.start()
        outputs = f.run(batches)
        killer.join()
        health = list(f.health)
    assert (scores_of(lay, outputs, n) == expect).all()
    assert health[victim].state == "down" and ds[victim].url in health[victim].error
    assert [e["url"] for e in events if e["ev"] == "board_down"] == [ds[victim].url]
    done = sum(h.runs for h in health)
    assert done == len(batches) * len(lay.stages)  # every batch of every stage once
    # The killed board's interrupted run is the only run started without a result.
    assert runs_started(ds) == done + 1
    if cuts:  # the classifier went to a board of the convolutions
        assert any(e["ev"] == "stage_moved" and e["stage"] == 1 for e in events)


def test_no_board_left_is_a_clear_error(net, data, keys, daemons):
    inputs, consts, _ = data
    (d,) = daemons(1)
    lay = layout(net, pipeline(net, System.uniform(1), 6, (), (1,)))
    batches, _ = split_batches(lay, inputs)
    with fleet_for(lay, [d], keys, consts) as f:
        killer = threading.Thread(target=kill_when_running, args=(d,))
        killer.start()
        with pytest.raises(FleetError, match=f"no board remains .*{d.url}.*no answer"):
            f.run(batches)
        killer.join()
        with pytest.raises(FleetError, match="no board remains"):
            f.submit(batches[0]).result(5)


def test_acic_run_on_boards(net, data, keys, daemons, tmp_path, capsys):
    inputs, consts, expect = data
    ds = daemons(2, pace=1.0)
    np.save(tmp_path / "images.npy", np.frombuffer(inputs["images"], "i1").reshape(-1, 3, 32, 32))
    sets = []
    for name, value in consts.items():
        (tmp_path / f"{name}.bin").write_bytes(value)
        sets += ["--set", f"{name}={tmp_path / name}.bin"]
    argv = [
        "run",
        BNN,
        "--boards",
        ",".join(d.url for d in ds),
        "--board-key",
        str(keys.directory / "board.key"),
        "--key",
        str(keys.directory / "host"),
        "--batch",
        str(BATCH),
        "--cuts",
        "2",
        "--set",
        f"images={tmp_path / 'images.npy'}",
        *sets,
        "--get",
        f"scores={tmp_path / 'scores.npy'}",
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert f"{IMAGES} images in 6 batches of {BATCH} on 2 boards" in out
    assert (np.load(tmp_path / "scores.npy") == expect).all()
    # usage errors: exit 2, a line naming the flag
    assert cli.main([*argv[:10], "--replicas", "3,1", *argv[12:]]) == 2
    assert "--replicas" in capsys.readouterr().err
    assert cli.main([*argv, "--trace", str(tmp_path / "t.json")]) == 2
    assert "--trace is not an option of a run on --boards" in capsys.readouterr().err
    # input errors: exit 1, located
    (tmp_path / "bad.npy").write_bytes(b"not an array")
    bad = [a.replace(str(tmp_path / "images.npy"), str(tmp_path / "bad.npy")) for a in argv]
    assert cli.main(bad) == 1
    assert "bad.npy" in capsys.readouterr().err


def test_acic_run_a_bundle_on_boards(net, data, keys, daemons, tmp_path, capsys):
    """A plan written as a bundle (acic plan --bundle's file) runs on the boards."""
    from aci import bundle

    inputs, consts, expect = data
    ds = daemons(2, pace=1.0)
    path = tmp_path / "split.acb"
    bundle.write(pipeline(net, System.uniform(2), 3, (2,), (1, 1)), str(path))
    (tmp_path / "images.bin").write_bytes(inputs["images"])
    sets = []
    for name, value in consts.items():
        (tmp_path / f"{name}.bin").write_bytes(value)
        sets += ["--set", f"{name}={tmp_path / name}.bin"]
    argv = [
        "run",
        str(path),
        "--boards",
        ",".join(d.url for d in ds),
        "--board-key",
        str(keys.directory / "board.key"),
        "--key",
        str(keys.directory / "host"),
        "--set",
        f"images={tmp_path / 'images.bin'}",
        *sets,
        "--get",
        f"scores={tmp_path / 'scores.bin'}",
        "--json",
    ]
    assert cli.main(argv) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["plan"] == "windows 0..1 x1 | windows 2..2 x1" and rep["images"] == IMAGES
    assert (tmp_path / "scores.bin").read_bytes() == expect.astype("<i4").tobytes()
    assert cli.main([*argv, "--batch", "4"]) == 2
    assert "a bundle holds its plan" in capsys.readouterr().err
    (tmp_path / "junk.acb").write_bytes(b"junk")
    assert cli.main([argv[0], str(tmp_path / "junk.acb"), *argv[2:]]) == 2
    assert "is neither" in capsys.readouterr().err
