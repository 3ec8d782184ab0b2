"""The remote board over loopback: the board daemon as a real process, CURVE on, the
host's aci.remote.Board (issue 14's targets).

- create and transfer: the BNN (programs/bnn_pr.aci, BATCH=25, dataflow) compiled
  and sent to a board that validates, prepares and acknowledges it, from source to
  LOAD's reply (a new session each time: CURVE handshake and HELLO included; the
  best of 20, as bench_compile.py times compiling), against the seed's 1.33 s;
- status round trip: one STATUS request and its reply;
- protocol cost per run: a small image (programs/examples/pipeline.aci) run again
  and again through the daemon (LOAD, inputs, RUN, trace, memory back: the whole
  ``acic run --engine remote`` path) against the local C engine (``--engine
  firmware``) on the same image, and the RUN round trip less the board's own
  run time;
- image load: MB/s of LOAD (transfer, validation, preparation, acknowledgement) for
  a synthetic image of a few MB;
- functional BNN: images/s through the daemon (the remote engine, and a session
  loading, writing the inputs, running and reading the scores) against the local C
  engine on the same image and inputs, scores checked against the reference;
- the fault campaign (tests/remote/campaign.py): runs through a fault-injecting
  proxy dropping, duplicating and delaying messages and cutting connections, while
  the daemon is killed and restarted; lost, wrong and duplicated results counted.

Prints one JSON object.

    .venv/bin/python bench/bench_remote.py [--campaign-runs 1000] [--images 100] [--load-tasks 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import attrs
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci import protocol as P  # noqa: E402 (after sys.path.insert)
from aci.cores import bnndata  # noqa: E402 (after sys.path.insert)
from aci.decode import decode  # noqa: E402 (after sys.path.insert)
from aci.firmware_sim import run_image_firmware  # noqa: E402 (after sys.path.insert)
from aci.pipeline import compile_file  # noqa: E402 (after sys.path.insert)
from aci.remote.client import Board  # noqa: E402 (after sys.path.insert)
from aci.remote.engine import run_image_remote  # noqa: E402 (after sys.path.insert)
from bench.bench_firmware import synthetic  # noqa: E402 (after sys.path.insert)
from tests.remote.campaign import campaign  # noqa: E402 (after sys.path.insert)
from tests.remote.harness import Daemon, Keys  # noqa: E402 (after sys.path.insert)

SEED_CREATE_S = 1.33


def timed(f, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return times


def median_time(f, n: int) -> float:
    return statistics.median(timed(f, n))


def best_time(f, n: int) -> float:
    """The fastest of n calls (as bench_compile.py times compiling)."""
    return min(timed(f, n))


def create_and_transfer(daemon: Daemon, keys: Keys, n: int = 20) -> dict:
    """Source to acknowledged image: compile in process, then a new session (CURVE
    handshake, HELLO) and LOAD, which the board validates and prepares before it
    answers."""
    src = str(ROOT / "programs" / "bnn_pr.aci")
    data = compile_file(src, {"BATCH": "25"}, mode="dataflow").data

    def transfer(image):
        with Board(daemon.url, keys.board[0], keys.host) as b:
            assert b.load(image) is None

    create = best_time(lambda: compile_file(src, {"BATCH": "25"}, mode="dataflow"), n)
    send = best_time(lambda: transfer(data), n)
    both = best_time(lambda: transfer(compile_file(src, {"BATCH": "25"}, mode="dataflow").data), n)
    strict = compile_file(src, {"BATCH": "25"}, mode="strict").data
    both_strict = best_time(
        lambda: transfer(compile_file(src, {"BATCH": "25"}, mode="strict").data), n
    )
    return {
        "create_transfer_s": both,
        "create_s": create,
        "transfer_s": send,
        "bnn_image_bytes": len(data),
        "create_transfer_vs_seed": both / SEED_CREATE_S,
        "create_transfer_strict_s": both_strict,
        "bnn_strict_image_bytes": len(strict),
    }


def status_round_trip(board: Board, n: int = 2000) -> float:
    board.status()
    t = time.perf_counter()
    for _ in range(n):
        board.status()
    return (time.perf_counter() - t) / n


def inputs_for(data: bytes) -> dict:
    img = decode(data)
    rng = np.random.default_rng(7)
    return {
        b.name: rng.integers(0, 256, b.size, dtype=np.uint8).tobytes()
        for b in img.symbols.buffers
        if b.role == "input"
    }


def per_run(board: Board, n: int = 200) -> dict:
    data = compile_file(str(ROOT / "programs" / "examples" / "pipeline.aci"), mode="dataflow").data
    inputs = inputs_for(data)
    lines = []
    run_image_remote(board, data, inputs=inputs, trace=lines.append)
    remote = median_time(
        lambda: run_image_remote(board, data, inputs=inputs, trace=lines.append), n
    )
    local = median_time(
        lambda: run_image_firmware(data, inputs=inputs, trace=lines.append), max(20, n // 5)
    )
    # RUN alone: its round trip less the board's own time for the run.
    board.load(data)
    walls, trips = [], []
    for _ in range(n):
        t = time.perf_counter()
        res, _ = board.run()
        trips.append(time.perf_counter() - t)
        walls.append(res["wall_ns"] / 1e9)
    return {
        "remote_run_s": remote,
        "local_run_s": local,
        "run_round_trip_s": statistics.median(trips),
        "protocol_per_run_s": statistics.median(t - w for t, w in zip(trips, walls, strict=True)),
    }


def load_throughput(board: Board, tasks: int) -> dict:
    data = synthetic(tasks)
    board.load(data)
    s = best_time(lambda: board.load(data), 5)
    return {"load_bytes": len(data), "load_s": s, "load_mb_per_s": len(data) / s / 1e6}


def bnn_throughput(board: Board, images: int) -> dict:
    """Functional BNN (bnn_static.aci): the local C engine (acifw-sim, a process per
    run), the remote engine (the same calls: whole memory back) and a session that
    does per run what a deployed host does: load the image, write every input, run,
    read the scores. Every path's scores are checked against the reference."""
    data = compile_file(str(ROOT / "programs" / "bnn_static.aci"), {"IMAGES": str(images)}).data
    gen = bnndata.generate(1, images)
    expect = bnndata.forward(gen)
    inputs = {k: np.ascontiguousarray(v) for k, v in gen.items()}
    img = decode(data)
    buffers = {b.name: b for b in img.symbols.buffers}
    scores = buffers["scores"]

    def session():
        board.load(data)
        for name, value in inputs.items():
            board.write(value.tobytes(), buffers[name].address)
        res, _ = board.run()
        assert res["error_code"] == 0
        return np.frombuffer(board.read(scores.size, scores.address), "<i4").reshape(expect.shape)

    out = {"bnn_images": images}
    for name, engine in (
        (
            "local",
            lambda: run_image_firmware(data, inputs=inputs, outputs=["scores"]).board.array(
                "scores"
            ),
        ),
        (
            "remote",
            lambda: run_image_remote(board, data, inputs=inputs, outputs=["scores"]).board.array(
                "scores"
            ),
        ),
        ("session", session),
    ):
        assert (engine() == expect).all(), f"{name}: scores differ from the reference"
        out[f"bnn_{name}_images_per_s"] = images / median_time(engine, 3)
    out["bnn_remote_vs_local"] = out["bnn_remote_images_per_s"] / out["bnn_local_images_per_s"]
    out["bnn_session_vs_local"] = out["bnn_session_images_per_s"] / out["bnn_local_images_per_s"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--campaign-runs", type=int, default=1000, help="runs of the fault campaign (default 1000)"
    )
    ap.add_argument(
        "--load-tasks",
        type=int,
        default=100_000,
        help="tasks of the synthetic image whose LOAD is timed (default 100000: a few MB)",
    )
    ap.add_argument(
        "--images", type=int, default=100, help="images of the functional BNN run (default 100)"
    )
    args = ap.parse_args()
    out = {"protocol": f"{P.VERSION_MAJOR}.{P.VERSION_MINOR}"}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        keys = Keys.make(d / "keys")
        with Daemon(keys, d) as daemon:
            out.update(create_and_transfer(daemon, keys))
            with Board(daemon.url, keys.board[0], keys.host) as board:
                out["status_round_trip_s"] = status_round_trip(board)
                out.update(per_run(board))
                out.update(load_throughput(board, args.load_tasks))
                out.update(bnn_throughput(board, args.images))
        (d / "campaign").mkdir()
        with Daemon(keys, d / "campaign") as daemon:
            data = compile_file(
                str(ROOT / "programs" / "examples" / "pipeline.aci"), mode="dataflow"
            ).data
            c = campaign(daemon, keys, data, inputs_for(data), args.campaign_runs, seed=1)
        out["campaign"] = {k: v for k, v in attrs.asdict(c).items() if k != "errors"} | {
            "first_errors": c.errors[:3]
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
