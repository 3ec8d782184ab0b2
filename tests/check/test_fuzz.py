"""Property tests: `acic check` on mutated programs never crashes.

Seeds are every program under ``programs/`` and the clean corpus files
``tests/check/ok_*.aci``. Each example mutates a seed (characters, tokens, numbers,
names, lines, cuts, splices, raw bytes including non-UTF-8 and NUL), writes it to a
temporary directory and runs ``aci.cli.main(["check", ...])`` in-process. Whatever
the input: the exit status is 0 or 1 (never 2, a usage error, nor 3, an internal
error), every diagnostic has a code of ``aci.diagnostics.CODES``, and every span
lies inside its file.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import os
import re
import signal
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, note, seed, settings
from hypothesis import strategies as st

from aci import cli
from aci.diagnostics import CODES

CHECK_DIR = Path(__file__).resolve().parent
TESTS = CHECK_DIR.parent
REPO = TESTS.parent
PROGRAMS = REPO / "programs"

_PATH_STRING = re.compile(rb'\b(import|from)(\s+)"([^"\\\n]*)"')


def _absolute_paths(data: bytes, base: Path) -> bytes:
    """`import "x"` and `from "x"` made absolute, so the file works from any directory."""

    def fix(m: re.Match) -> bytes:
        target = (base / m.group(3).decode("utf-8")).resolve()
        return m.group(1) + m.group(2) + b'"' + str(target).encode("utf-8") + b'"'

    return _PATH_STRING.sub(fix, data)


SEED_FILES = sorted(PROGRAMS.rglob("*.aci")) + sorted(CHECK_DIR.glob("ok_*.aci"))
SEEDS = [_absolute_paths(f.read_bytes(), f.parent) for f in SEED_FILES]

_TOKEN = re.compile(
    rb"[A-Za-z_][A-Za-z0-9_]*|0x[0-9A-Fa-f_]+|\d[\d_]*(?:\.\d+)?|\.\.|<-|\|\||&&|[=!<>]=|\S"
)
_NUMBER = re.compile(rb"(?<![A-Za-z0-9_.])\d[\d_]*(?:\.\d+)?|0x[0-9A-Fa-f_]+")
_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")

VOCABULARY = [
    w.encode()
    for w in (
        "import target core const buffer program slots capacity memory at size id bitstream in "
        "resources param out cycles input output from on window parsec thread loop repeat for task "
        "reconfigure slot true false if else min max ceil_div lut ff bram dsp bits i8 u8 i16 u16 i32 "
        "u32 i64 u64 bool ddr ocm icap dma clock link latency pr_overhead task_overhead pf_write watchdog "
        '.. <- || && == != <= >= ? : + - * / % ! ( ) [ ] { } , = " // /* */ 0 1 -1 7 64 0x40 2.5 '
        "1_000_000 4294967296 18446744073709551616 99999999999999999999999999 3 KiB 2 GiB 4 s 1 MB/s "
        "10 Gb/s 150 MHz 0 B 1 ns"
    ).split()
]

INTERESTING_NUMBERS = [
    b"0",
    b"1",
    b"2",
    b"3",
    b"-1",
    b"8",
    b"63",
    b"64",
    b"65",
    b"255",
    b"256",
    b"1024",
    b"65535",
    b"65536",
    b"16777216",
    b"16777217",
    b"4294967295",
    b"4294967296",
    b"18446744073709551616",
    b"0.5",
    b"2.5",
    b"0x0",
    b"0xFFFF_FFFF_FFFF_FFFF",
    b"1 KB",
    b"3 us",
    b"(0 - 1)",
    b"(1 / 0)",
]

CHARS = st.sampled_from(
    list("{}[]()<>-=!?:;.,/*%+|&\"'_ \t\n\r0123456789abxeEsBMKG\\#$@`~\u00e9\u2028\ufeff")
)


# ---- running the checker -------------------------------------------------------

# A check of any mutant takes milliseconds (the largest seed: 0.2 s); one that runs
# this long is a bug of its own (an input that makes acic hang), not a slow machine.
TIME_LIMIT = 5.0


class TooSlow(BaseException):
    """Raised by the alarm; a BaseException so that cli.main's `except Exception` lets it through."""


