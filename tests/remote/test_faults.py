"""Issue 14.5: faults, with real processes on loopback. The daemon killed (SIGKILL) in
the middle of a run and started again on its port; the connection cut; messages
dropped, duplicated and delayed by the fault-injecting proxy; the board reset during
a run; a hung core. In each case the host ends with exactly the fault-free result
(RunResult, trace and memory) or a RemoteError naming the board and what was lost,
and the daemon's own log shows no run started twice in one epoch."""

import threading
import time

import pytest

from aci.firmware_sim import run_image_firmware
from aci.pipeline import compile_file
from aci.remote.client import Board, RemoteError
from aci.remote.engine import run_image_remote
from aci.remote.proxy import DROP, DUPLICATE, FORWARD, FaultProxy, RandomFaults, delay

from ..firmware.harness import ROOT, SIM, c_run
from ..run.test_differential import inputs_for
from .campaign import campaign, run_once, started_runs

PIPELINE = ROOT / "programs" / "examples" / "pipeline.aci"
BNN = ROOT / "programs" / "bnn_pr.aci"


@pytest.fixture(scope="module")
def image():
    """A small functional image, its inputs, and its fault-free result."""
    data = compile_file(str(PIPELINE), mode="dataflow").data
    inputs = inputs_for(data)
    return data, inputs, run_once(run_image_firmware, data, inputs)


def paced(data: bytes, seconds: float) -> float:
    """The pacing factor that makes a run of ``data`` take about ``seconds``."""
    return seconds * 1e9 / run_image_firmware(data, timing_only=True).total_ns


class Background(threading.Thread):
    """One remote run in a thread: its fingerprint or its exception."""

    def __init__(self, board, data, inputs):
        super().__init__(daemon=True)
        self.board, self.data, self.inputs = board, data, inputs
        self.result = self.error = None

    def run(self):
        try:
            self.result = run_once(
                lambda d, **kw: run_image_remote(self.board, d, **kw), self.data, self.inputs
            )
        except Exception as e:  # noqa: BLE001 - handed to the test thread, which asserts on it
            self.error = e

    def outcome(self, timeout=60):
        self.join(timeout)
        assert not self.is_alive(), "the run did not end"
        if self.error is not None:
            raise self.error
        return self.result


def run_in_background(board, data, inputs, daemon):
    """A remote run in the background, once the board says it runs; and that STATUS."""
    run = Background(board, data, inputs)
    run.start()
    return run, daemon.wait_running()


def test_daemon_killed_mid_run_and_restarted(image, keys, fresh_daemon):
    data, inputs, expect = image
    d = fresh_daemon(pace=paced(data, 1.0))
    with Board(d.url, keys.board[0], keys.host, timeout=0.3, patience=20) as board:
        run, first = run_in_background(board, data, inputs, d)
        d.kill()
        d.start()
        assert run.outcome() == expect
        assert board.restarts == 1 and d.status()["epoch"] != first["epoch"]
    # The run killed in the first life, the same run again in the second; nothing else.
    started = started_runs(d.log())
    assert sorted(e for _, e in started) == sorted(
        {f"{first['epoch']:016x}", f"{d.status()['epoch']:016x}"}
    )
    assert set(started.values()) == {1}


def test_connection_cut_mid_run(image, keys, fresh_daemon):
    data, inputs, expect = image
    d = fresh_daemon(pace=paced(data, 0.6))
    with FaultProxy(d.url, keys.board[0], keys.proxy) as proxy:
        with Board(proxy.endpoint, proxy.public_key, keys.host, timeout=0.3, patience=20) as board:
            run, _ = run_in_background(board, data, inputs, d)
            proxy.cut()
            assert run.outcome() == expect
            assert board.restarts == 0 and proxy.counts["cut"] == 1
    assert list(started_runs(d.log()).values()) == [1]


@pytest.mark.parametrize("fault", ["drop", "duplicate", "delay"])
def test_every_other_message_faulted(image, keys, daemon, fault):
    """Every second message in each direction is dropped, duplicated or delayed past
    the host's timeout: each request and each reply meets the fault."""
    data, inputs, expect = image
    count = {"up": 0, "down": 0}

    def every_other(direction, frames):
        count[direction] += 1
        if count[direction] % 2:
            return FORWARD
        return {"drop": DROP, "duplicate": DUPLICATE, "delay": delay(0.4)}[fault]

    before = started_runs(daemon.log())
    with FaultProxy(daemon.url, keys.board[0], keys.proxy, every_other) as proxy:
        with Board(proxy.endpoint, proxy.public_key, keys.host, timeout=0.25, patience=20) as board:
            assert (
                run_once(lambda d, **kw: run_image_remote(board, d, **kw), data, inputs) == expect
            )
            assert (board.resent > 0) == (fault != "duplicate")
        assert proxy.counts[fault] >= 5
    assert list((started_runs(daemon.log()) - before).values()) == [1]


