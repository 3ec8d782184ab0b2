"""The pipeline's stages, run one by one through the public API, give the bytes of
compile_file in both modes; the stage list names modules that state their contract;
lower refuses a dataflow image of a program that has not been through waits."""

import importlib
from pathlib import Path

import pytest

import aci
from aci.engine import MODES
from aci.program import walk_tasks

ROOT = Path(__file__).resolve().parents[2]
# One of each kind: one task, a pipeline over slots, a repeat, the balancer's choice
# (bnn_auto leaves its slots to the compiler), the full BNN with PR.
PROGRAMS = {
    "hello": None,
    "pipeline": None,
    "parallel": None,
    "bnn_auto": {"IMAGES": "8", "BATCH": "4"},
    "bnn_pr": {"IMAGES": "8", "BATCH": "4"},
}


def path_of(name: str) -> str:
    return str(next(ROOT.joinpath("programs").rglob(f"{name}.aci")))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_stages_one_by_one_give_compile_file(name, mode):
    defines = PROGRAMS[name]
    loaded = aci.load(path_of(name))
    (program,) = aci.check(loaded, defines).programs.values()
    balanced = aci.balance(aci.pipelining(program, mode), lambda p: aci.estimate(p, mode))
    scheduled = aci.schedule(balanced, mode)
    ready = aci.waits(scheduled) if mode == "dataflow" else scheduled
    data = aci.encode(aci.lower(ready, mode))
    assert data == aci.compile_file(path_of(name), defines, mode=mode).data
    assert aci.decode(data) == aci.lower(ready, mode)


def test_dataflow_needs_waits():
    (program,) = aci.check(aci.load(path_of("pipeline"))).programs.values()
    scheduled = aci.schedule(program, "dataflow")
    with pytest.raises(ValueError, match="needs its waits"):
        aci.lower(scheduled, "dataflow")
    # the waits travel on the program's tasks; strict images carry none
    ready = aci.waits(scheduled)
    tasks = list(walk_tasks(ready))
    assert all(t.waits is not None for t in tasks) and any(t.waits for t in tasks)
    assert aci.lower(scheduled, "strict") == aci.lower(ready, "strict")


def test_stages_are_listed_with_their_modules():
    assert [s.name for s in aci.STAGES] == [
        "load",
        "check",
        "place",
        "pipelining",
        "balance",
        "schedule",
        "waits",
        "lower",
        "encode",
    ]
    for s in aci.STAGES:
        module = importlib.import_module(s.module)
        assert getattr(aci, s.function) is getattr(module, s.function)
        assert (
            module.__doc__.startswith(f"Stage {aci.STAGES.index(s) + 1}, {s.name}")
            or s.name == "place"
        )
