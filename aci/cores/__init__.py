"""Functional models of cores, by core id, behind one small interface.

A :class:`CoreModel` names a core kind (``name``, ``id``), its ports in declared
order with their directions, its parameters in declared order, and computes::

    model.run(words, inputs, slot) -> outputs

``words`` are the task's parameter words from the image (in declared order, as
stored: unsigned 32-bit); ``inputs`` maps every input port name to a ``uint8`` array
``(N, port bytes)`` — N independent invocations — or ``(1, port bytes)`` for a port
shared by all of them; the result maps every output port name to ``(N, port bytes)``
(or ``(1, ...)`` when every input is shared). ``model.mismatch(...)`` says why a task
of an image cannot run on the model (other ports, parameters the core does not
accept, port lengths that are not the ones the parameters imply), or None.

Registered: 1 FP_CONV, 2 BIN_CONV, 3 BIN_FC (the BNN models of
:mod:`aci.cores.bnn`) and 200 TEST (:mod:`aci.cores.test_core`). ``model(id)`` is
None for any other id: the engine then stops a functional run with ``no_model``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs
import numpy as np

from . import bnn, test_core

Compute = Callable[[Mapping[str, int], Mapping[str, np.ndarray], int], dict[str, np.ndarray]]
Lengths = Callable[[Mapping[str, int]], Sequence[int]]

__all__ = ["MODELS", "CoreModel", "model"]


@attrs.frozen
class CoreModel:
    name: str
    id: int | None  # None: a user's model, found by core name (aci.models)
    ports: tuple[tuple[str, str], ...]  # (name, "in" | "out") in declared order
    params: tuple[str, ...]  # parameter names in declared order
    compute: Compute = attrs.field(repr=False)
    # bytes per port; ValueError for bad parameters. None: any lengths (a user's model may not say)
    lengths: Lengths | None = attrs.field(repr=False)
    origin: str | None = None  # the file of a user's model; its failures are the user's errors

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(d for _, d in self.ports)

    def bind(self, words: Sequence[int]) -> dict[str, int]:
        """The parameter words as a name -> value mapping."""
        return dict(zip(self.params, words, strict=True))

    def mismatch(
        self, directions: Sequence[str], words: Sequence[int], lengths: Sequence[int]
    ) -> str | None:
        """Why a task with these port directions, parameter words and port lengths
        cannot run on this model; None when it can."""
        if tuple(directions) != self.directions:
            return (
                f"core {self.name} has ports {', '.join(f'{d} {n}' for n, d in self.ports)}; "
                f"the image declares {', '.join(directions)}"
            )
        if len(words) != len(self.params):
            return (
                f"core {self.name} takes {len(self.params)} parameters, the task has {len(words)}"
            )
        if self.lengths is None:
            return None
        try:
            want = tuple(self.lengths(self.bind(words)))
        except ValueError as e:
            return str(e)
        if want != tuple(lengths):
            return (
                f"core {self.name} with {self.bind(words)} has ports of {list(want)} bytes; "
                f"the task binds {list(lengths)}"
            )
        return None

    def run(
        self, words: Sequence[int], inputs: Mapping[str, np.ndarray], slot: int
    ) -> dict[str, np.ndarray]:
        return self.compute(self.bind(words), inputs, slot)


def _bnn(name: str, ident: int) -> CoreModel:
    fn = bnn.MODELS[name]

    def lengths(p: Mapping[str, int]) -> tuple[int, ...]:
        ins, outs = bnn.port_bytes(name, p)
        return ins["x"], ins["w"], ins["t"], outs["y"]

    # The BNN cores compute the same thing on every slot. Their parameters, in
    # order, are the numpy models' (tests/cores/test_shapes.py holds both, and the
    # ports, to programs/cores/bnn.aci).
    return CoreModel(
        name,
        ident,
        (("x", "in"), ("w", "in"), ("t", "in"), ("y", "out")),
        bnn.PARAMS[name],
        lambda p, inputs, slot: fn(p, inputs),
        lengths,
    )


def _by_id(*models: CoreModel) -> dict[int, CoreModel]:
    out = {}
    for m in models:
        assert m.id is not None, m.name  # the shipped models have their core ids
        out[m.id] = m
    return out


MODELS: dict[int, CoreModel] = _by_id(
    _bnn("FP_CONV", 1),
    _bnn("BIN_CONV", 2),
    _bnn("BIN_FC", 3),
    CoreModel(
        test_core.NAME,
        test_core.ID,
        test_core.PORTS,
        test_core.PARAMS,
        test_core.compute,
        test_core.port_lengths,
    ),
)


def model(core_id: int) -> CoreModel | None:
    """The functional model of a core id, or None."""
    return MODELS.get(core_id)
