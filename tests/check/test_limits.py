""" "check ok" means "the board runs it": every limit of the image format is a
checker diagnostic, and every program the checker accepts compiles, in both modes,
to an image that both validators (aci.decode and the C acifw-sim) accept.

The generator draws programs at the limits of aci/format.py: slot and memory
counts, overlapping memories, names one byte short of or over their fields, rates,
clocks and times around their maxima, bitstreams whose reconfiguration takes about
the time limit, tasks whose duration does, 0 to 65 cores, loop and repeat counts and
nesting around their limits, and operation counts around 2^32.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aci.check import check
from aci.decode import decode
from aci.diagnostics import SourceError
from aci.format import LIMITS
from aci.parse import load, load_text
from aci.pipeline import compile_file

from ..firmware.harness import SIM, make

RATE, TIME, CYCLES = LIMITS["max_rate"], LIMITS["max_time_ns"], LIMITS["max_cycles"]
LIMIT_CODES = {
    "E024",
    "E032",
    "E033",
    "E034",
    "E080",
    "E081",
    "E082",
    "E083",
    "E084",
    "E085",
    "E086",
    "E087",
}


FIELDS = [
    "slots",
    "n_mem",
    "overlap",
    "mem_name",
    "icap",
    "clock",
    "pr",
    "dma",
    "overhead",
    "pf",
    "link",
    "latency",
    "watchdog",
    "n_cores",
    "core_name",
    "bitstream",
    "cycles",
    "buf",
    "counts",
    "repeat",
    "ops",
    "long",
]


@st.composite
def programs(draw) -> str:
    """One field at its edges (a limit, one past it), the others normal; or, one
    program in four, every field drawn from its edges too."""
    focus = draw(st.sampled_from(FIELDS))
    wild = draw(st.integers(0, 3)) == 0

    def edge(name, normal, *edges):
        if name == focus:
            return draw(st.sampled_from(edges))
        return draw(st.sampled_from([normal, *edges])) if wild else normal

    def around(name, normal, limit):
        return edge(name, normal, limit - 1, limit, limit + 1)

    return _program(edge, around, draw)


def _program(edge, around, draw) -> str:
    slots = edge("slots", 2, 1, LIMITS["max_slots"], LIMITS["max_slots"] + 1)
    overlap = edge("overlap", False, True)
    n_mem = max(
        edge("n_mem", 1, 2, LIMITS["max_memories"], LIMITS["max_memories"] + 1), 1 + overlap
    )
    mem_name = edge("mem_name", "m", "m" * 15, "m" * 16)
    lines = [f"target t {{\n    slots {slots}"]
    for k in range(n_mem):
        base = 0 if k == 0 else (1 << 36) + (k - 1) * (1 << 20) - (overlap and k == 1) * (1 << 19)
        size = (1 << 36) if k == 0 else 1 << 20
        lines.append(f"    memory {mem_name if k == 0 else f'r{k}'} at {base} size {size}")
    icap = edge("icap", 8 * 400_000_000, 8, 8 * RATE, 8 * (RATE + 1))
    clock = around("clock", 100_000_000, RATE)
    long = edge("long", None, (TIME - 1000) // 10**6, (TIME - 1000) // 10**6 + 1)
    if long is not None:  # at 1 kHz, a task of `long` cycles takes about the time limit
        clock = 1000
    lines.append(
        f"    icap {icap} b/s  pr_overhead {around('pr', 10_000, TIME)} ns  dma {8 * around('dma', 10**9, RATE)} b/s"
    )
    lines.append(
        f"    clock {clock} Hz  task_overhead {1000 if long else edge('overhead', 1000, 0, TIME, TIME + 1)} ns"
    )
    lines.append(
        f"    pf_write {edge('pf', 10, 0, TIME)} ns  link {around('link', 10**10, RATE)} b/s  "
        f"latency {around('latency', 5000, TIME)} ns"
    )
    watchdog = edge("watchdog", None, 1000, TIME - 1, TIME, TIME + 1)
    if watchdog is not None:
        lines.append(f"    watchdog {watchdog} ns")
    lines.append("}")
    n_cores = edge("n_cores", 1, 0, 2, LIMITS["max_cores"], LIMITS["max_cores"] + 1)
    core_name = edge("core_name", "C", "C" * 13, "C" * 14)
    bitstream = edge("bitstream", 1024, 1 << 31, (1 << 32) - 1, 1 << 32)
    cycles = long or edge("cycles", 10, CYCLES, CYCLES + 1)
    for k in range(max(n_cores, 1)):
        lines.append(
            f"core {core_name}{k:02d} {{ id {k} bitstream size {bitstream if k == 0 else 64} "
            f"in a : u8[8] out y : u8[8] cycles {cycles if k == 0 else 10} }}"
        )
    buf = edge("buf", "src", "b" * 31, "b" * 32)
    lines.append(f"buffer {buf} : u8[8]\nbuffer dst : u8[8]")
    counts = [
        edge("counts", 3, 1, 255, 256, LIMITS["max_loop_count"], LIMITS["max_loop_count"] + 1)
        for _ in range(draw(st.integers(0, LIMITS["max_loop_depth"] + 1)))
    ]
    repeat = edge("repeat", None, 1, 3, LIMITS["max_repeat_count"], LIMITS["max_repeat_count"] + 1)
    ops = edge("ops", None, 254, 255, 256)
    if ops is not None:  # 2^24 iterations of `ops` tasks and a reconfiguration: around 2^32
        repeat, counts = LIMITS["max_repeat_count"], [ops]
    body = f"task {core_name}00(a: {buf}, y: dst)"
    for depth, n in enumerate(reversed(counts)):
        body = f"loop i{depth} in 0 .. {n} {{ {body} }}"
    windows = [] if n_cores == 0 else [f"window {{ parsec {{ thread on slot 0 {{ {body} }} }} }}"]
    windows += [f"window {{ reconfigure slot 0 <- {core_name}{k:02d} }}" for k in range(1, n_cores)]
    windows = windows or ["window { }"]
    inner = "\n    ".join(windows)
    if repeat is not None:
        inner = f"repeat r in 0 .. {repeat} {{\n    {inner}\n    }}"
    lines.append(f"program p on t {{\n    {inner}\n}}")
    return "\n".join(lines) + "\n"


def _c_accepts(data: bytes) -> tuple[bool, str]:
    with tempfile.NamedTemporaryFile(suffix=".acx") as f:
        f.write(data)
        f.flush()
        r = subprocess.run([str(SIM), f.name, "--validate-only"], capture_output=True, text=True)
    return r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def sim():
    make("sim")
    return SIM


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(programs(), st.sampled_from(["strict", "dataflow"]))
def test_accepted_programs_run_on_both_validators(sim, tmp_path, text, mode):
    path = tmp_path / "p.aci"
    path.write_text(text)
    try:
        check(load(str(path)))
    except SourceError as e:
        codes = {d.code for d in e.diagnostics}
        assert codes <= LIMIT_CODES, (codes, text)
        return
    c = compile_file(str(path), mode=mode)
    decode(c.data)  # the Python validator raises on a refusal
    ok, err = _c_accepts(c.data)
    assert ok, (err, text)


def test_generator_reaches_both_sides():
    """Each edge of each field with the others normal, as the generator draws most
    programs: some are accepted, the others refused with every limit code."""
    seen: set = set()
    accepted = 0
    for focus in FIELDS:
        for k in range(6):

            def edge(name, normal, *edges, k=k, focus=focus):
                return edges[min(k, len(edges) - 1)] if name == focus else normal

            def around(name, normal, limit):
                return edge(name, normal, limit - 1, limit, limit + 1)

            text = _program(edge, around, lambda strategy: 2)
            try:
                check(load_text(text, "p.aci"))
                accepted += 1
            except SourceError as e:
                seen.update(d.code for d in e.diagnostics)
    assert accepted > 5
    assert {"E024", "E032", "E033", "E034", "E080", "E082", "E083", "E084", "E086", "E087"} <= seen


def _board(body: str) -> str:
    return 'import "' + str(Path(__file__).resolve().parent / "inc" / "board.aci") + '"\n' + body


def test_e085_image_too_large(monkeypatch, tmp_path):
    """E085 (an image over max_image_bytes) needs some 30,000 tasks to reach; with the
    limit lowered just below the real image of a small program, the checker's upper
    bound must refuse it (the bound is never below what compiling gives)."""
    import aci.format as F

    path = tmp_path / "big.aci"
    path.write_text(
        _board(
            "buffer s : i32[8]\nbuffer d : i32[8]\nprogram big on board { window { parsec { thread {\n"
            + "\n".join(["task ADD(a: s, b: s, c: d, n: 8)"] * 40)
            + "\n} } } }\n"
        )
    )
    size = max(len(compile_file(str(path), mode=m).data) for m in ("strict", "dataflow"))
    monkeypatch.setitem(F.LIMITS, "max_image_bytes", size - 1)
    with pytest.raises(SourceError) as e:
        check(load(str(path)))
    assert [(d.code, d.span.line, d.span.column) for d in e.value.diagnostics] == [("E085", 4, 9)]


def test_w001_task_longer_than_the_watchdog_is_a_warning():
    text = (
        "target t { slots 1 memory m at 0 size 1 MiB icap 400 MB/s pr_overhead 1 us dma 1 GB/s clock 1 MHz "
        "task_overhead 1 us pf_write 10 ns link 1 Gb/s latency 1 us watchdog 1 ms }\n"
        "core SLOW { id 1 bitstream size 1 KB in a : u8[8] out y : u8[8] cycles 2000 }\n"
        "buffer a : u8[8]\nbuffer y : u8[8]\n"
        "program p on t { window { parsec { thread { task SLOW(a: a, y: y) } } } }\n"
    )
    unit = check(load_text(text, "w.aci"))
    assert [(w.code, w.severity, w.span.line) for w in unit.warnings] == [("W001", "warning", 5)]
    assert "2001000 ns" in unit.warnings[0].message


def test_long_source_paths_keep_whole_characters(sim, tmp_path):
    """SYMBOLS keeps 127 bytes of a file name: a cut inside a UTF-8 character would
    make the validators refuse the image."""
    d = tmp_path / ("é" * 70)
    d.mkdir()
    path = d / "p.aci"
    path.write_text(
        _board(
            "buffer s : i32[8]\nbuffer d : i32[8]\n"
            "program p on board { window { parsec { thread { task ADD(a: s, b: s, c: d, n: 8) } } } }\n"
        )
    )
    data = compile_file(str(path)).data
    decode(data)
    assert _c_accepts(data)[0]