def test_random_faults(image, keys, daemon):
    data, inputs, expect = image
    faults = RandomFaults(seed=3, drop=0.15, duplicate=0.15, delay=0.15, cut=0.03, max_delay=0.2)
    before = started_runs(daemon.log())
    with FaultProxy(daemon.url, keys.board[0], keys.proxy, faults) as proxy:
        with Board(proxy.endpoint, proxy.public_key, keys.host, timeout=0.2, patience=20) as board:
            for _ in range(8):
                assert (
                    run_once(lambda d, **kw: run_image_remote(board, d, **kw), data, inputs)
                    == expect
                )
        assert proxy.counts["drop"] and proxy.counts["duplicate"] and proxy.counts["delay"]
    started = started_runs(daemon.log()) - before
    assert len(started) == 8 and set(started.values()) == {1}


def test_reset_during_a_run(image, keys, fresh_daemon):
    """Another client resets the board while the host's run goes on: the run has no
    result; the host loads the image and inputs again and runs it again."""
    data, inputs, expect = image
    d = fresh_daemon(pace=paced(data, 0.6))
    with Board(d.url, keys.board[0], keys.host, timeout=0.3, patience=20) as board:
        run, st = run_in_background(board, data, inputs, d)
        reply = d.request("RESET", epoch=st["epoch"])
        assert reply.name == "RESET_REPLY"
        assert run.outcome() == expect
        assert board.restarts == 1
    # The run stopped by the reset, then the same run in the new epoch.
    started = started_runs(d.log())
    assert len(started) == 2 and set(started.values()) == {1}


def test_hung_core_stops_with_watchdog(keys, fresh_daemon):
    """A slot that never finishes: the board's watchdog stops the run, and the host
    gets the run-time error the firmware's simulator gives for the same hardware."""
    data = compile_file(str(PIPELINE)).data
    d = fresh_daemon(extra=("--slow", "1"))
    expect = c_run(SIM, data, timing_only=True, extra=("--slow", "1"))
    with Board(d.url, keys.board[0], keys.host, timeout=0.5, patience=20) as board:
        lines = []
        r = run_image_remote(board, data, timing_only=True, trace=lambda e: lines.append(e))
    assert expect.error is not None and (r.error.code, r.error.offset) == expect.error
    assert r.error.name == "watchdog"


def test_board_gone_is_a_clear_error(image, keys, fresh_daemon):
    data, inputs, _ = image
    d = fresh_daemon(pace=paced(data, 1.0))
    with Board(d.url, keys.board[0], keys.host, timeout=0.2, patience=1.5) as board:
        run, _ = run_in_background(board, data, inputs, d)
        d.kill()
        with pytest.raises(RemoteError) as e:
            run.outcome()
    assert d.url in str(e.value) and "run" in str(e.value) and "lost" in str(e.value)


def test_unauthorised_key_is_a_clear_error(keys, daemon):
    import zmq

    stranger = zmq.curve_keypair()
    t = time.monotonic()
    with pytest.raises(RemoteError) as e:
        Board(daemon.url, keys.board[0], stranger, timeout=0.2, patience=1.0).connect()
    assert daemon.url in str(e.value) and "key" in str(e.value)
    assert time.monotonic() - t < 5


def test_campaign_slice(image, keys, fresh_daemon):
    """A small slice of bench/bench_remote.py's fault campaign: every run either
    gives the fault-free result or says it was lost; none is wrong or run twice."""
    data, inputs, _ = image
    d = fresh_daemon()
    out = campaign(
        d,
        keys,
        data,
        inputs,
        runs=40,
        seed=5,
        drop=0.03,
        duplicate=0.03,
        delay=0.05,
        cut=0.01,
        kill_mean_s=0.5,
        timeout=0.2,
    )
    assert out.wrong == 0 and out.duplicated == 0 and out.lost == 0, out
    assert out.ok == 40 and out.kills > 0 and out.started >= 40
