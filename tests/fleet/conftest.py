"""Board daemons for the fleet tests: real, paced processes on 127.0.0.1
(tests/remote/harness.py), and the BNN of programs/ in small batches with its
generated weights and reference scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aci.cores import bnndata
from aci.system import network

from ..remote.harness import Daemon, Keys

ROOT = Path(__file__).resolve().parents[2]
BNN = str(ROOT / "programs" / "bnn_auto.aci")
BATCH = 2
IMAGES = 11  # five whole batches and a padded one
PACE = 4.0  # a run of one batch: about 0.1 s


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    return Keys.make(tmp_path_factory.mktemp("fleet-keys"))


@pytest.fixture(scope="session")
def net():
    return network(BNN, BATCH)


@pytest.fixture(scope="session")
def data():
    """(per-batch inputs of the whole run, constants, reference scores)."""
    gen = bnndata.generate(3, IMAGES)
    consts = {k: np.ascontiguousarray(v).tobytes() for k, v in gen.items() if k != "images"}
    return {"images": gen["images"].tobytes()}, consts, bnndata.forward(gen)


@pytest.fixture
def daemons(keys, tmp_path):
    """start(n, pace=PACE) -> n daemons of the test's own, stopped at the end."""
    started: list[Daemon] = []

    def start(n: int, pace: float = PACE) -> list[Daemon]:
        new = [Daemon(keys, tmp_path / f"d{len(started) + i}", pace=pace) for i in range(n)]
        started.extend(new)
        return [d.start() for d in new]

    yield start
    for d in started:
        d.stop()