def _alarm(signum, frame):
    raise TooSlow()


@contextlib.contextmanager
def time_limit(seconds: float):
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_check(data: bytes, name: str = "mutant.aci") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        path = root / name
        path.write_bytes(data)
        for fmt in ("json", "text"):
            out, err = io.StringIO(), io.StringIO()
            try:
                with (
                    contextlib.redirect_stdout(out),
                    contextlib.redirect_stderr(err),
                    time_limit(TIME_LIMIT),
                ):
                    rc = cli.main(["check", "--format", fmt, str(path)])
            except TooSlow:
                raise AssertionError(
                    f"`acic check` took more than {TIME_LIMIT} s on this input"
                ) from None
            assert rc in (0, 1), f"exit status {rc}: {err.getvalue()[-2000:]}"
            assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue()
            if fmt == "json":
                diags = json.loads(out.getvalue())["diagnostics"]
                assert (rc == 1) == bool(diags)
                for d in diags:
                    assert d["code"] in CODES, d
                    for span in [d] + d["notes"]:
                        _check_span(span, d)


def _check_span(span: dict, d: dict) -> None:
    if span.get("file") is None:
        return
    p = (Path.cwd() / span["file"]).resolve()
    assert p.is_file(), f"{d['code']} names `{span['file']}`, which is not a file"
    lines = p.read_bytes().split(b"\n")
    line, col = span["line"], span["column"]
    assert 1 <= line <= len(lines), (
        f"{d['code']} at line {line} of a {len(lines)}-line file: {d['message']}"
    )
    # Columns count characters (bytes for E002); a line's byte length bounds both.
    assert 1 <= col <= len(lines[line - 1]) + 1, f"{d['code']} at {line}:{col}: {d['message']}"
    assert (span["end_line"], span["end_column"]) >= (line, col), d


# ---- mutations ------------------------------------------------------------------


def _pos(data: st.DataObject, n: int, label: str) -> int:
    return data.draw(st.integers(0, n), label=label)


def mutate(data: st.DataObject, buf: bytes) -> bytes:
    op = data.draw(
        st.sampled_from(
            [
                "delete_char",
                "insert_char",
                "replace_char",
                "delete_token",
                "insert_token",
                "replace_token",
                "replace_number",
                "replace_name",
                "cut",
                "duplicate_line",
                "delete_line",
                "swap_lines",
                "insert_bytes",
                "string_bytes",
            ]
        ),
        label="op",
    )
    if op in ("delete_char", "replace_char") and buf:
        i = _pos(data, len(buf) - 1, "at")
        new = b"" if op == "delete_char" else data.draw(CHARS, label="char").encode()
        return buf[:i] + new + buf[i + 1 :]
    if op == "insert_char":
        i = _pos(data, len(buf), "at")
        return buf[:i] + data.draw(CHARS, label="char").encode() + buf[i:]
    if op in ("delete_token", "insert_token", "replace_token"):
        toks = list(_TOKEN.finditer(buf))
        if not toks:
            return buf
        m = toks[_pos(data, len(toks) - 1, "token")]
        word = data.draw(st.sampled_from(VOCABULARY), label="word")
        if op == "delete_token":
            return buf[: m.start()] + buf[m.end() :]
        if op == "insert_token":
            return buf[: m.start()] + word + b" " + buf[m.start() :]
        return buf[: m.start()] + word + buf[m.end() :]
    if op == "replace_number":
        nums = list(_NUMBER.finditer(buf))
        if not nums:
            return buf
        m = nums[_pos(data, len(nums) - 1, "number")]
        return (
            buf[: m.start()]
            + data.draw(st.sampled_from(INTERESTING_NUMBERS), label="value")
            + buf[m.end() :]
        )
    if op == "replace_name":
        names = list(_NAME.finditer(buf))
        if not names:
            return buf
        m = names[_pos(data, len(names) - 1, "name")]
        other = names[_pos(data, len(names) - 1, "other")].group()
        return buf[: m.start()] + other + buf[m.end() :]
    if op == "cut":
        return buf[: _pos(data, len(buf), "cut")]
    if op in ("duplicate_line", "delete_line", "swap_lines"):
        lines = buf.split(b"\n")
        i = _pos(data, len(lines) - 1, "line")
        if op == "duplicate_line":
            lines.insert(i, lines[i])
        elif op == "delete_line":
            del lines[i]
        else:
            j = _pos(data, len(lines) - 1, "other line")
            lines[i], lines[j] = lines[j], lines[i]
        return b"\n".join(lines)
    # insert_bytes: anything, including NUL and bytes that are not UTF-8, anywhere or
    # inside a string (an import path, a `from` file)
    strings = list(re.finditer(rb'"[^"\n]*"', buf))
    if op == "string_bytes" and strings:
        m = strings[_pos(data, len(strings) - 1, "string")]
        i = data.draw(st.integers(m.start() + 1, m.end() - 1), label="at")
    else:
        i = _pos(data, len(buf), "at")
    junk = data.draw(
        st.one_of(
            st.binary(min_size=1, max_size=8),
            st.sampled_from(
                [
                    b"\x00",
                    b"\xff",
                    b"\xc3",
                    b"\xe2\x82",
                    b"\xed\xa0\x80",
                    b"\xef\xbb\xbf",
                    b"\r",
                    b"\x0c",
                    b"\x1b[31m",
                ]
            ),
        ),
        label="bytes",
    )
    return buf[:i] + junk + buf[i:]


