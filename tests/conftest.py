"""What every test directory shares: the engines.

``ENGINES`` lists the engines the run, conformance and differential tests run on
(docs/testing.md, "Engines"): a name of :data:`aci.engine.ENGINES` and a context
manager that opens one session of it for the whole test session, starting whatever
it needs (a build, a server) and stopping it afterwards. A new engine is tested by
adding one line here. The ``engine`` fixture runs a test once per engine; the
``other_engine`` fixture once per engine that is not the reference interpreter, for
tests that compare an engine against it.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

import pytest

from aci.engine import open_engine

REFERENCE = "python"


def _with_example_models(engine):
    """Every session runs the example's user core (programs/examples/custom_core.aci)
    with its models, each engine taking the kind it runs (docs/models.md), so that
    every shipped program runs functionally on every engine."""
    from tests.firmware.harness import C_MODELS, PY_MODELS

    engine.models = (*PY_MODELS, *C_MODELS)
    return engine


@contextmanager
def _python(tmp_path_factory):
    yield _with_example_models(open_engine("python"))


def _firmware(build: str):
    @contextmanager
    def opened(tmp_path_factory):
        from tests.firmware.harness import BUILD, make

        make()  # a no-op when the build is current
        engine = _with_example_models(open_engine("firmware", sim=BUILD / build))
        yield engine
        engine.close()

    return opened


@contextmanager
def _remote(tmp_path_factory):
    """A real board daemon on 127.0.0.1 (CURVE, keys made in a temporary directory,
    the example's C models loaded) and one session of the remote engine with it."""
    from tests.firmware.harness import C_MODELS, make
    from tests.remote.harness import Daemon, Keys

    make()
    d = tmp_path_factory.mktemp("remote-engine")
    keys = Keys.make(d / "keys")
    models = tuple(arg for lib in C_MODELS for arg in ("--models", str(lib)))
    with Daemon(keys, d / "daemon", extra=models) as daemon:
        engine = open_engine(
            "remote",
            board=daemon.url,
            board_key=str(keys.directory / "board.key"),
            key=str(keys.directory / "host"),
        )
        yield engine
        engine.close()


ENGINES = {
    "python": _python,
    "firmware": _firmware("acifw-sim"),
    "firmware-asan": _firmware("acifw-sim-asan"),  # the ASan+UBSan build, portable arithmetic
    "remote": _remote,  # the board daemon over loopback
}


@pytest.fixture(scope="session")
def engines(tmp_path_factory):
    """name -> its session, opened on first use and closed when the tests end."""
    with ExitStack() as stack:

        class Sessions(dict):
            def __missing__(self, name):
                self[name] = stack.enter_context(ENGINES[name](tmp_path_factory))
                return self[name]

        yield Sessions()


@pytest.fixture(params=sorted(ENGINES))
def engine(request, engines):
    return engines[request.param]


@pytest.fixture(params=sorted(set(ENGINES) - {REFERENCE}))
def other_engine(request, engines):
    return engines[request.param]


@pytest.fixture(scope="session")
def reference(engines):
    return engines[REFERENCE]
