"""Where the files acic reads at run time lie: the grammar and the shipped library.

``grammar_file() -> Path``: the grammar (``aci.lark``).
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
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@functools.cache
def _directory(name: str) -> Path:
    for d in (_PACKAGE / name, _PACKAGE.parent / name):
        if d.is_dir():
            return d
    raise FileNotFoundError(f"acic is installed without its `{name}` directory (looked in "
                            f"{_PACKAGE / name} and {_PACKAGE.parent / name}); reinstall it")


def grammar_file() -> Path:
    """The grammar of the language, ``aci.lark``."""
    return _directory("grammar") / "aci.lark"


def library_dir() -> Path:
    """The shipped library: ``targets/``, ``cores/``, ``examples/``, the BNN programs."""
    return _directory("programs")
