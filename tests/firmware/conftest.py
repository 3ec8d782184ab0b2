"""The firmware tests build what they run (make -C firmware; a no-op when current)."""

import pytest

from .harness import make


@pytest.fixture(scope="session", autouse=True)
def firmware_built():
    make()
