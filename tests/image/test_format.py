"""The image format: generated files, conformance vectors, round trips, determinism."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aci import _generate
from aci import format as F
from aci.asm import AsmError, assemble, disassemble
from aci.decode import ImageError, decode
from aci.encode import encode
from aci.image import (
    CoreInfo,
    Image,
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
from aci.pipeline import compile_file
from aci.timing import Timing

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "tests" / "conformance"
# Every shipped single-board program (a file with a system compiles to a bundle:
# tests/system/test_language.py)
PROGRAMS = sorted(
    p
    for p in (ROOT / "programs").rglob("*.aci")
    if re.search(r"^program ", p.read_text(), re.M)
    and not re.search(r"^system ", p.read_text(), re.M)
)
MANIFEST = json.loads((CONF / "manifest.json").read_text())


def test_generated_files_are_current():
    assert _generate.stale() == [], "run `make generate`"


def test_conformance_vectors_are_current(tmp_path):
    sys.path.insert(0, str(CONF))
    import make_vectors

    fresh = make_vectors.write(tmp_path)
    assert fresh == MANIFEST
    for name in fresh:
        assert (tmp_path / name).read_bytes() == (CONF / name).read_bytes(), name


def test_every_rule_has_a_vector():
    covered = {e["error"] for e in MANIFEST.values() if not e["valid"]}
    assert {e.name for e in F.ERRORS if e.kind == "image"} - covered == set()
    assert sum(not e["valid"] for e in MANIFEST.values()) >= 60


# Limits an image cannot exceed by construction: the width of a field, or fewer
# section kinds than sections allowed.
_STRUCTURAL = {"max_cycles", "max_image_bytes", "max_sections"}


def test_every_limit_has_vectors_at_and_over_it():
    """A valid vector at every limit an image can reach, and an invalid one just over
    it (or an older vector over it), so both validators apply the same bound."""
    text = (CONF / "make_vectors.py").read_text()
    for limit in set(F.LIMITS) - _STRUCTURAL:
        assert f'L["{limit}"]' in text, f"no vector at `{limit}`"
    assert any(n.startswith("valid/limit_") for n in MANIFEST)
    over = {n for n, e in MANIFEST.items() if not e["valid"] and "over" in n}
    assert len(over) >= 12


def test_sync_counters_hold_every_count_the_validator_accepts():
    """slot_done* and progress count operations (and tasks) of one run: each is wide
    enough for max_operations, so no accepted image wraps one (the firmware also
    asserts it at compile time)."""
    widths = {"u32": 32, "u64": 64}
    counters = [f for f in F.SYNC.fields if f.name.startswith("slot_done") or f.name == "progress"]
    assert len(counters) == 1 + F.LIMITS["max_slots"]
    for f in counters:
        assert F.LIMITS["max_operations"] < 1 << widths[f.type], f.name


def test_every_refusal_is_documented_with_its_code():
    """Each code either validator refuses an image with is an image code with its
    rules in docs/format.md; each limit a rule names is one of LIMITS."""
    decode_src = (ROOT / "aci" / "decode.py").read_text()
    c_src = (ROOT / "firmware" / "src" / "validate.c").read_text()
    used = set(re.findall(r'_fail\("(\w+)"', decode_src)) | set(
        re.findall(r'_time\(.*"(\w+)"\)$', decode_src, re.M)
    )
    used |= {m.lower() for m in re.findall(r"fail\(&?v, ACI_ERR_(\w+)", c_src)} - {"internal"}
    doc = (ROOT / "docs" / "format.md").read_text()
    image_codes = {e.name for e in F.ERRORS if e.kind == "image"}
    assert len(used) >= 25 and used <= image_codes, used - image_codes
    for e in F.ERRORS:
        if e.kind == "image":
            assert f"| {e.code} | `{e.name}` | {'; '.join(F.rules(e))} |" in doc
            for rule in e.rules:
                for name in re.findall(r"\{(\w+)\}", rule):
                    assert name in F.LIMITS


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_conformance_vector(name):
    data = (CONF / name).read_bytes()
    expect = MANIFEST[name]
    if expect["valid"]:
        img = decode(data)
        assert encode(img) == data
    else:
        with pytest.raises(ImageError) as e:
            decode(data)
        assert (e.value.name, e.value.code) == (expect["error"], expect["code"])
        assert 0 <= e.value.offset <= max(len(data), F.HEADER.size)


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
@pytest.mark.parametrize("mode", ["strict", "dataflow"])
def test_program_round_trips(path, mode):
    c = compile_file(
        str(path), {"IMAGES": "8", "BATCH": "4"} if "bnn" in path.name else None, mode=mode
    )
    img = decode(c.data)
    assert img == c.image
    text = disassemble(img)
    again = encode(assemble(text, "x.acs"))
    assert again == c.data
    assert disassemble(decode(again)) == text


def test_same_bytes_under_different_hash_seeds(tmp_path):
    outs = []
    for seed in ("0", "1", "12345"):
        out = tmp_path / f"{seed}.acx"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "aci",
                "compile",
                "programs/bnn_pr.aci",
                "-D",
                "BATCH=20",
                "-o",
                str(out),
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]


SMALL = compile_file(str(ROOT / "programs" / "examples" / "parallel.aci")).data


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SMALL) - 1), st.integers(1, 255))
def test_any_single_byte_change_is_refused(pos, delta):
    bad = bytearray(SMALL)
    bad[pos] = (bad[pos] + delta) % 256
    with pytest.raises(ImageError):
        decode(bytes(bad))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(SMALL) - 1))
def test_any_truncation_is_refused(n):
    with pytest.raises(ImageError):
        decode(SMALL[:n])


# ---- random instruction-level programs ------------------------------------------------

TIMING = Timing(
    357_000_000, 50_000, 1_200_000_000, 150_000_000, 2_000, 10, 10_000_000_000, 20_000, 0
)
MEM = 1 << 20


@st.composite
def images(draw):
    slots = draw(st.integers(1, 8))
    ncores = draw(st.integers(1, 3))
    cores = tuple(
        CoreInfo(
            10 + k,
            f"C{k}",
            tuple(draw(st.lists(st.sampled_from(["in", "out"]), min_size=1, max_size=3))),
            draw(st.integers(0, 3)),
            4096,
            0xF_0000 + 0x1000 * k,
        )
        for k in range(ncores)
    )
    params = tuple(draw(st.lists(st.integers(0, 2**32 - 1), min_size=4, max_size=12)))
    with_symbols = draw(st.booleans())  # source lines live in SYMBOLS
    sources = (
        st.none() | st.builds(Source, st.just(0), st.integers(1, 999))
        if with_symbols
        else st.none()
    )

    def task(levels):
        c = draw(st.sampled_from(cores))
        ports = tuple(
            Port(
                draw(st.integers(0, 0x1000)) * 16,
                draw(st.integers(1, 256)),
                tuple(draw(st.integers(0, 64)) * 16 for _ in levels),
            )
            for _ in c.port_dirs
        )
        waits = tuple(
            Wait(draw(st.integers(0, slots - 1)), draw(st.integers(0, 255)))
            for _ in range(draw(st.integers(0, 2)))
        )
        return Task(
            draw(st.integers(0, slots - 1)),
            c.id,
            ports,
            draw(st.integers(0, len(params) - c.param_words)),
            c.param_words,
            draw(st.integers(0, 10**6)),
            waits,
            draw(sources),
        )

    def body(levels, depth):
        items = []
        for _ in range(draw(st.integers(1, 3))):
            if depth < 2 and draw(st.booleans()):
                n = draw(st.integers(1, 4))
                items.append(Loop(n, tuple(body(levels + (n,), depth + 1))))
            else:
                items.append(task(levels))
        return items

    def window(levels):
        recs = tuple(
            Reconf(draw(st.integers(0, slots - 1)), draw(st.sampled_from(cores)).id)
            for _ in range(draw(st.integers(0, 2)))
        )
        pars = []
        for _ in range(draw(st.integers(0, 2))):
            threads = []
            for _ in range(draw(st.integers(1, 2))):
                th = Thread(tuple(body(levels, 0)))
                threads.append(th)
            # give each thread its own slot so the parsec is valid
            fixed = []
            for k, th in enumerate(threads[:slots]):
                fixed.append(_on_slot(th, k))
            pars.append(Parsec(tuple(fixed)))
        return Window(recs, tuple(pars))

    top = []
    for _ in range(draw(st.integers(0, 2))):
        if draw(st.booleans()):
            n = draw(st.integers(1, 3))
            top.append(Repeat(n, (window((n,)),)))
        else:
            top.append(window(()))
    syms = Symbols((), ("f.aci",)) if with_symbols else None
    return Image(
        TargetInfo(slots, TIMING, (MemoryInfo("ddr", 0, MEM),)),
        cores,
        params,
        tuple(top),
        draw(st.booleans()),
        syms,
    )


def _on_slot(node, slot):
    from aci import record

    if isinstance(node, Task):
        return record.evolve(node, slot=slot)
    return record.evolve(node, body=tuple(_on_slot(b, slot) for b in node.body))


@settings(max_examples=200, deadline=None)
@given(images())
def test_random_images_round_trip(img):
    data = encode(img)
    back = decode(data)
    assert back == img
    assert encode(assemble(disassemble(back))) == data


@pytest.mark.parametrize(
    "text,where",
    [
        ("", 1),
        (".mode strict\n.target slots=4\n", 2),
        (".mode fast\n", 1),
        (
            ".mode strict\n.target slots=4 "
            + " ".join(
                f"{k}=1"
                for k in [
                    "icap_bytes_per_s",
                    "pr_overhead_ns",
                    "dma_bytes_per_s",
                    "clock_hz",
                    "task_overhead_ns",
                    "pf_write_ns",
                    "link_bits_per_s",
                    "link_latency_ns",
                    "watchdog_ns",
                ]
            )
            + "\nwindow {\n  frob\n}\n",
            4,
        ),
    ],
)
def test_assembler_errors_have_a_line(text, where):
    with pytest.raises(AsmError) as e:
        assemble(text, "t.acs")
    assert e.value.line == where


def test_every_run_time_error_has_its_words():
    """Each message belongs to a run-time error and names only known fields; each
    run-time error has one (the engines fill them: tests/run/test_differential.py)."""
    owners = set()
    for key, text in F.MESSAGES.items():
        e = F.message_error(key)
        assert e.kind == "run", key
        owners.add(e.name)
        fields = set(re.findall(r"\{(\w+)\}", text))
        assert fields <= set(F.MESSAGE_FIELDS), key
        filled = F.message(
            key, **{f: [1, 2] if F.MESSAGE_FIELDS[f] == "ints" else 7 for f in fields}
        )
        assert (
            "{" not in filled
            and "1, 2" in filled
            or "ints" not in {F.MESSAGE_FIELDS[f] for f in fields}
        )
    assert owners == {e.name for e in F.ERRORS if e.kind == "run"}
