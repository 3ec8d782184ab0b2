"""pytest plugin: the ``aci_run`` fixture for testing ACI programs.

Registered under the ``pytest11`` entry point (``aci = "aci.pytest_plugin"``), so
any test can ask for ``aci_run``: a function with the signature of
:func:`aci.testing.run_program` whose ``path`` is taken relative to the directory of
the test file (absolute paths are kept). It returns an :class:`aci.testing.Result`.
A program that does not compile fails the test with the compiler's diagnostics,
rendered as ``acic check`` shows them, instead of a traceback. ``aci_refused`` is
:func:`aci.testing.assert_refused` with the same relative paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .diagnostics import SourceError, render_text
from .testing import Result, assert_refused, run_program


@pytest.fixture
def aci_run(request):
    """Run a ``.aci`` program (path relative to this test file) and return its Result."""
    base = Path(request.path).parent

    def run(path, **options) -> Result:
        full = Path(path) if Path(path).is_absolute() else base / path
        try:
            return run_program(str(full), **options)
        except SourceError as e:
            pytest.fail(
                f"{full} does not compile:\n{render_text(e.diagnostics, getattr(e, 'sources', {}) or {})}",
                pytrace=False,
            )

    return run


@pytest.fixture
def aci_refused(request):
    """Assert that a ``.aci`` program (path relative to this test file) is refused with
    a code (``aci_refused("bad.aci", "E064", line=12)``); returns the diagnostic."""
    base = Path(request.path).parent

    def refused(path, code, **options):
        full = Path(path) if Path(path).is_absolute() else base / path
        return assert_refused(str(full), code, **options)

    return refused