# ACIC_FUZZ_SCALE=20 runs twenty times as many examples (a longer hunt for bugs);
# ACIC_FUZZ_SEED=<n> makes a run repeatable. Failing examples are kept in
# .hypothesis/ and tried first on the next run. There is no shrinking: the draws of a
# failing example (seed, operations, positions) and the diff it made are printed,
# and shrinking an input that makes the checker slow would take minutes.
SCALE = float(os.environ.get("ACIC_FUZZ_SCALE", "1"))
RANDOM_SEED = os.environ.get("ACIC_FUZZ_SEED")


def examples(n: int):
    chosen = settings(
        max_examples=max(1, int(n * SCALE)),
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )

    def apply(test):
        test = chosen(test)
        return seed(int(RANDOM_SEED))(test) if RANDOM_SEED is not None else test

    return apply


@examples(1500)
@given(data=st.data(), seed_index=st.sampled_from(range(len(SEEDS))), n=st.integers(1, 3))
def test_mutated_seed(data, seed_index, n):
    buf = SEEDS[seed_index]
    for _ in range(n):
        buf = mutate(data, buf)
    note(f"seed: {SEED_FILES[seed_index].relative_to(REPO)}")
    note(
        "mutant, as a diff of the seed:\n"
        + "\n".join(
            difflib.unified_diff(
                SEEDS[seed_index].decode("utf-8", "replace").split("\n"),
                buf.decode("utf-8", "replace").split("\n"),
                lineterm="",
                n=0,
            )
        )
    )
    run_check(buf)


@examples(300)
@given(
    a=st.sampled_from(range(len(SEEDS))),
    b=st.sampled_from(range(len(SEEDS))),
    cut_a=st.floats(0, 1),
    cut_b=st.floats(0, 1),
)
def test_spliced_seeds(a, b, cut_a, cut_b):
    x, y = SEEDS[a], SEEDS[b]
    note(
        f"{SEED_FILES[a].name}[:{int(len(x) * cut_a)}] + {SEED_FILES[b].name}[{int(len(y) * cut_b)}:]"
    )
    run_check(x[: int(len(x) * cut_a)] + y[int(len(y) * cut_b) :])


@examples(200)
@given(junk=st.binary(max_size=200))
def test_random_bytes(junk):
    run_check(junk)


@examples(300)
@given(words=st.lists(st.sampled_from(VOCABULARY + [b"\n", b"x", b"N", b"{", b"}"]), max_size=60))
def test_token_soup(words):
    run_check(b" ".join(words))


def test_seeds_check_clean_from_a_temporary_directory():
    """The rewriting of imports keeps every seed valid (else the fuzzing tests little)."""
    for i, s in enumerate(SEEDS):
        out, err = io.StringIO(), io.StringIO()
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "seed.aci"
            p.write_bytes(s)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = cli.main(["check", str(p)])
        # ok_defines needs its -D options; every other seed is clean as it is.
        assert rc == 0 or b"defines:" in s, (i, err.getvalue())
