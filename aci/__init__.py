"""acic: the toolchain for ACI programs.

The public API, by pipeline stage (each name is imported on first use, so that the
command line starts quickly):

- ``load(path)`` (aci.parse): files and their imports to ASTs;
- ``check(loaded, defines)`` (aci.check): the checked programs of a unit;
- ``compile_file(path, defines, program, mode)`` (aci.pipeline): the whole pipeline,
  returning the checked and scheduled program, the Image and its bytes;
- ``schedule``, ``lower``, ``encode``, ``decode``: the stages one by one;
- ``assemble``, ``disassemble`` (aci.asm): the ``.acs`` text form;
- ``run_image(data, ...)`` (aci.run): the reference interpreter;
- ``run_program(path, ...)`` (aci.testing): compile and run, for tests of schedules;
- errors: ``AciError`` (every user-facing error), ``SourceError`` (diagnostics),
  ``ImageError`` (a refused image), ``AsmError``.
"""

from importlib import import_module

_API = {
    "load": "aci.parse", "check": "aci.check", "compile_file": "aci.pipeline",
    "schedule": "aci.schedule", "lower": "aci.lower", "encode": "aci.encode", "decode": "aci.decode",
    "assemble": "aci.asm", "disassemble": "aci.asm", "run_image": "aci.run", "run_program": "aci.testing",
    "AciError": "aci.diagnostics", "SourceError": "aci.diagnostics", "ImageError": "aci.decode",
    "AsmError": "aci.asm",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'aci' has no attribute {name!r}")
