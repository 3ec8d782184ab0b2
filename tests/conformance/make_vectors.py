"""Writes the conformance vectors: small invalid images, each breaking one validation
rule of docs/format.md, plus valid ones, and manifest.json with the expected outcome
of each. Both interpreters run the same set (engine-neutral).

Every limit of ``aci.format.LIMITS`` has a valid vector at the limit and an invalid one
just over it (``limit_*``), where an image can reach it (``max_sections`` can not:
there are fewer section kinds; ``max_image_bytes`` and ``max_cycles`` are the widths
of their fields). A valid vector whose run would execute millions of operations is
marked ``validate_only``: the tests hold both validators' verdicts equal on it and
run it only as far as the firmware's first error.

Run `python tests/conformance/make_vectors.py` (or `make generate`); a test fails
when the committed vectors differ from what this script writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from aci import format as F  # noqa: E402 (after sys.path.insert)
from aci import record  # noqa: E402 (after sys.path.insert)
from aci.encode import encode  # noqa: E402 (after sys.path.insert)
from aci.image import (  # noqa: E402 (after sys.path.insert)
    BufferSymbol,
    CoreInfo,
    Image,
    InitChunk,
    Loop,
    MemoryInfo,
    Parsec,
    Port,
    Reconf,
    Repeat,
    Source,
    Symbols,
    TargetInfo,
    Task,
    Thread,
    Wait,
    Window,
)
from aci.timing import Timing, pr_ns  # noqa: E402 (after sys.path.insert)

TIMING = Timing(
    icap_bytes_per_s=357_000_000,
    pr_overhead_ns=50_000,
    dma_bytes_per_s=1_200_000_000,
    clock_hz=150_000_000,
    task_overhead_ns=2_000,
    pf_write_ns=10,
    link_bits_per_s=10_000_000_000,
    link_latency_ns=20_000,
    watchdog_ns=0,
)
TARGET = TargetInfo(
    4, TIMING, (MemoryInfo("ddr", 0, 1 << 20), MemoryInfo("ocm", 0xFFFC_0000, 0x4_0000))
)
TEST = CoreInfo(200, "TEST", ("in", "out"), 2, 4096, 0xF_0000, (1000, 1000, 2, 0))
OTHER = CoreInfo(7, "OTHER", ("in", "in", "out"), 1, 4096, 0xF_1000)


def task(slot=0, core=200, ports=None, off=0, words=2, cycles=100, waits=(), strides=1, src=None):
    if ports is None:
        s = (256,) * strides
        ports = (Port(0x1000, 256, s), Port(0x8000, 256, s))
    return Task(slot, core, ports, off, words, cycles, tuple(waits), src)


def base(**kw) -> Image:
    """A small valid image: REPEAT > WINDOW (RECONF) > PARSEC > 2 THREADs > LOOP > TASK."""
    t0 = Task(
        0,
        200,
        (Port(0x1000, 256, (1024, 256)), Port(0x8000, 256, (1024, 256))),
        0,
        2,
        100,
        (Wait(1, 0),),
        Source(0, 7),
    )
    t1 = Task(
        1, 200, (Port(0x2000, 256, (0,)), Port(0x9000, 256, (0,))), 2, 2, 100, (), Source(0, 9)
    )
    win = Window(
        (Reconf(0, 200, Source(0, 4)), Reconf(1, 200, Source(0, 5))),
        (
            Parsec(
                (
                    Thread((Loop(4, (t0,), Source(0, 6)),), Source(0, 6)),
                    Thread((t1,), Source(0, 8)),
                ),
                Source(0, 5),
            ),
        ),
        Source(0, 3),
    )
    img = Image(
        TARGET,
        (TEST,),
        (16, 1, 256, 2),
        (Repeat(2, (win,), Source(0, 2)),),
        True,
        Symbols(
            (BufferSymbol("src", "u8", "input", (4, 1024), 0, 0x1000, 4096),), ("example.aci",)
        ),
    )
    return record.evolve(img, **kw)


def first_task(img: Image) -> Task:
    return img.body[0].windows[0].parsecs[0].threads[0].body[0].body[0]


def with_task(img: Image, t: Task) -> Image:
    rep = img.body[0]
    win = rep.windows[0]
    th0 = win.parsecs[0].threads[0]
    loop = record.evolve(th0.body[0], body=(t,))
    th0 = record.evolve(th0, body=(loop,))
    par = record.evolve(win.parsecs[0], threads=(th0,) + win.parsecs[0].threads[1:])
    return record.evolve(
        img, body=(record.evolve(rep, windows=(record.evolve(win, parsecs=(par,)),)),)
    )


def with_window(img: Image, **kw) -> Image:
    rep = img.body[0]
    return record.evolve(
        img, body=(record.evolve(rep, windows=(record.evolve(rep.windows[0], **kw),)),)
    )


def fix(data: bytearray) -> bytes:
    """Recompute length and CRC after a byte-level edit, so only the intended rule breaks."""
    data[8:12] = len(data).to_bytes(4, "little")
    data[12:16] = F.image_crc(data).to_bytes(4, "little")
    return bytes(data)


def sections(data: bytes) -> dict[str, tuple[int, int, int]]:
    kinds = {v: k for k, v in F.SECTION_KINDS.items()}
    out = {}
    for i in range(int.from_bytes(data[20:22], "little")):
        at = 24 + 12 * i
        e = F.SECTION_ENTRY.unpack(data, at)
        out[kinds[e["kind"]]] = (e["offset"], e["length"], at)
    return out


def patch(data: bytes, offset: int, value: bytes, refix: bool = True) -> bytes:
    d = bytearray(data)
    d[offset : offset + len(value)] = value
    return fix(d) if refix else bytes(d)


def u32(v):
    return v.to_bytes(4, "little")


def u16(v):
    return v.to_bytes(2, "little")


def compute_offset(data: bytes) -> int:
    return sections(data)["COMPUTE"][0]


def vectors() -> dict[str, tuple[bytes, str | None]]:
    """name -> (bytes, expected error name or None for a valid image)."""
    good = encode(base())
    secs = sections(good)
    c = compute_offset(good)
    v: dict[str, tuple[bytes, str | None]] = {}

    def add(name, data, err):
        v[name] = (data, err)

    # ---- valid
    add("valid_base", good, None)
    add("valid_strict_no_symbols", encode(base(dataflow=False, symbols=None)), None)
    add("valid_empty_compute", encode(base(body=())), None)
    add("valid_window_no_parsec", encode(with_window(base(), parsecs=())), None)
    add(
        "valid_negative_stride",
        encode(
            with_task(
                base(),
                task(
                    ports=(Port(0x4000, 256, (-1024, -256)), Port(0x8000, 256, (0, 0))), strides=2
                ),
            )
        ),
        None,
    )
    # ---- header
    add("magic", patch(good, 0, b"ACIY"), "bad_magic")
    add("magic_zero", patch(good, 0, b"\0\0\0\0"), "bad_magic")
    add("version_major_2", patch(good, 4, u16(2)), "bad_version")
    add("version_major_0", patch(good, 4, u16(0)), "bad_version")
    add("length_field_short", patch(good, 8, u32(len(good) - 8), refix=False), "bad_length")
    add("length_field_long", patch(good, 8, u32(len(good) + 1), refix=False), "bad_length")
    add("shorter_than_header", good[:20], "bad_length")
    add("empty", b"", "bad_length")
    add(
        "crc",
        patch(good, 12, u32(int.from_bytes(good[12:16], "little") ^ 1), refix=False),
        "bad_crc",
    )
    add(
        "crc_body_byte",
        patch(good, len(good) - 1, bytes([good[-1] ^ 0x55]), refix=False),
        "bad_crc",
    )
    add("flags_unknown", patch(good, 16, u32(2)), "reserved_nonzero")
    add("header_reserved", patch(good, 22, u16(1)), "reserved_nonzero")
    # ---- section table
    add("section_count_huge", patch(good, 20, u16(9)), "bad_section_table")
    add("section_table_past_end", fix(bytearray(good[:40]) + bytearray()), "bad_section_table")
    off, ln, at = secs["PARAM"]
    add("section_kind_unknown", patch(good, at, u16(9)), "section_unknown")
    add("section_duplicate", patch(good, at, u16(F.SECTION_KINDS["CORES"])), "section_duplicate")
    add("section_missing_param", _drop_section(good, "PARAM"), "section_missing")
    add("section_missing_compute", _drop_section(good, "COMPUTE"), "section_missing")
    add("section_entry_reserved", patch(good, at + 2, u16(1)), "reserved_nonzero")
    add("section_past_end", patch(good, at + 8, u32(len(good))), "section_bounds")
    add("section_into_header", patch(good, at + 4, u32(8)), "section_bounds")
    t_off, t_len, t_at = secs["TARGET"]
    add(
        "sections_overlap",
        patch(good, sections(good)["CORES"][2] + 4, u32(t_off + 8)),
        "section_overlap",
    )
    add("truncated_image", fix(bytearray(good[: len(good) - 40])), "section_bounds")
    # ---- sections
    add("target_size", patch(good, t_at + 8, u32(t_len - 8)), "section_size")
    add("target_slots_zero", encode(base(target=record.evolve(TARGET, slots=0))), "bad_target")
    add("target_slots_17", encode(base(target=record.evolve(TARGET, slots=17))), "bad_target")
    add(
        "target_clock_zero",
        encode(base(target=record.evolve(TARGET, timing=record.evolve(TIMING, clock_hz=0)))),
        "bad_target",
    )
    add(
        "target_icap_zero",
        encode(
            base(target=record.evolve(TARGET, timing=record.evolve(TIMING, icap_bytes_per_s=0)))
        ),
        "bad_target",
    )
    add(
        "target_latency_huge",
        encode(
            base(
                target=record.evolve(TARGET, timing=record.evolve(TIMING, link_latency_ns=1 << 41))
            )
        ),
        "bad_target",
    )
    add(
        "target_memories_overlap",
        encode(
            base(
                target=record.evolve(
                    TARGET, memories=TARGET.memories + (MemoryInfo("x", 0x100, 16),)
                )
            )
        ),
        "bad_target",
    )
    add(
        "target_memory_empty",
        encode(base(target=record.evolve(TARGET, memories=(MemoryInfo("ddr", 0, 0),)))),
        "bad_target",
    )
    add(
        "target_memory_wraps",
        encode(
            base(target=record.evolve(TARGET, memories=(MemoryInfo("ddr", (1 << 64) - 16, 32),)))
        ),
        "bad_target",
    )
    add(
        "target_memory_name",
        encode(base(target=record.evolve(TARGET, memories=(MemoryInfo("", 0, 1 << 20),)))),
        "bad_target",
    )
    add("target_no_memories", encode(base(target=record.evolve(TARGET, memories=()))), "bad_target")
    add("target_reserved", patch(good, t_off + 2, u16(1)), "reserved_nonzero")
    add("cores_zero", encode(base(cores=())), "bad_core")
    add("cores_duplicate_id", encode(base(cores=(TEST, TEST))), "bad_core")
    add("core_no_ports", encode(base(cores=(record.evolve(TEST, port_dirs=()),))), "bad_core")
    add(
        "core_too_many_ports",
        encode(base(cores=(record.evolve(TEST, port_dirs=("in",) * 9),))),
        "bad_core",
    )
    add(
        "core_too_many_params",
        encode(base(cores=(record.evolve(TEST, param_words=17),))),
        "bad_core",
    )
    add(
        "core_bitstream_outside",
        encode(base(cores=(record.evolve(TEST, bitstream_addr=(1 << 20) - 100),))),
        "bad_core",
    )
    add(
        "core_bitstream_empty",
        encode(base(cores=(record.evolve(TEST, bitstream_size=0),))),
        "bad_core",
    )
    add("core_name_empty", encode(base(cores=(record.evolve(TEST, name=""),))), "bad_core")
    cores_off = secs["CORES"][0]
    add("core_port_dirs_extra", patch(good, cores_off + 8 + 3, bytes([0b110])), "bad_core")
    add("cores_size", patch(good, secs["CORES"][2] + 8, u32(secs["CORES"][1] - 4)), "section_size")
    add("sync_size", patch(good, secs["SYNC"][2] + 8, u32(F.SYNC.size - 8)), "section_size")
    add(
        "param_not_words",
        patch(good, secs["PARAM"][2] + 8, u32(secs["PARAM"][1] - 2)),
        "section_size",
    )
    add(
        "symbols_buffer_outside",
        encode(
            base(symbols=Symbols((BufferSymbol("b", "u8", "input", (8,), 0, 1 << 20, 8),), ("x",)))
        ),
        "bad_symbols",
    )
    add(
        "symbols_bad_elem",
        patch(good, secs["SYMBOLS"][0] + F.SYMBOLS.size + 32, bytes([99])),
        "bad_symbols",
    )
    add(
        "symbols_memory_index",
        encode(base(symbols=Symbols((BufferSymbol("b", "u8", "input", (8,), 5, 0, 8),), ("x",)))),
        "bad_symbols",
    )
    add(
        "symbols_size",
        patch(good, secs["SYMBOLS"][2] + 8, u32(secs["SYMBOLS"][1] - 12)),
        "section_size",
    )
    # ---- instructions
    add("opcode_unknown", patch(good, c, bytes([99])), "bad_opcode")
    add("opcode_zero", patch(good, c, bytes([0])), "bad_opcode")
    add("insn_flags", patch(good, c + 1, bytes([1])), "reserved_nonzero")
    add(
        "insn_length_past_compute",
        patch(good, c + 4, u32(secs["COMPUTE"][1] + 8)),
        "bad_insn_length",
    )
    add("insn_length_too_small", patch(good, c + 4, u32(4)), "bad_insn_length")
    add("insn_header_cut", _append_compute(b"\x01\0\0\0"), "bad_insn_length")
    add("task_at_top_level", encode(base(body=(first_task(base()),))), "bad_nesting")
    add(
        "task_in_parsec",
        encode(with_window(base(), parsecs=(Parsec((first_task(base()),)),))),
        "bad_nesting",
    )
    add("thread_in_window", encode(with_window(base(), parsecs=(Thread(()),))), "bad_nesting")
    add("window_in_window", encode(with_window(base(), parsecs=(Window((), ()),))), "bad_nesting")
    add("repeat_in_repeat", encode(base(body=(Repeat(2, (Repeat(2, ()),)),))), "bad_nesting")
    add("reconf_after_parsec", _reconf_after_parsec(), "bad_nesting")
    deep = task(strides=5)
    for _ in range(5):
        deep = Loop(2, (deep,))
    add(
        "loops_too_deep",
        encode(
            base(body=(Repeat(1, (Window((Reconf(0, 200),), (Parsec((Thread((deep,)),)),)),)),))
        ),
        "too_deep",
    )
    add("loop_count_zero", encode(_loop_count(0)), "bad_count")
    add("loop_count_over_limit", encode(_loop_count(F.LIMITS["max_loop_count"] + 1)), "bad_count")
    add(
        "repeat_count_zero",
        encode(base(body=(record.evolve(base().body[0], count=0),))),
        "bad_count",
    )
    add(
        "repeat_count_over_limit",
        encode(base(body=(record.evolve(base().body[0], count=F.LIMITS["max_repeat_count"] + 1),))),
        "bad_count",
    )
    add("too_many_operations", encode(_many_operations()), "bad_count")
    add("task_slot_out_of_range", encode(with_task(base(), task(slot=4, strides=2))), "bad_slot")
    add(
        "reconf_slot_out_of_range",
        encode(with_window(base(), reconfs=(Reconf(9, 200),))),
        "bad_slot",
    )
    add("task_unknown_core", encode(with_task(base(), task(core=5, strides=2))), "unknown_core")
    add("reconf_unknown_core", encode(with_window(base(), reconfs=(Reconf(0, 5),))), "unknown_core")
    add(
        "task_too_few_ports",
        encode(with_task(base(), task(ports=(Port(0x1000, 256, (0, 0)),), strides=2))),
        "bad_ports",
    )
    add("task_param_words", encode(with_task(base(), task(words=1, strides=2))), "bad_ports")
    add("task_strides_missing", encode(with_task(base(), task(strides=1))), "bad_strides")
    add("task_strides_extra", encode(with_task(base(), task(strides=3))), "bad_strides")
    add(
        "region_outside_memory",
        encode(
            with_task(
                base(),
                task(ports=(Port(0x20_0000, 16, (0, 0)), Port(0x8000, 256, (0, 0))), strides=2),
            )
        ),
        "bad_region",
    )
    add(
        "region_leaves_after_strides",
        encode(
            with_task(
                base(),
                task(ports=(Port(0xF_F000, 256, (0, 2048)), Port(0x8000, 256, (0, 0))), strides=2),
            )
        ),
        "bad_region",
    )
    add(
        "region_leaves_after_repeat",
        encode(
            with_task(
                base(),
                task(ports=(Port(0xF_FE00, 256, (4096, 0)), Port(0x8000, 256, (0, 0))), strides=2),
            )
        ),
        "bad_region",
    )
    add(
        "region_negative_stride",
        encode(
            with_task(
                base(),
                task(ports=(Port(0x100, 256, (0, -1024)), Port(0x8000, 256, (0, 0))), strides=2),
            )
        ),
        "bad_region",
    )
    two = record.evolve(
        TARGET, memories=(MemoryInfo("a", 0, 0x8_0000), MemoryInfo("b", 0x8_0000, 0x8_0000))
    )
    spanning = Task(0, 200, (Port(0x7_FF00, 512, ()), Port(0, 16, ())), 0, 2, 1)
    add(
        "region_spans_two_memories",
        encode(Image(two, (TEST,), (1, 2), (_single(spanning),))),
        "bad_region",
    )
    add(
        "region_empty",
        encode(
            with_task(
                base(), task(ports=(Port(0x1000, 0, (0, 0)), Port(0x8000, 256, (0, 0))), strides=2)
            )
        ),
        "bad_region",
    )
    add("param_block_past_section", encode(with_task(base(), task(off=3, strides=2))), "bad_params")
    add(
        "wait_slot_out_of_range",
        encode(with_task(base(), task(waits=(Wait(4, 0),), strides=2))),
        "bad_wait",
    )
    add(
        "wait_lag_over_limit",
        encode(with_task(base(), task(waits=(Wait(1, 256),), strides=2))),
        "bad_wait",
    )
    add(
        "too_many_waits",
        encode(with_task(base(), task(waits=(Wait(1, 0),) * 17, strides=2))),
        "bad_wait",
    )
    add(
        "parsec_slot_conflict",
        encode(with_task(base(), task(slot=1, strides=2))),
        "parsec_slot_conflict",
    )
    slow = record.evolve(TARGET, timing=record.evolve(TIMING, clock_hz=1))
    add(
        "task_duration_huge",
        encode(Image(slow, (TEST,), (1, 2), (_single(task(strides=0, cycles=(1 << 32) - 1)),))),
        "bad_cycles",
    )
    add("task_reserved", patch(good, _first_task_offset(good) + 13, bytes([1])), "reserved_nonzero")
    add("task_length_mismatch", _task_length_plus(good, 8), "bad_insn_length")
    add(
        "port_reserved",
        patch(good, _first_task_offset(good) + 24 + 12, bytes([1])),
        "reserved_nonzero",
    )
    # ---- INIT: the initial memory the board writes when it accepts the image
    init = (
        InitChunk(0x1000, bytes(range(1, 256)) + b"\x07"),
        InitChunk(0x1100, b"\x2a" * 13),
        InitChunk(0xFFFC_0000, b"\x01\x02\x03"),
    )
    with_init = encode(base(init=init))
    add("valid_init", with_init, None)
    i_off = sections(with_init)["INIT"][0]
    first, second = i_off + F.INIT.size, i_off + F.INIT.size + F.INIT_CHUNK.size + 256
    add("init_count_zero", patch(with_init, i_off, u32(0)), "bad_init")
    add("init_reserved", patch(with_init, i_off + 4, u32(1)), "reserved_nonzero")
    add("init_chunk_reserved", patch(with_init, first + 12, u32(1)), "reserved_nonzero")
    add("init_chunk_empty", encode(base(init=(InitChunk(0x1000, b""),))), "bad_init")
    add(
        "init_outside_memory",
        encode(base(init=(InitChunk((1 << 20) - 4, b"12345678"),))),
        "bad_init",
    )
    add(
        "init_overlap",
        encode(base(init=(InitChunk(0x1000, b"abcdefgh"), InitChunk(0x1004, b"x")))),
        "bad_init",
    )
    add(
        "init_out_of_order",
        encode(base(init=(InitChunk(0x2000, b"a"), InitChunk(0x1000, b"b")))),
        "bad_init",
    )
    add("init_padding", patch(with_init, second + F.INIT_CHUNK.size + 13, b"\x01"), "bad_init")
    add("init_count_high", patch(with_init, i_off, u32(4)), "bad_init")
    add("init_count_low", patch(with_init, i_off, u32(2)), "bad_init")
    add("init_length_past_end", patch(with_init, second + 8, u32(1 << 20)), "bad_init")
    v.update(limit_vectors())
    return v


# Valid vectors too long to run in a test (the manifest marks them).
VALIDATE_ONLY = {"limit_operations_at", "limit_loop_count_at", "limit_repeat_count_at"}


def _timing(**kw) -> TargetInfo:
    return record.evolve(TARGET, timing=record.evolve(TIMING, **kw))


def _flat(count_repeat: int, count_loop: int) -> Image:
    """REPEAT count_repeat > WINDOW > PARSEC > THREAD > LOOP count_loop > TASK: that
    many operations. Nothing reconfigures slot 0, so a run stops at the first task."""
    t = task(strides=2, ports=(Port(0x1000, 16, (0, 0)), Port(0x8000, 16, (0, 0))))
    loop = Loop(count_loop, (t,))
    return base(body=(Repeat(count_repeat, (Window((), (Parsec((Thread((loop,)),)),)),)),))


def limit_vectors() -> dict[str, tuple[bytes, str | None]]:
    """At and just over every limit of aci.format.LIMITS that an image can reach."""
    L = F.LIMITS
    v: dict[str, tuple[bytes, str | None]] = {}
    # operations: 2^32 - 1 = 65537 * 65535 (both counts within their limits); the
    # issue's image, REPEAT 2^24 x LOOP 256, is one over
    assert 65537 * 65535 == L["max_operations"]
    v["limit_operations_at"] = (encode(_flat(65537, 65535)), None)
    v["limit_operations_over"] = (encode(_flat(1 << 24, 256)), "bad_count")
    v["limit_loop_count_at"] = (encode(_flat(1, L["max_loop_count"])), None)
    v["limit_repeat_count_at"] = (encode(_flat(L["max_repeat_count"], 1)), None)
    # rates and clocks: 1 .. max_rate
    top = L["max_rate"]
    v["limit_rates_at"] = (
        encode(
            base(
                target=_timing(
                    icap_bytes_per_s=top, dma_bytes_per_s=top, clock_hz=top, link_bits_per_s=top
                )
            )
        ),
        None,
    )
    v["limit_clock_over"] = (encode(base(target=_timing(clock_hz=top + 1))), "bad_target")
    v["limit_dma_rate_over"] = (encode(base(target=_timing(dma_bytes_per_s=top + 1))), "bad_target")
    v["limit_link_rate_over"] = (
        encode(base(target=_timing(link_bits_per_s=top + 1))),
        "bad_target",
    )
    # time fields: at most max_time_ns
    most = L["max_time_ns"]
    v["limit_time_fields_at"] = (
        encode(base(target=_timing(watchdog_ns=most, link_latency_ns=most))),
        None,
    )
    v["limit_watchdog_over"] = (encode(base(target=_timing(watchdog_ns=most + 1))), "bad_target")
    v["limit_pf_write_over"] = (encode(base(target=_timing(pf_write_ns=most + 1))), "bad_target")
    # one reconfiguration: pr_overhead_ns + the bitstream through the ICAP
    bits = pr_ns(TIMING, TEST.bitstream_size) - TIMING.pr_overhead_ns
    v["limit_reconf_at"] = (encode(base(target=_timing(pr_overhead_ns=most - bits))), None)
    v["limit_reconf_over"] = (
        encode(base(target=_timing(pr_overhead_ns=most - bits + 1))),
        "bad_core",
    )
    # one task: overhead + parameter writes + its cycles at 1 kHz (1 ms each)
    slow = dict(clock_hz=1000, task_overhead_ns=most - 2 * TIMING.pf_write_ns - 10**12)
    one = Image(
        _timing(**slow),
        (TEST,),
        (1, 2),
        (Window((Reconf(0, 200),), (Parsec((Thread((task(strides=0, cycles=10**6),)),)),)),),
    )
    v["limit_task_at"] = (encode(one), None)
    v["limit_task_over"] = (
        encode(
            record.evolve(
                one, target=_timing(**{**slow, "task_overhead_ns": slow["task_overhead_ns"] + 1})
            )
        ),
        "bad_cycles",
    )
    # slots, memories, cores
    slots = L["max_slots"]
    wide = record.evolve(TARGET, slots=slots)
    last = Window(
        (Reconf(slots - 1, 200),), (Parsec((Thread((task(slot=slots - 1, strides=0),)),)),)
    )
    v["limit_slots_at"] = (encode(Image(wide, (TEST,), (1, 2), (last,))), None)
    mems = tuple(MemoryInfo(f"m{k}", k << 20, 1 << 20) for k in range(L["max_memories"]))
    v["limit_memories_at"] = (encode(base(target=record.evolve(TARGET, memories=mems))), None)
    v["limit_memories_over"] = (
        encode(
            base(target=record.evolve(TARGET, memories=mems + (MemoryInfo("more", 1 << 30, 16),)))
        ),
        "bad_target",
    )
    many = tuple(
        record.evolve(TEST, id=k, name=f"C{k}", bitstream_addr=0x8_0000 + 4096 * k)
        for k in range(L["max_cores"] - 1)
    )
    v["limit_cores_at"] = (encode(base(cores=many + (TEST,))), None)
    v["limit_cores_over"] = (
        encode(base(cores=many + (TEST, record.evolve(TEST, id=201, name="ONE_MORE")))),
        "bad_core",
    )
    # ports, parameter words, waits and lags of one task
    ports, params = L["max_ports"], L["max_params"]
    full = CoreInfo(9, "FULL", ("in",) * (ports - 1) + ("out",), params, 4096, 0xF_2000)
    t = Task(
        0,
        9,
        tuple(Port(0x1000 * (k + 1), 64, ()) for k in range(ports)),
        0,
        params,
        100,
        (Wait(1, L["max_wait_lag"]),) * L["max_waits"],
    )
    v["limit_task_records_at"] = (
        encode(
            Image(
                TARGET,
                (full,),
                tuple(range(params)),
                (Window((Reconf(0, 9),), (Parsec((Thread((t,)),)),)),),
                True,
            )
        ),
        None,
    )
    # loops nested max_loop_depth deep (inside the REPEAT)
    deep = task(strides=L["max_loop_depth"] + 1)
    for _ in range(L["max_loop_depth"]):
        deep = Loop(2, (deep,))
    v["limit_loop_depth_at"] = (
        encode(
            base(body=(Repeat(1, (Window((Reconf(0, 200),), (Parsec((Thread((deep,)),)),)),)),))
        ),
        None,
    )
    # dimensions of a buffer
    dims = BufferSymbol("b", "u8", "input", (2,) * L["max_dims"], 0, 0x1000, 2 ** L["max_dims"])
    at_dims = encode(base(symbols=Symbols((dims,), ("x",))))
    v["limit_dims_at"] = (at_dims, None)
    v["limit_dims_over"] = (
        patch(
            at_dims,
            sections(at_dims)["SYMBOLS"][0] + F.SYMBOLS.size + F.BUFFER.at("ndims"),
            bytes([L["max_dims"] + 1]),
        ),
        "bad_symbols",
    )
    return v


def _drop_section(data: bytes, kind: str) -> bytes:
    """Rewrite the section table without one entry (its bytes stay as padding)."""
    secs = sorted(sections(data).items(), key=lambda kv: kv[1][0])
    d = bytearray(data)
    n = len(secs)
    keep = [(k, o, ln) for k, (o, ln, _) in secs if k != kind]
    table = b"".join(
        F.SECTION_ENTRY.pack(kind=F.SECTION_KINDS[k], offset=o, length=ln) for k, o, ln in keep
    )
    d[24 : 24 + 12 * n] = table + b"\0" * 12
    d[20:22] = u16(n - 1)
    return fix(d)


def _single(t: Task) -> Window:
    """A window holding one task."""
    return Window((), (Parsec((Thread((t,)),)),))


def _append_compute(extra: bytes) -> bytes:
    """Grow COMPUTE by a few bytes (the last section but SYMBOLS) by rebuilding the layout."""
    img = base(symbols=None)
    raw = bytearray(encode(img))
    s = sections(bytes(raw))
    off, ln, at = s["COMPUTE"]
    raw[off + ln : off + ln] = extra
    raw[at + 8 : at + 12] = u32(ln + len(extra))
    return fix(raw)


def _reconf_after_parsec() -> bytes:
    raw = bytearray(encode(base(symbols=None)))
    c = compute_offset(bytes(raw))
    # REPEAT header+fields (16) then WINDOW header (8): its first child is a RECONF (16 bytes)
    w = c + 16 + 8
    first = bytes(raw[w : w + 16])
    par_len = int.from_bytes(raw[w + 32 + 4 : w + 32 + 8], "little")
    parsec = bytes(raw[w + 32 : w + 32 + par_len])
    raw[w : w + 32 + par_len] = bytes(raw[w + 16 : w + 32]) + parsec + first
    return fix(raw)


def _loop_count(n: int) -> Image:
    img = base()
    loop = img.body[0].windows[0].parsecs[0].threads[0].body[0]
    rep = img.body[0]
    win = rep.windows[0]
    th0 = record.evolve(win.parsecs[0].threads[0], body=(record.evolve(loop, count=n),))
    par = record.evolve(win.parsecs[0], threads=(th0,) + win.parsecs[0].threads[1:])
    return record.evolve(
        img, body=(record.evolve(rep, windows=(record.evolve(win, parsecs=(par,)),)),)
    )


def _many_operations() -> Image:
    t = task(strides=4, ports=(Port(0x1000, 16, (0, 0, 0, 0)), Port(0x8000, 16, (0, 0, 0, 0))))
    body = Loop(1 << 12, (Loop(1 << 12, (Loop(1 << 12, (t,)),)),))
    return base(body=(Repeat(2, (Window((), (Parsec((Thread((body,)),)),)),)),))


def _first_task_offset(data: bytes) -> int:
    c = compute_offset(data)
    # REPEAT(16) WINDOW(8) RECONF(16) RECONF(16) PARSEC(8) THREAD(8) LOOP(16)
    return c + 16 + 8 + 16 + 16 + 8 + 8 + 16


def _task_length_plus(data: bytes, extra: int) -> bytes:
    """Claim a TASK is longer than its counts make (the extra bytes taken from its wait)."""
    t = _first_task_offset(data)
    ln = int.from_bytes(data[t + 4 : t + 8], "little")
    return patch(data, t + 4, u32(ln - extra))


def write(directory: Path = HERE) -> dict:
    manifest = {}
    for sub in ("valid", "invalid"):
        d = directory / sub
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.acx"):
            old.unlink()
    for name, (data, err) in sorted(vectors().items()):
        sub = "valid" if err is None else "invalid"
        path = directory / sub / f"{name}.acx"
        path.write_bytes(data)
        manifest[f"{sub}/{name}.acx"] = (
            {"valid": True}
            if err is None
            else {"valid": False, "error": err, "code": F.ERROR_BY_NAME[err].code}
        )
        if name in VALIDATE_ONLY:
            manifest[f"{sub}/{name}.acx"]["validate_only"] = True
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


if __name__ == "__main__":
    m = write()
    print(f"{len(m)} vectors ({sum(1 for x in m.values() if not x['valid'])} invalid)")
