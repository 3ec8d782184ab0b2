"""The firmware's validator refuses exactly the images aci/decode.py refuses, with
the same code and byte offset: on random corruptions of valid images (bytes
changed, cut or inserted, with the length and CRC fixed or not), and on SYMBOLS
tables built to take each of its search paths (repeated buffer names and line
offsets, line tables in and out of order, lines that point at no instruction,
file names that are not UTF-8) with and without a scratch area."""

import json
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aci import format as F
from aci import record
from aci.encode import encode
from aci.format import image_crc
from aci.image import BufferSymbol, Source, Symbols

from ..image import builder as I
from .harness import ASAN, CONFORMANCE, NULL, SIM, py_verdict

SEEDS = [p.read_bytes() for p in sorted((CONFORMANCE / "valid").glob("*.acx"))]


def c_verdict(exe, data: bytes, tmp_path) -> tuple[int, int] | None:
    path = tmp_path / "image.acx"
    path.write_bytes(data)
    if exe == NULL:  # no hooks: no scratch area, the pairwise and lookup paths
        p = subprocess.run([str(exe), str(path), "--validate-only"], capture_output=True, text=True)
        if p.returncode == 0:
            return None
        name, offset = p.stderr.split("invalid image: ")[1].split(" at offset ")
        return F.ERROR_BY_NAME[name].code, int(offset)
    p = subprocess.run(
        [str(exe), str(path), "--validate-only", "--json"], capture_output=True, text=True
    )
    assert p.returncode in (0, 1), p.stderr
    err = json.loads(p.stdout)["error"]
    return None if err is None else (err["code"], err["offset"])


def fixed(data: bytearray) -> bytes:
    """With the header's length and CRC made right again, so the edit reaches past them."""
    if len(data) >= F.HEADER.size:
        data[8:12] = len(data).to_bytes(4, "little")
        data[12:16] = image_crc(data).to_bytes(4, "little")
    return bytes(data)


@st.composite
def corruptions(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 9))
        at = draw(st.integers(0, len(data) - 1))
        if kind < 6:
            data[at] = draw(st.sampled_from([0, 1, 2, 0x7F, 0x80, 0xFF]) | st.integers(0, 255))
        elif kind < 8:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == 8:
            del data[at : at + draw(st.sampled_from([1, 4, 8, 16]))]
        else:
            data[at:at] = bytes(draw(st.sampled_from([1, 4, 8])))
    return fixed(data) if draw(st.integers(0, 9)) else bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=corruptions())
def test_corrupted_images(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("v")
    assert c_verdict(ASAN, data, tmp) == py_verdict(data)


# ---- SYMBOLS: repeated keys, line tables, file names ------------------------------


def symbols_image(buffers=1, lines=None, file_name="prog.aci", repeat_name=None) -> bytes:
    """An image with `buffers` SYMBOLS buffers and many instructions with source lines;
    `lines` rewrites the line records' offsets afterwards (by index into the
    instruction offsets, or a raw offset as ('raw', x))."""
    tasks = [
        record.evolve(I.task(0, 0x1000 + 256 * k, 0x8000 + 256 * k), source=Source(0, k + 1))
        for k in range(90)
    ]
    body = (I.window([(0, 200)], I.parsec(I.thread(*tasks))),)
    bufs = tuple(
        BufferSymbol(
            repeat_name if repeat_name and k in (70, 80) else f"b{k}",
            "u8",
            "scratch",
            (16,),
            0,
            16 * k,
            16,
        )
        for k in range(buffers)
    )
    img = I.Image(
        I.TargetInfo(4, I.TIMING, (I.MEMORY,)),
        (I.TEST,),
        (100, 0),
        body,
        False,
        Symbols(bufs, (file_name,)),
    )
    data = bytearray(encode(img))
    if lines is not None:
        sym = _section(data, "SYMBOLS")
        nb, nf, nl = (
            int.from_bytes(data[sym : sym + 2], "little"),
            int.from_bytes(data[sym + 2 : sym + 4], "little"),
            int.from_bytes(data[sym + 4 : sym + 8], "little"),
        )
        at = sym + 8 + nb * F.BUFFER.size + nf * F.FILE.size
        offsets = [int.from_bytes(data[at + 12 * k : at + 12 * k + 4], "little") for k in range(nl)]
        for k, which in enumerate(lines):
            x = which[1] if isinstance(which, tuple) else offsets[which]
            data[at + 12 * k : at + 12 * k + 4] = x.to_bytes(4, "little")
    return fixed(data)


def _section(data, kind: str) -> int:
    n = int.from_bytes(data[20:22], "little")
    for k in range(n):
        e = F.SECTION_ENTRY.unpack(data, 24 + 12 * k)
        if e["kind"] == F.SECTION_KINDS[kind]:
            return e["offset"]
    raise KeyError(kind)


N = 90  # line records, one per task: more than the pairwise limit (64)
CASES = {
    "sorted": symbols_image(lines=None),
    "reversed": symbols_image(lines=list(range(N - 1, -1, -1))),
    "shuffled_repeat": symbols_image(lines=[(k * 37) % N for k in range(N - 1)] + [5]),
    "repeat_first_two": symbols_image(lines=[3, 3] + list(range(2, N))),
    "stray_inside_task": symbols_image(lines=list(range(N - 1)) + [("raw", 0)]),
    "stray_unsorted": symbols_image(lines=[("raw", 7)] + list(range(N - 1, 0, -1))),
    "stray_past_end": symbols_image(lines=list(range(N - 1)) + [("raw", 0xFFFFFFF0)]),
    "buffer_names_repeat": symbols_image(buffers=100, repeat_name="dup"),
    "buffer_names_many": symbols_image(buffers=100),
    "file_overlong_utf8": symbols_image(file_name="a\xc0"),
    "file_utf8_ok": symbols_image(file_name="ünïcødé/程序.aci"),
}


def _patch_file(data: bytes, raw: bytes) -> bytes:
    d = bytearray(data)
    sym = _section(d, "SYMBOLS")
    nb = int.from_bytes(d[sym : sym + 2], "little")
    at = sym + 8 + nb * F.BUFFER.size
    d[at : at + 128] = raw.ljust(128, b"\0")
    return fixed(d)


BASE = CASES["sorted"]
for name, raw in {
    "file_surrogate": b"\xed\xa0\x80",
    "file_overlong": b"\xc0\xaf",
    "file_too_big": b"\xf4\x90\x80\x80",
    "file_truncated": b"ab\xe2\x82",
    "file_pad": b"ab\0c",
    "file_4byte_ok": b"\xf0\x9f\x98\x80",
}.items():
    CASES[name] = _patch_file(BASE, raw)


@pytest.mark.parametrize("exe", [SIM, ASAN, NULL], ids=["scratch", "asan", "no-scratch"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_symbols(case, exe, tmp_path):
    data = CASES[case]
    assert c_verdict(exe, data, tmp_path) == py_verdict(data)


def test_symbols_cases_cover_both_verdicts():
    verdicts = {name: py_verdict(data) for name, data in CASES.items()}
    assert (
        verdicts["sorted"] is None
        and verdicts["reversed"] is None
        and verdicts["file_4byte_ok"] is None
    )
    for name in (
        "shuffled_repeat",
        "repeat_first_two",
        "stray_inside_task",
        "stray_unsorted",
        "stray_past_end",
        "buffer_names_repeat",
        "file_surrogate",
        "file_overlong",
        "file_too_big",
        "file_pad",
    ):
        assert (
            verdicts[name] is not None and verdicts[name][0] == F.ERROR_BY_NAME["bad_symbols"].code
        ), name
