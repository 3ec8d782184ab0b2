"""acic: the toolchain for ACI programs.

The public API, by pipeline stage (aci.pipeline states each stage's contract; each
name is imported on first use, so that the command line starts quickly):

- ``load(path)`` (aci.parse): files and their imports to ASTs;
- ``check(loaded, defines)`` (aci.check): the checked programs of a unit;
- ``place(program)`` (aci.place): its buffers and bitstreams at addresses;
- ``pipelining(program, mode)`` (aci.pipelining): a repeat's iterations grouped and
  its scratch buffers renamed (dataflow mode);
- ``balance(program, cost, exact)`` with ``estimate(program, mode)`` as its cost and
  ``estimate(program, mode, extrapolate=False)`` as its exact cost (aci.balance),
  ``schedule(program, mode)``, ``waits(program)`` (dataflow), ``lower(program, mode)``,
  ``encode(image)``: the later stages one by one; ``decode(data)`` validates an image;
- ``compile_file(path, defines, program, mode)`` (aci.pipeline): the whole pipeline,
  returning the checked and scheduled program, the Image and its bytes;
- ``assemble``, ``disassemble`` (aci.asm): the ``.acs`` text form;
- ``open_engine(name, **options)``, ``run_on(engine, data, ...)`` (aci.engine): run an
  image on an engine (``ENGINES``); ``run_image(data, ...)`` (aci.run): the reference
  interpreter directly; ``RunResult``;
- ``run_program(path, ...)`` (aci.testing): compile and run, for tests of schedules;
- errors: ``AciError`` (every user-facing error), ``SourceError`` (diagnostics),
  ``ImageError`` (a refused image), ``AsmError``, ``BundleError`` (a refused bundle,
  aci.bundle: a plan over several boards as one file).

A stage's module is named for the stage and so is its function: ``aci.check`` is the
function, always, even after ``aci.check`` the module has been imported (Python would
otherwise bind the module to the name); the module is ``sys.modules["aci.check"]``.
"""

import sys
import types
from importlib import import_module

__version__ = "0.1.0"  # the one definition: pyproject.toml reads it, `acic --version` prints it

_API = {
    "load": "aci.parse",
    "check": "aci.check",
    "place": "aci.place",
    "pipelining": "aci.pipelining",
    "balance": "aci.balance",
    "estimate": "aci.balance",
    "schedule": "aci.schedule",
    "waits": "aci.waits",
    "lower": "aci.lower",
    "encode": "aci.encode",
    "decode": "aci.decode",
    "compile_file": "aci.pipeline",
    "STAGES": "aci.pipeline",
    "assemble": "aci.asm",
    "disassemble": "aci.asm",
    "ENGINES": "aci.engine",
    "open_engine": "aci.engine",
    "run_on": "aci.engine",
    "RunResult": "aci.engine",
    "run_image": "aci.run",
    "run_program": "aci.testing",
    "AciError": "aci.diagnostics",
    "SourceError": "aci.diagnostics",
    "ImageError": "aci.decode",
    "AsmError": "aci.asm",
    "BundleError": "aci.bundle",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'aci' has no attribute {name!r}")


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return  # an imported submodule keeps out of the way of the function of its name
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
