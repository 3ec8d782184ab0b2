"""The fault campaign: many runs of one image through a fault-injecting proxy to a
board daemon that is killed and started again at random, each run's result
compared with the fault-free one.

``campaign(daemon, keys, data, inputs, runs, seed, ...) -> Outcome`` (a daemon
started by the caller). Faults: the proxy drops, duplicates and delays messages
and cuts its connections with the given probabilities per message; a killer
thread SIGKILLs the daemon after a random time (exponential, ``kill_mean_s`` on
average) and starts it again on the same port. Counted:

- ``ok``: runs whose result is the fault-free one: the same RunResult, the same
  trace, byte for byte, and the same memory;
- ``lost``: runs that ended with a RemoteError (no result: the host said so);
- ``wrong``: runs that returned a result other than the fault-free one (the worst
  case: must be 0);
- ``duplicated``: runs the board started more than once in one of its lives, by
  its own log of the runs it starts (sequence number and epoch);
- ``started``: the runs that log shows in all (at least ``runs``: a run lost with
  a killed daemon is started again in its next life).
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter

import attrs

from aci.firmware_sim import run_image_firmware
from aci.remote.client import Board, RemoteError
from aci.remote.engine import run_image_remote
from aci.remote.proxy import FaultProxy, RandomFaults
from aci.trace import dumps

from .harness import Daemon, Keys


@attrs.define
class Outcome:
    runs: int = 0
    ok: int = 0
    lost: int = 0
    wrong: int = 0
    duplicated: int = 0
    started: int = (
        0  # runs the daemon's log shows started (a run killed with the daemon is started again)
    )
    kills: int = 0
    restarts_seen: int = 0
    resent: int = 0
    faults: dict = attrs.Factory(dict)
    seconds: float = 0.0
    errors: list = attrs.Factory(list)


def fingerprint(result, lines: list[str]) -> tuple:
    memory = (
        tuple(result.board.read(lo, hi - lo) for lo, hi in result.board.extents)
        if result.board
        else ()
    )
    return result.to_json(), result.sync, "".join(lines), memory


def run_once(engine, data, inputs):
    lines: list[str] = []
    r = engine(data, inputs=inputs, trace=lambda e: lines.append(dumps(e) + "\n"))
    return fingerprint(r, lines)


class Killer(threading.Thread):
    """Kills the daemon (SIGKILL) now and then and starts it again on its port."""

    def __init__(self, daemon: Daemon, mean_s: float, seed: int):
        super().__init__(name="killer", daemon=True)
        self.daemon_, self.mean_s = daemon, mean_s
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.kills = 0

    def run(self) -> None:
        while not self.stop.wait(self.rng.expovariate(1 / self.mean_s)):
            self.daemon_.kill()
            self.kills += 1
            self.daemon_.start()


def campaign(
    daemon: Daemon,
    keys: Keys,
    data: bytes,
    inputs: dict,
    runs: int,
    seed: int = 1,
    drop: float = 0.01,
    duplicate: float = 0.01,
    delay: float = 0.02,
    cut: float = 0.002,
    kill_mean_s: float = 1.0,
    timeout: float = 0.25,
) -> Outcome:
    expect = run_once(run_image_firmware, data, inputs)
    out = Outcome()
    faults = RandomFaults(
        seed, drop=drop, duplicate=duplicate, delay=delay, cut=cut, max_delay=timeout / 2
    )
    t0 = time.monotonic()
    with FaultProxy(daemon.url, keys.board[0], keys.proxy, faults) as proxy:
        board = Board(proxy.endpoint, proxy.public_key, keys.host, timeout=timeout, patience=30)
        killer = Killer(daemon, kill_mean_s, seed) if kill_mean_s else None
        if killer:
            killer.start()
        try:
            board.connect()
            for _ in range(runs):
                out.runs += 1
                try:
                    got = run_once(lambda d, **kw: run_image_remote(board, d, **kw), data, inputs)
                except RemoteError as e:
                    out.lost += 1
                    out.errors.append(str(e))
                    continue
                if got == expect:
                    out.ok += 1
                else:
                    out.wrong += 1
        finally:
            if killer:
                killer.stop.set()
                killer.join()
                out.kills = killer.kills
            board.close()
        out.faults = dict(proxy.counts)
    out.restarts_seen, out.resent = board.restarts, board.resent
    out.seconds = time.monotonic() - t0
    started = started_runs(daemon.log())
    out.started = sum(started.values())
    out.duplicated = sum(n - 1 for n in started.values())
    return out


def started_runs(log: str) -> Counter:
    """(sequence number, epoch) -> how often the daemon's log shows that run started
    (its lines ``acifw-board: run SEQ started in epoch EPOCH ...``)."""
    return Counter(m.groups() for m in re.finditer(r"run (\d+) started in epoch ([0-9a-f]+)", log))
