"""Functional models of a user's own cores, for the Python engine and aci.testing.

A model module is a Python file that registers models by core name::

    from aci.models import core

    @core("MIX", ports={"a": "in", "b": "in", "y": "out"}, params=("n", "k"),
          lengths=lambda p: (p["n"], p["n"], p["n"]))
    def mix(params, inputs, slot):
        return {"y": (inputs["a"] * params["k"] + inputs["b"]).astype("uint8")}

``acic run --models FILE.py`` (and ``run_image(models=...)``,
``aci.testing.run_program(models=...)``) imports it; its models then run every task
of a core of that name (`docs/models.md` has the contract).

``core(name, ports, params=(), lengths=None)`` registers the decorated
``fn(params, inputs, slot) -> outputs``; ``register(model)`` registers an
:class:`aci.cores.CoreModel`; ``load(paths) -> dict[name, CoreModel]`` imports model
files and returns what each registered (a ``CoreModel`` in ``paths`` is taken as
is; paths of C model libraries, anything not ending in ``.py``, are left to the
firmware engine). Raises :class:`ModelError` (an AciError: exit 1 from the CLI) for
a file that cannot be read or fails on import, and for a model that is malformed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence

from .cores import CoreModel
from .diagnostics import AciError

__all__ = ["ModelError", "core", "load", "register"]

_registering: dict[str, CoreModel] | None = None  # the models of the file being imported


class ModelError(AciError):
    """A user's model file or model that cannot be used, or a model that failed."""


def register(model: CoreModel) -> CoreModel:
    """Register ``model`` for the core called ``model.name`` (while a model file is
    being loaded; outside ``load``, pass models to the engine directly)."""
    if _registering is None:
        raise ModelError(
            "aci.models.register: models are registered while `load` imports a model file; "
            "to use a model in this process, pass it in `models=[...]`"
        )
    _registering[model.name] = model
    return model


def core(
    name: str,
    ports: Mapping[str, str] | Sequence[tuple[str, str]],
    params: Sequence[str] = (),
    lengths: Callable[[Mapping[str, int]], Sequence[int]] | None = None,
):
    """Decorator: ``fn(params, inputs, slot) -> outputs`` is the model of core ``name``.

    ``ports``: port name -> ``"in"``/``"out"``, in the core's declared order;
    ``params``: parameter names in declared order; ``lengths(params)``: the bytes of
    each port for these parameters (raise ValueError for parameters the core does
    not accept), or None to take whatever lengths the task binds."""
    port_list = (
        tuple(ports.items()) if isinstance(ports, Mapping) else tuple(tuple(p) for p in ports)
    )
    if not name or any(d not in ("in", "out") for _, d in port_list) or not port_list:
        raise ModelError(f'model `{name}`: ports are (name, "in" | "out") pairs, at least one')

    def decorate(fn):
        origin = getattr(fn, "__code__", None)
        register(
            CoreModel(
                name,
                None,
                port_list,
                tuple(params),
                fn,
                lengths,
                origin.co_filename if origin else "<model>",
            )
        )
        return fn

    return decorate


def _import(path: str) -> dict[str, CoreModel]:
    global _registering
    if not os.path.isfile(path):
        raise ModelError(f"cannot read model file `{path}`: no such file")
    spec = importlib.util.spec_from_file_location(
        f"aci_user_models_{abs(hash(os.path.abspath(path)))}", path
    )
    if spec is None or spec.loader is None:
        raise ModelError(f"cannot load model file `{path}`: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    outer, _registering = _registering, {}
    try:
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        found = _registering
    except ModelError:
        raise
    except Exception as e:  # the user's code: say where it failed, in one line
        here = os.path.realpath(path)
        frames = [
            f for f in traceback.extract_tb(e.__traceback__) if os.path.realpath(f.filename) == here
        ]
        where = f"{path}:{frames[-1].lineno}" if frames else path
        raise ModelError(
            f"{where}: loading the model file failed: {type(e).__name__}: {e}"
        ) from None
    finally:
        _registering = outer
    if not found:
        raise ModelError(
            f"{path}: the file registers no model (decorate a function with "
            "`@aci.models.core(NAME, ports=...)`)"
        )
    return found


def load(paths: Iterable) -> dict[str, CoreModel]:
    """Core name -> model, from model files and CoreModel objects (later ones win)."""
    out: dict[str, CoreModel] = {}
    for p in paths:
        if isinstance(p, CoreModel):
            out[p.name] = p
        elif os.fspath(p).endswith(".py"):
            out.update(_import(os.fspath(p)))
    return out


def c_libraries(paths: Iterable) -> list[str]:
    """The C model libraries among ``paths`` (every path not ending in ``.py``)."""
    return [
        os.fspath(p)
        for p in paths
        if not isinstance(p, CoreModel) and not os.fspath(p).endswith(".py")
    ]
