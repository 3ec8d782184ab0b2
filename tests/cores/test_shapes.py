"""The cores' shapes are defined once, in programs/cores/*.aci: every functional
model agrees with them over a grid of parameters.

For each core of programs/cores/*.aci that has a model (aci.cores.MODELS, the numpy
models of aci/cores/bnn.py and aci/cores/test_core.py, and the C models of
firmware/sim/models.c): the same id, name, ports with their directions and
parameters in their declared order; the Python model's port lengths equal the .aci
port types evaluated at every point of a grid over each parameter's domain; and on
a smaller grid an image of one task per point runs functionally on both engines
(so the C model takes exactly those lengths), while the same image with one port
8 bytes longer stops with no_model, in the same words, on both."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import attrs
import pytest

from aci import ast
from aci.check import check
from aci.cores import MODELS
from aci.encode import encode
from aci.firmware_sim import run_image_firmware
from aci.format import message
from aci.image import (
    CoreInfo,
    Image,
    MemoryInfo,
    Parsec,
    Port,
    Reconf,
    TargetInfo,
    Task,
    Thread,
    Window,
)
from aci.parse import load
from aci.program import tensor_bytes
from aci.run import run_image
from aci.timing import Timing

ROOT = Path(__file__).resolve().parents[2]
CORE_FILES = sorted((ROOT / "programs" / "cores").glob("*.aci"))


def declared_cores():
    """name -> checked core (aci.program.Core), over every file of programs/cores."""
    out = {}
    for path in CORE_FILES:
        out.update(check(load(path)).cores)
    return out


CORES = declared_cores()
MODELLED = sorted(name for name, c in CORES.items() if c.id in MODELS)


def test_every_model_has_its_core():
    assert {m.name for m in MODELS.values()} == set(MODELLED)
    assert {"FP_CONV", "BIN_CONV", "BIN_FC", "TEST"} <= set(MODELLED)


@pytest.mark.parametrize("name", MODELLED)
def test_declarations_agree(name):
    core, model = CORES[name], MODELS[CORES[name].id]
    assert (model.name, model.id) == (core.name, core.id)
    assert model.ports == tuple((p.name, p.direction) for p in core.ports)
    assert model.params == tuple(p.name for p in core.params)


# ---- the .aci port types, evaluated ---------------------------------------------------


def value(e: ast.Expr, env: dict[str, int]):
    """A core's port-type expression at one point (the forms the shipped cores use)."""
    if isinstance(e, ast.Number):
        return e.value
    if isinstance(e, ast.Bool):
        return e.value
    if isinstance(e, ast.Name):
        return env[e.name]
    if isinstance(e, ast.Cond):
        return value(e.then, env) if value(e.cond, env) else value(e.else_, env)
    if isinstance(e, ast.Unary):
        v = value(e.operand, env)
        return -v if e.op == "-" else not v
    if isinstance(e, ast.Binary):
        a, b = value(e.left, env), value(e.right, env)
        ops = {
            "+": a + b,
            "-": a - b,
            "*": a * b,
            "==": a == b,
            "!=": a != b,
            "<": a < b,
            "<=": a <= b,
            ">": a > b,
            ">=": a >= b,
            "&&": a and b,
            "||": a or b,
        }
        if e.op == "/":
            return Fraction(a) / b
        if e.op == "%":
            return a % b
        return ops[e.op]
    raise AssertionError(f"a port type uses {type(e).__name__}: extend this evaluator")


def port_bytes(core, env: dict[str, int]) -> tuple[int, ...]:
    out = []
    env = {**env, **{p.name: bool(env[p.name]) for p in core.params if p.type == "bool"}}
    for port in core.ports:
        pt = port.type
        while pt.cond is not None and not value(pt.cond, env):
            pt = pt.otherwise
        dims = [value(d, env) for d in pt.tensor.dims]
        assert all(Fraction(d).denominator == 1 for d in dims), (port.name, dims)
        out.append(tensor_bytes(pt.tensor.elem.name, tuple(int(d) for d in dims)))
    return tuple(out)


def samples(p, small: bool) -> list[int]:
    """Values of one parameter: its whole set, or its bounds and points between."""
    if p.values is not None:
        return sorted(p.values)
    if small:
        return sorted({p.lo, min(p.hi, p.lo + 2)})
    return sorted(
        {p.lo, p.lo + 1, (p.lo + p.hi) // 3, (p.lo + p.hi) // 2 + 1, p.hi - 1, p.hi}
        & set(range(p.lo, p.hi + 1))
    )


def grid(core, small: bool = False) -> list[dict[str, int]]:
    names = [p.name for p in core.params]
    return [
        dict(zip(names, point, strict=True))
        for point in itertools.product(*(samples(p, small) for p in core.params))
    ]


@pytest.mark.parametrize("name", MODELLED)
def test_port_lengths_agree_over_a_grid(name):
    core, model = CORES[name], MODELS[CORES[name].id]
    points = grid(core)
    assert len(points) >= 2
    for env in points:
        assert tuple(model.lengths(env)) == port_bytes(core, env), env


# ---- both engines' models take exactly those lengths ---------------------------------

TIMING = Timing(
    icap_bytes_per_s=400_000_000,
    pr_overhead_ns=1000,
    dma_bytes_per_s=1_000_000_000,
    clock_hz=100_000_000,
    task_overhead_ns=100,
    pf_write_ns=10,
    link_bits_per_s=10_000_000_000,
    link_latency_ns=1000,
    watchdog_ns=0,
)


def image(core, points: list[dict[str, int]], longer: bool = False) -> bytes:
    """One thread on slot 0: the core's tasks, one per point, each port in its own bytes."""
    info = CoreInfo(
        core.id, core.name, tuple(p.direction for p in core.ports), len(core.params), 4096, 0
    )
    tasks, params, at = [], [], 4096
    for env in points:
        lengths = list(port_bytes(core, env))
        if longer:
            lengths[0] += 8
        ports = []
        for n in lengths:
            ports.append(Port(at, n, ()))
            at += (n + 7) // 8 * 8
        tasks.append(Task(0, core.id, tuple(ports), len(params), len(core.params), 100))
        params += [env[p.name] & 0xFFFF_FFFF for p in core.params]
    target = TargetInfo(1, TIMING, (MemoryInfo("ddr", 0, at),))
    window = Window((Reconf(0, core.id),), (Parsec((Thread(tuple(tasks)),)),))
    return encode(Image(target, (info,), tuple(params), (window,)))


@pytest.mark.parametrize("name", MODELLED)
def test_both_engines_take_exactly_these_lengths(name):
    core = CORES[name]
    points = grid(core, small=True)
    data = image(core, points)
    for run in (run_image, run_image_firmware):
        r = run(data)
        assert r.ok and r.tasks == len(points), (run.__name__, r.error)
    bad = image(core, points[:1], longer=True)
    py, c = run_image(bad), run_image_firmware(bad)
    assert py.error.name == c.error.name == "no_model"
    assert c.error.detail == py.error.detail
    lengths = list(port_bytes(core, points[0]))
    lengths[0] += 8
    assert py.error.detail == message(
        "no_model_mismatch",
        core=core.name,
        params=[points[0][p.name] for p in core.params],
        lengths=lengths,
    )
    assert attrs.evolve(c.error, detail="") == attrs.evolve(py.error, detail="")
