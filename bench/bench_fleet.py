"""Plans on real, paced board daemons over loopback, and the inference service
(issue 15's targets for real boards).

Board daemons (firmware/build/acifw-board, CURVE on) started here on 127.0.0.1 with
``--pace 1``: a run takes its simulated time in wall-clock time, so measured
images per second compare directly with the system simulator's. The boards run
timing only (``--timing-only``: no core computes, the pacing is the run's whole
time; this machine's two cores could not compute four boards' BNNs at a real
board's pace), while everything around the runs is real: the sessions, the images
loaded, every batch's 307,200 bytes of images written and its scores read, over
CURVE.

* ``fleet``: the BNN (programs/bnn_auto.aci) at 100 images per batch, data-parallel
  on 1 to 4 boards, ``--batches`` batches per board, run by aci.fleet; images per
  second from the first connection to the last batch's scores, against N x one
  board and against ``aci.system.simulate`` of the same plan (10 Gb/s, 20 us links).
  Also one split plan on 3 boards (the convolutions on two boards, the classifier
  on the third: fm5 moved through the host).
* ``serve``: ``acic serve`` as a process on 2 paced boards, batches of 25 images;
  a load generator keeps a fixed number of requests outstanding (1: a light load,
  each image alone in a batch; 200: saturation, full batches) and measures each
  request's latency, from sending it to its RESULT; requests per second, p50 and
  p99.

Prints one JSON object.

    .venv/bin/python bench/bench_fleet.py [--batches 6] [--pace 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zmq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci import service as W  # noqa: E402
from aci.daemon import keygen, read_pair, read_public  # noqa: E402
from aci.fleet import Fleet, layout, split_batches  # noqa: E402
from aci.system import System, network, pipeline, simulate  # noqa: E402
from tests.remote.harness import Daemon, Keys  # noqa: E402

BNN = str(ROOT / "programs" / "bnn_auto.aci")
BATCH = 100
SERVE_BATCH = 25


def run_plan(net, ds, keys, batches: int, cuts, replicas) -> dict:
    n = len(ds)
    plan = pipeline(net, System.uniform(n), batches, cuts, replicas)
    lay = layout(net, plan)
    rng = np.random.default_rng(0)
    images = rng.integers(-128, 128, batches * net.sizes["images"], dtype=np.int8).tobytes()
    work, count = split_batches(lay, {"images": images})
    start = time.perf_counter()
    with Fleet(
        lay, [(d.url, keys.board[0]) for d in ds], keys.host, timing_only=True, patience=30
    ) as f:
        outs = f.run(work)
        runs = [h.runs for h in f.health]
    wall = time.perf_counter() - start
    assert len(outs) == batches and sum(runs) == batches * len(lay.stages)
    sim = simulate(plan)
    return {
        "boards": n,
        "plan": plan.name,
        "images": count,
        "batches": batches,
        "wall_s": wall,
        "images_per_s": count / wall,
        "simulated_s": sim.total_ns / 1e9,
        "simulated_images_per_s": sim.images_per_s,
        "over_simulated": (count / wall) / sim.images_per_s,
        "runs": runs,
    }


def fleet_bench(d: Path, keys: Keys, per_board: int, pace: float) -> dict:
    net = network(BNN, BATCH)
    out = []
    ds = [Daemon(keys, d / f"fleet{i}", pace=pace).start() for i in range(4)]
    try:
        for n in range(1, 5):
            out.append(run_plan(net, ds[:n], keys, per_board * n, (), (n,)))
        one = out[0]["images_per_s"]
        for r in out:
            r["over_n_times_one"] = r["images_per_s"] / (r["boards"] * one)
        split = run_plan(net, ds[:3], keys, per_board * 3, (2,), (2, 1))
    finally:
        for x in ds:
            x.stop()
    return {"scaling": out, "split": split}


def load(url: str, server_key: bytes, app, image: bytes, outstanding: int, requests: int) -> dict:
    """``requests`` CLASSIFYs, ``outstanding`` of them in flight at any time."""
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.curve_serverkey = server_key
    s.curve_publickey, s.curve_secretkey = app
    s.connect(url)
    rid = time.time_ns()
    sent_at: dict[int, float] = {}
    latencies = []
    sent = 0
    start = time.perf_counter()
    while len(latencies) < requests:
        while sent < requests and len(sent_at) < outstanding:
            rid += 1
            sent_at[rid] = time.perf_counter()
            s.send(W.pack("CLASSIFY", rid, image, input_bytes=len(image)))
            sent += 1
        if not s.poll(30_000):
            raise RuntimeError("the service stopped answering")
        msg = W.unpack(s.recv())
        if msg.name != "RESULT":
            raise RuntimeError(f"the service answered {msg.name}: {msg.payload!r}")
        latencies.append(time.perf_counter() - sent_at.pop(msg.request_id))
    wall = time.perf_counter() - start
    s.close(0)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "outstanding": outstanding,
        "requests": requests,
        "wall_s": wall,
        "requests_per_s": requests / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * q[98],
    }


def serve_bench(d: Path, keys: Keys, pace: float) -> dict:
    keygen(d / "app")
    app = read_pair(d / "app")
    (d / "apps").write_bytes(app[0] + b"\n")
    ds = [Daemon(keys, d / f"serve{i}", pace=pace).start() for i in range(2)]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aci",
            "serve",
            BNN,
            "--boards",
            ",".join(x.url for x in ds),
            "--board-key",
            str(keys.directory / "board.key"),
            "--key",
            str(keys.directory / "host"),
            "--authorized-keys",
            str(d / "apps"),
            "--bind",
            "tcp://127.0.0.1:*",
            "--batch",
            str(SERVE_BATCH),
            "--timing-only",
            "--status-interval",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        url = proc.stdout.readline().split()[-1]
        key = read_public(keys.directory / "host.key")
        image = bytes(3 * 32 * 32)
        load(url, key, app, image, 1, 5)  # the boards' images loaded
        loads = [load(url, key, app, image, 1, 40), load(url, key, app, image, 200, 2000)]
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
        for x in ds:
            x.stop()
    net = network(BNN, SERVE_BATCH)
    run_s = net.part(0, len(net.windows)).run_ns / 1e9
    return {
        "boards": 2,
        "batch": SERVE_BATCH,
        "run_s": run_s,
        "capacity_per_s": 2 * SERVE_BATCH / run_s,
        "loads": loads,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=6, help="batches per board (default 6)")
    ap.add_argument("--pace", type=float, default=1.0, help="the daemons' pace (default 1)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)
        keys = Keys.make(d / "keys")
        out = {"pace": args.pace, "batch": BATCH, "batches_per_board": args.batches}
        out["fleet"] = fleet_bench(d, keys, args.batches, args.pace)
        out["serve"] = serve_bench(d, keys, args.pace)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
