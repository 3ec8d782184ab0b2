"""Where the files acic reads at run time lie: the grammar and the shipped library.

``grammar_file() -> Path``: the grammar (``aci.lark``).
``firmware_program(name, env, what, error) -> Path``: a program of the firmware's build
(``acifw-sim``, ``acifw-board``): ``$ENV``, else this checkout's ``firmware/build/NAME``,
else NAME on PATH; ``error`` (an exception class) saying how to build it when none.
``library_dir() -> Path``: the shipped library of ``.aci`` files (``targets/``,
``cores/``, ``examples/`` and the BNN programs), the directory an import search path
ends with so that ``import "targets/zcu102.aci"`` works from anywhere.

In the repository they are the top-level ``grammar/`` and ``programs/`` directories;
an installed package (a wheel, or ``pip install .``) carries them inside itself as
``aci/grammar/`` and ``aci/programs/`` (``pyproject.toml`` maps those two package
directories onto the repository's, so there is one copy of each file). The package's
own copy wins when it exists; otherwise this is a checkout (or an editable install
of one) and the top-level directories are used.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@functools.cache
def _directory(name: str) -> Path:
    for d in (_PACKAGE / name, _PACKAGE.parent / name):
        if d.is_dir():
            return d
    raise FileNotFoundError(
        f"acic is installed without its `{name}` directory (looked in "
        f"{_PACKAGE / name} and {_PACKAGE.parent / name}); reinstall it"
    )


def grammar_file() -> Path:
    """The grammar of the language, ``aci.lark``."""
    return _directory("grammar") / "aci.lark"


def library_dir() -> Path:
    """The shipped library: ``targets/``, ``cores/``, ``examples/``, the BNN programs."""
    return _directory("programs")


def firmware_program(name: str, env: str, what: str, error: type[Exception]) -> Path:
    """The firmware program NAME to run (see the module docstring)."""
    given = os.environ.get(env)
    if given:
        if not os.access(given, os.X_OK):
            raise error(f"{env} names `{given}`, which is not an executable file")
        return Path(given)
    built = _PACKAGE.parent / "firmware" / "build" / name
    if os.access(built, os.X_OK):
        return built
    found = shutil.which(name)
    if found:
        return Path(found)
    raise error(
        f"{what} is not built: run `make -C firmware` in the acic checkout (or set {env} to an {name})"
    )
