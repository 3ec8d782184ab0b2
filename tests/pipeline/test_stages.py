"""The pipeline's stages, run one by one through the public API, give the bytes of
compile_file in both modes; the stage list names modules that state their contract;
lower refuses a program that has not been through place, and a dataflow image of one
that has not been through waits."""

import importlib
import itertools
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
    (checked,) = aci.check(loaded, defines).programs.values()
    program = aci.place(checked)
    balanced = aci.balance(
        aci.pipelining(program, mode),
        lambda p: aci.estimate(p, mode),
        lambda p: aci.estimate(p, mode, extrapolate=False),
    )
    scheduled = aci.schedule(balanced, mode)
    ready = aci.waits(scheduled) if mode == "dataflow" else scheduled
    data = aci.encode(aci.lower(ready, mode))
    assert data == aci.compile_file(path_of(name), defines, mode=mode).data
    assert aci.decode(data) == aci.lower(ready, mode)


def test_dataflow_needs_waits():
    (program,) = aci.check(aci.load(path_of("pipeline"))).programs.values()
    scheduled = aci.schedule(aci.place(program), "dataflow")
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
        assert module.__doc__.startswith(f"Stage {aci.STAGES.index(s) + 1}, {s.name}")


def test_place_gives_every_address_and_lower_needs_them():
    (checked,) = aci.check(aci.load(path_of("bnn_pr")), PROGRAMS["bnn_pr"]).programs.values()
    # the checker leaves the addresses to placement (the BNN fixes none)
    assert all(b.address is None for b in checked.buffers + checked.bitstreams)
    with pytest.raises(ValueError, match="needs its addresses"):
        aci.lower(aci.schedule(checked, "strict"), "strict")
    placed = aci.place(checked)
    # every buffer and used core's bitstream at an address inside its memory, none
    # overlapping; every port's view points at its placed buffer
    assert {s.core for s in placed.bitstreams} == {c.name for c in placed.cores}
    spans = []
    for x in placed.buffers + placed.bitstreams:
        m = placed.target.memory(x.memory)
        assert m.base <= x.address and x.address + x.size <= m.end
        spans.append((x.address, x.address + x.size))
    spans.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    by_name = {b.name: b for b in placed.buffers}
    assert all(r.buffer is by_name[r.buffer.name] for t in walk_tasks(placed) for r in t.ports)


PLACED = """
target t {
    slots 1
    memory ddr at 0x1000 size 1 MiB
    icap 400 MB/s  pr_overhead 10 us  dma 1 GB/s  clock 100 MHz
    task_overhead 1 us  pf_write 10 ns  link 10 Gb/s  latency 5 us
}
core UNUSED { id 1  bitstream size 100  out y : u8[4]  cycles 4 }
core USED { id 2  bitstream size 64  out y : u8[4]  cycles 4 }
buffer late : u8[10]
buffer pinned : u8[8] at 0x1000
program p on t { window { parsec { thread { task USED(y: late[0 .. 4]) } } } }
"""


def test_place_fixed_first_then_first_fit_with_every_bitstream(tmp_path):
    """Fixed addresses first; then first fit in declaration order, 64-byte aligned,
    buffers before bitstreams; an unused core's bitstream takes its room, but only
    the used one's stays in the program."""
    path = tmp_path / "p.aci"
    path.write_text(PLACED)
    (checked,) = aci.check(aci.load(str(path))).programs.values()
    assert [(b.name, b.address, b.fixed) for b in checked.buffers] == [
        ("late", None, False),
        ("pinned", 0x1000, True),
    ]
    assert [s.core for s in checked.bitstreams] == ["UNUSED", "USED"]
    placed = aci.place(checked)
    assert {b.name: b.address for b in placed.buffers} == {"late": 0x1040, "pinned": 0x1000}
    # UNUSED at 0x1080 (100 bytes), USED after it on the next 64-byte boundary
    assert [(s.core, s.address) for s in placed.bitstreams] == [("USED", 0x1100)]
    (task,) = walk_tasks(placed)
    assert task.ports[0].address().const == 0x1040
