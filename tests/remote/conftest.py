"""Board daemons for the remote tests: real processes on 127.0.0.1, ephemeral ports,
started and stopped here (harness.py)."""

import pytest

from aci.remote.client import Board

from ..firmware.harness import C_MODELS
from .harness import Daemon, Keys


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    return Keys.make(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def daemon(keys, tmp_path_factory):
    """One daemon for a module's tests that leave it as they found it."""
    models = [arg for lib in C_MODELS for arg in ("--models", str(lib))]  # the example's user core
    with Daemon(keys, tmp_path_factory.mktemp("daemon"), extra=models) as d:
        yield d


@pytest.fixture
def fresh_daemon(keys, tmp_path):
    """A daemon of the test's own (to kill, reset or slow down); stopped at the end."""
    daemons = []

    def start(**options):
        d = Daemon(keys, tmp_path / f"d{len(daemons)}", **options)
        daemons.append(d)
        return d.start()

    yield start
    for d in daemons:
        d.stop()


@pytest.fixture(scope="module")
def board(daemon, keys):
    with Board(daemon.url, keys.board[0], keys.host) as b:
        yield b
