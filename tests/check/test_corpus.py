"""The diagnostics corpus: ``tests/check/*.aci`` with their expected errors inline.

Annotation format (see docs/language.md, "Diagnostics"):

* ``// error[E047]`` at the end of a line: a diagnostic with code E047 whose primary
  span starts on that line. Several may share a line: ``// error[E047] error[E010]``.
  A warning is written the same way: ``// warning[W001]``.
* ``// expect: error[E005] at 12:1`` on a line of its own: a diagnostic at line 12,
  column 1 of this file (for a span on a line that cannot carry a comment), or
  ``// expect: error[E013] at none`` for a diagnostic without a location.
* ``// defines: NAME=VALUE ...`` in the header: ``-D`` options for the check.
* ``// compile:`` in the header, optionally with ``--program NAME`` and
  ``--mode strict|dataflow``: the file is compiled (``acic compile``: check, pick the
  program, schedule, lower) instead of only checked, for the codes only those later
  stages give (E067, E091).
* ``// not-a-test`` (optionally ``: why``) in the header: a helper file that tests
  import; it is not a test of its own, but its annotations are expected by every
  test importing it.

A file named ``eNNN_*.aci`` (``wNNN_*.aci``) must expect code ENNN (WNNN); a file
named ``ok_*.aci`` must check clean, without warnings. A file that expects only
warnings checks with exit status 0. Anything in a comment that looks like an annotation but does not parse
fails the test of its file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from aci import cli
from aci.diagnostics import CODES

CHECK_DIR = Path(__file__).resolve().parent
TESTS = CHECK_DIR.parent
REPO = TESTS.parent
PROGRAMS = REPO / "programs"
DOCS = REPO / "docs" / "language.md"


class AnnotationError(Exception):
    pass


# ---- annotations ----------------------------------------------------------------

_CODE = r"[EW]\d{3}"
_ERRORS = re.compile(rf"^(?:(?:error|warning)\[{_CODE}\]\s*)+$")
_ONE_ERROR = re.compile(rf"(?:error|warning)\[({_CODE})\]")
_EXPECT = re.compile(rf"^expect:\s*(?:error|warning)\[({_CODE})\]\s+at\s+(?:none|(\d+):(\d+))\s*$")
_DEFINE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S+$")
_LOOKS_LIKE = re.compile(
    r"(?:error|warning)\s*\[|^\s*errors?\s*[:(]|^\s*expect\s*:|^\s*defines?\s*:|"
    r"^\s*compile\s*:|not-a-test|\bE\d+\]",
    re.IGNORECASE,
)
_COMPILE_ARGS = re.compile(
    r"^(?:\s*(?:--program\s+[A-Za-z_][A-Za-z0-9_]*|--mode\s+(?:strict|dataflow)))*\s*$"
)
_IMPORT = re.compile(r'^\s*import\s+"([^"\\]*)"')


def read_text(path: Path) -> str:
    """A corpus file's text; a byte that is not UTF-8 (the E002 test) is kept as an escape."""
    return path.read_bytes().decode("utf-8", errors="surrogateescape")


def split_comment(line: str, in_block: bool) -> tuple[str, str | None, bool]:
    """(code before the comment, the `//` comment's text or None, still in a block comment)."""
    code, i, in_string = [], 0, False
    while i < len(line):
        if in_block:
            end = line.find("*/", i)
            if end < 0:
                return "".join(code), None, True
            i, in_block = end + 2, False
            continue
        ch = line[i]
        if in_string:
            code.append(ch)
            if ch == "\\" and i + 1 < len(line):
                code.append(line[i + 1])
                i += 1
            elif ch == '"':
                in_string = False
        elif line.startswith("//", i):
            return "".join(code), line[i + 2 :], False
        elif line.startswith("/*", i):
            in_block = True
            i += 2
            continue
        else:
            code.append(ch)
            if ch == '"':
                in_string = True
        i += 1
    return "".join(code), None, in_block


class Annotations:
    def __init__(self, path: Path):
        self.path = path
        self.errors: list[tuple[str, Path | None, int | None, int | None]] = []
        self.defines: list[str] = []
        self.helper = False
        self.compile: list[str] | None = None
        self.imports: list[Path] = []
        text = read_text(path)
        in_block = False
        header = True
        for n, line in enumerate(text.split("\n"), 1):
            block_before = in_block
            code, comment, in_block = split_comment(line, in_block)
            if block_before and ("error[" in line or "warning[" in line):
                raise AnnotationError(f"{path.name}:{n}: annotation inside a block comment")
            has_code = bool(code.strip())
            if has_code:
                header = False
                m = _IMPORT.match(code)
                if m:
                    self.imports.append((path.parent / m.group(1)).resolve())
            if comment is None:
                continue
            body = comment.strip()
            where = f"{path.name}:{n}"
            if body.startswith("expect:"):
                m = _EXPECT.match(body)
                if not m or has_code:
                    raise AnnotationError(
                        f"{where}: cannot parse `// {body}` (want `// expect: "
                        "error[ENNN] at LINE:COLUMN` or `at none` on a line of its own)"
                    )
                if m.group(2) is None:
                    self.errors.append((m.group(1), None, None, None))
                else:
                    self.errors.append((m.group(1), path, int(m.group(2)), int(m.group(3))))
            elif body.startswith("defines:"):
                if not header or self.defines:
                    raise AnnotationError(f"{where}: `// defines:` belongs once in the header")
                items = body[len("defines:") :].split()
                if not items or not all(_DEFINE.match(i) for i in items):
                    raise AnnotationError(
                        f"{where}: cannot parse `// {body}` (want NAME=VALUE ...)"
                    )
                self.defines = items
            elif body.startswith("compile:"):
                args = body[len("compile:") :]
                if not header or self.compile is not None or not _COMPILE_ARGS.match(args):
                    raise AnnotationError(
                        f"{where}: cannot parse `// {body}` (want `// compile:` in the "
                        "header, optionally with --program NAME and --mode MODE)"
                    )
                self.compile = args.split()
            elif re.match(r"^not-a-test(?::.*)?$", body):
                if not header:
                    raise AnnotationError(f"{where}: `// not-a-test` belongs in the header")
                self.helper = True
            elif _ERRORS.match(body):
                if not has_code:
                    raise AnnotationError(
                        f"{where}: `// {body}` on a line without code; use "
                        "`// expect: error[ENNN] at LINE:COLUMN`"
                    )
                for c in _ONE_ERROR.findall(body):
                    self.errors.append((c, path, n, None))
            elif _LOOKS_LIKE.search(body):
                raise AnnotationError(f"{where}: cannot parse annotation `// {body}`")
        for code, *_ in self.errors:
            if code not in CODES:
                raise AnnotationError(f"{path.name}: unknown diagnostic code {code}")


def is_helper(path: Path) -> bool:
    return Annotations(path).helper


def all_aci(root: Path) -> list[Path]:
    return sorted(root.rglob("*.aci"))


def corpus_files() -> list[Path]:
    out = []
    for p in all_aci(CHECK_DIR):
        try:
            helper = is_helper(p)
        except AnnotationError:
            helper = False  # its own test reports the bad annotation
        if not helper:
            out.append(p)
    return out


def expectations(path: Path) -> tuple[list, list[str]]:
    """Expected diagnostics of a test file (and of the helpers it imports), and -D items."""
    return _expectations(path)[:2]


def _expectations(path: Path):
    ann = Annotations(path)
    expected = list(ann.errors)
    seen = {path}
    todo = list(ann.imports)
    while todo:
        p = todo.pop()
        if p in seen or not p.is_file() or CHECK_DIR not in p.parents:
            continue
        seen.add(p)
        sub = Annotations(p)
        if sub.helper:
            expected += sub.errors
            todo += sub.imports
    return expected, ann.defines, ann.compile


# ---- running the checker ----------------------------------------------------------


def run_check(paths: list[Path], defines: list[str], capsys) -> tuple[int, list[dict], str]:
    argv = ["check", "--format", "json"]
    for d in defines:
        argv += ["-D", d]
    argv += [str(p) for p in paths]
    capsys.readouterr()
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    assert "internal error" not in err and "Traceback" not in err, err
    assert rc in (0, 1), (rc, err)
    diags = json.loads(out)["diagnostics"] if out.strip() else []
    return rc, diags, err


def run_compile(path: Path, defines: list[str], args: list[str]) -> tuple[int, list[dict]]:
    """`acic compile` up to the image, in-process; the diagnostics as JSON dicts."""
    from aci.diagnostics import SourceError, to_json
    from aci.pipeline import compile_file

    opts = dict(zip(args[::2], args[1::2], strict=True))
    try:
        compile_file(
            str(path),
            cli.parse_defines(defines),
            opts.get("--program"),
            opts.get("--mode", "strict"),
        )
    except SourceError as e:
        return 1, [to_json(d) for d in e.diagnostics]
    return 0, []


def diag_path(d: dict) -> Path | None:
    return None if d.get("file") is None else (Path.cwd() / d["file"]).resolve()


def check_location(d: dict) -> None:
    """The diagnostic's code is known and its span lies inside its file."""
    assert d["code"] in CODES, d
    assert d["title"] == CODES[d["code"]].title, d
    assert d["message"].strip(), d
    spans = [d] + list(d.get("notes", []))
    for s in spans:
        p = diag_path(s)
        if p is None:
            continue
        assert p.is_file(), f"{d['code']} points at `{s['file']}`, which is not a file"
        lines = p.read_bytes().split(b"\n")
        line, col = s["line"], s["column"]
        assert 1 <= line <= len(lines), (
            f"{d['code']} at line {line}, but {p.name} has {len(lines)} lines"
        )
        width = len(lines[line - 1].decode("utf-8", errors="replace"))
        assert 1 <= col <= width + 1, (
            f"{d['code']} at {line}:{col}, but that line has {width} characters"
        )


@pytest.fixture(scope="module")
def terminal_names() -> set[str]:
    from aci._grammar import TERMINALS

    return set(TERMINALS) | {"$END"}


def check_words(d: dict, terminals: set[str]) -> None:
    """Lexical and syntax errors say what was expected in words, not terminal names."""
    if d["code"] not in ("E003", "E004", "E005"):
        return
    bare = re.sub(r"`[^`]*`", "", d["message"])
    for name in terminals:
        if re.search(rf"(?<![\w$]){re.escape(name)}(?!\w)", bare):
            pytest.fail(f"{d['code']} message uses the terminal name {name}: {d['message']}")


def match(expected: list, diags: list[dict]) -> tuple[list, list]:
    """(missing expectations, unexpected diagnostics)."""
    actual = [(d["code"], diag_path(d), d.get("line"), d.get("column")) for d in diags]
    missing = []
    remaining = list(actual)
    # Exact (with column) expectations first, then line-only ones.
    for exp in sorted(expected, key=lambda e: e[3] is None):
        code, path, line, col = exp
        for i, (c, p, ln, cl) in enumerate(remaining):
            if (
                c == code
                and p == path
                and (path is None or (ln == line and (col is None or cl == col)))
            ):
                del remaining[i]
                break
        else:
            missing.append(exp)
    return missing, remaining


def show(items, kind: str) -> str:
    out = []
    for code, path, line, col in items:
        if path is None:
            where = "no location"
        else:
            shown = path.relative_to(REPO) if REPO in path.parents else path
            where = f"{shown}:{line}" + (f":{col}" if col else "")
        out.append(f"  {kind} {code} at {where}")
    return "\n".join(out)


# ---- the corpus -------------------------------------------------------------------

CORPUS = corpus_files()


@pytest.mark.parametrize("path", CORPUS, ids=[str(p.relative_to(CHECK_DIR)) for p in CORPUS])
def test_corpus_file(path: Path, capsys, terminal_names):
    expected, defines, compile_args = _expectations(path)
    stem = path.name
    if stem.startswith("ok_"):
        assert not expected, f"{stem} is an ok_ file but expects errors"
    else:
        m = re.match(r"([ew])(\d{3})_", stem)
        assert m, f"{stem}: corpus files are named eNNN_*.aci, wNNN_*.aci or ok_*.aci"
        code = f"{m.group(1).upper()}{m.group(2)}"
        assert code in {e[0] for e in expected}, f"{stem} does not expect {code}"
    if compile_args is None:
        rc, diags, _ = run_check([path], defines, capsys)
    else:
        rc, diags = run_compile(path, defines, compile_args)
    for d in diags:
        check_location(d)
        check_words(d, terminal_names)
    # Sorted by position: located diagnostics of one file never go backwards.
    keys = [
        (0, "", 0, 0) if d.get("file") is None else (1, d["file"], d["line"], d["column"])
        for d in diags
    ]
    assert keys == sorted(keys), "diagnostics are not sorted by position"
    missing, unexpected = match(expected, diags)
    if missing or unexpected:
        detail = "\n".join(
            f"  got {d['code']} at {d.get('file')}:{d.get('line')}:{d.get('column')}: {d['message']}"
            for d in diags
        )
        pytest.fail(
            f"{path.name}:\n{show(missing, 'missing')}\n{show(unexpected, 'unexpected')}\n"
            f"all diagnostics:\n{detail or '  none'}"
        )
    assert rc == (1 if any(e[0].startswith("E") for e in expected) else 0)


# Codes whose smallest example is too large to keep as a file: a test builds one.
ELSEWHERE = {"E085": ("check/test_limits.py", "def test_e085_image_too_large")}


def test_every_code_has_a_corpus_file():
    """Every code of CODES has a file eNNN_*.aci (wNNN_*.aci) in the corpus that expects it
    (or, for ELSEWHERE, a test that builds one)."""
    lacking = []
    for code, (file, test) in ELSEWHERE.items():
        assert test in (TESTS / file).read_text(encoding="utf-8"), (code, file, test)
    for code in set(CODES) - set(ELSEWHERE):
        named = [p for p in CORPUS if p.name.startswith(code.lower() + "_")]
        if not any(code in {e[0] for e in expectations(p)[0]} for p in named):
            lacking.append(code)
    assert not lacking, f"no corpus file eNNN_*.aci expects {', '.join(lacking)}"


def test_annotation_parser_rejects_bad_annotations(tmp_path):
    cases = {
        "bad_code.aci": "const A = 1   // error[E9]\n",
        "unknown.aci": "const A = 1   // error[E999]\n",
        "typo.aci": "const A = 1   // eror[E010]\n",
        "spaces.aci": "const A = 1   // error [E010]\n",
        "prose.aci": "const A = 1   // error[E010] because\n",
        "expect.aci": "// expect: error[E010] at 3\nconst A = 1\n",
        "expect_none.aci": "// expect: error[E010]\nconst A = 1\n",
        "alone.aci": "// error[E010]\nconst A = 1\n",
        "defines.aci": "// defines: N\nconst N = 1\n",
        "late_defines.aci": "const N = 1\n// defines: N=2\n",
        "compile.aci": "// compile: --program\nconst N = 1\n",
        "compile_mode.aci": "// compile: --mode fast\nconst N = 1\n",
        "helper_late.aci": "const N = 1\n// not-a-test\n",
    }
    for name, text in cases.items():
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        with pytest.raises(AnnotationError):
            Annotations(p)
    ok = tmp_path / "fine.aci"
    ok.write_text(
        "// defines: N=2 M=0x10\n// expect: error[E013] at none\n"
        'import "x.aci"   // error[E001] error[E010]\nconst S = "// error[E9]"\n',
        encoding="utf-8",
    )
    a = Annotations(ok)
    assert a.defines == ["N=2", "M=0x10"]
    assert [e[0] for e in a.errors] == ["E013", "E001", "E010"]
    assert a.errors[1][2] == 3


def test_matching_is_strict(tmp_path, capsys):
    """A wrong line, a missing and an extra diagnostic are each detected."""
    p = tmp_path / "x.aci"
    p.write_text("const A = B\n", encoding="utf-8")
    _, diags, _ = run_check([p], [], capsys)
    assert [d["code"] for d in diags] == ["E010"]
    assert match([("E010", p.resolve(), 1, None)], diags) == ([], [])
    assert match([("E010", p.resolve(), 1, 11)], diags) == ([], [])
    assert match([("E010", p.resolve(), 2, None)], diags)[0]
    assert match([("E010", p.resolve(), 1, 1)], diags)[0]
    assert match([], diags)[1]
    assert match([("E010", p.resolve(), 1, None), ("E010", p.resolve(), 1, None)], diags)[0]


# ---- E001, E002 and the command line ------------------------------------------------


def test_e001_missing_file(tmp_path, capsys):
    rc, diags, _ = run_check([tmp_path / "nope.aci"], [], capsys)
    assert rc == 1 and [d["code"] for d in diags] == ["E001"]
    assert diags[0]["file"] is None and "no such file" in diags[0]["message"]


def test_e001_directory(tmp_path, capsys):
    rc, diags, _ = run_check([tmp_path], [], capsys)
    assert rc == 1 and [d["code"] for d in diags] == ["E001"]
    assert "directory" in diags[0]["message"]


def test_e002_not_utf8(tmp_path, capsys):
    p = tmp_path / "latin1.aci"
    p.write_bytes(b"const A = 1\n// caf\xe9 au lait\nconst B = 2\n")
    rc, diags, _ = run_check([p], [], capsys)
    assert rc == 1 and [d["code"] for d in diags] == ["E002"]
    d = diags[0]
    assert (d["line"], d["column"]) == (2, 7)
    assert diag_path(d) == p.resolve()
    assert "0xe9" in d["message"]
    check_location(d)


def test_e002_in_an_imported_file(tmp_path, capsys):
    (tmp_path / "bad.aci").write_bytes(b"const \xff\xfe = 1\n")
    main = tmp_path / "main.aci"
    main.write_text('import "bad.aci"\nconst A = 1\n', encoding="utf-8")
    rc, diags, _ = run_check([main], [], capsys)
    assert rc == 1 and [d["code"] for d in diags] == ["E002"]
    assert diag_path(diags[0]) == (tmp_path / "bad.aci").resolve()
    assert (diags[0]["line"], diags[0]["column"]) == (1, 7)


def test_nul_byte_is_a_lexical_error(tmp_path, capsys):
    p = tmp_path / "nul.aci"
    p.write_bytes(b"const A = 1\x00\n")
    rc, diags, _ = run_check([p], [], capsys)
    assert rc == 1 and [d["code"] for d in diags] == ["E003"]
    assert "\x00" not in diags[0]["message"]


def test_nul_in_an_import_path(tmp_path, capsys):
    """A NUL byte in an import path names no readable file: E001, not an internal error."""
    p = tmp_path / "nul.aci"
    p.write_bytes(b'import "x\x00y.aci"\nconst A = 1\n')
    rc, diags, _ = run_check([p], [], capsys)
    assert rc == 1 and [(d["code"], d["line"]) for d in diags] == [("E001", 1)]


def _board_with(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(f'import "{CHECK_DIR / "inc" / "board.aci"}"\n' + text, encoding="utf-8")
    return p


def test_long_expressions(tmp_path, capsys):
    """A generated file may hold long sums: they check like short ones."""
    p = _board_with(
        tmp_path,
        "long.aci",
        "const A = " + " + ".join(["1"] * 2000) + "\n"
        "const B = " + " * ".join(["1"] * 1000) + "\n"
        "const C = " + "(" * 1000 + "1" + ")" * 1000 + "\n"
        "buffer a : i32[A / 250]\n"
        "program p on board { window { parsec { thread { task ADD(a: a, b: a, c: a, n: 8 * B * C) } } } }\n",
    )
    rc, diags, _ = run_check([p], [], capsys)
    assert (rc, diags) == (0, [])


def test_deep_nesting_is_not_a_crash(tmp_path, capsys):
    """Absurd nesting may be refused (with a diagnostic), never crash the checker."""
    cases = {
        "minus.aci": "const A = " + "-" * 1000 + "1\n",
        "not.aci": "const A = " + "!" * 1000 + "true\n",
        "for.aci": "program p on board {" + "for i in 0 .. 1 {" * 300 + "}" * 300 + "}\n",
        "cond.aci": "const A = " + "true ? " * 1000 + "1" + " : 0" * 1000 + "\n",
    }
    for name, text in cases.items():
        rc, diags, _ = run_check([_board_with(tmp_path, name, text)], [], capsys)
        for d in diags:
            check_location(d)


def test_e073_npy_files(tmp_path, capsys):
    """`from` a .npy file: its data bytes count; an empty or broken one is E073."""
    import numpy as np

    np.save(tmp_path / "good.npy", np.arange(8, dtype=np.uint8))
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY\x01\x00")
    ok = _board_with(
        tmp_path,
        "ok.aci",
        'buffer a : u8[8] from "good.npy"\nprogram p on board { window { reconfigure slot 0 <- ADD } }\n',
    )
    assert run_check([ok], [], capsys)[:2] == (0, [])
    bad = _board_with(
        tmp_path,
        "bad.aci",
        'buffer a : u8[8] from "empty.npy"\n'
        'buffer b : u8[8] from "broken.npy"\nbuffer c : u8[4] from "good.npy"\n'
        "program p on board { window { reconfigure slot 0 <- ADD } }\n",
    )
    rc, diags, _ = run_check([bad], [], capsys)
    assert rc == 1 and [(d["code"], d["line"]) for d in diags] == [
        ("E073", 2),
        ("E073", 3),
        ("E073", 4),
    ]


def test_many_threads_are_checked_quickly(tmp_path):
    """A parsec with thousands of threads (a `for` over a slot count that is far too
    large) is reported at once (E061), not after an hour of pairwise race checks."""
    p = tmp_path / "threads.aci"
    p.write_text(
        f'import "{CHECK_DIR / "inc" / "board.aci"}"\n'
        "buffer a : i32[4096][8]\n"
        "program p on board {\n"
        "    window { parsec {\n"
        "        for s in 0 .. 4096 { thread { task ADD(a: a[s], b: a[s], c: a[s], n: 8) } }\n"
        "    } }\n"
        "}\n",
        encoding="utf-8",
    )
    try:
        r = _run("check", "--format", "json", str(p), timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("`acic check` took more than 20 s on a parsec of 4096 threads")
    assert r.returncode == 1
    assert [d["code"] for d in json.loads(r.stdout)["diagnostics"]] == ["E061"]


def test_errors_of_several_files_are_all_reported(capsys):
    files = [
        CHECK_DIR / "ok_units.aci",
        CHECK_DIR / "e047_port_size.aci",
        CHECK_DIR / "e023_division_by_zero.aci",
    ]
    rc, diags, _ = run_check(files, [], capsys)
    assert rc == 1
    assert Counter(d["code"] for d in diags) == Counter({"E047": 2, "E023": 4})


def test_e073_directory_message(tmp_path, capsys):
    """`from "dir"` names a directory: the message must say so, not give its size."""
    (tmp_path / "data").mkdir()
    p = tmp_path / "d.aci"
    p.write_text(
        (CHECK_DIR / "inc" / "board.aci").read_text(encoding="utf-8")
        + 'buffer d : i8[16] from "data"\nprogram p on board { window { reconfigure slot 0 <- ADD } }\n',
        encoding="utf-8",
    )
    rc, diags, _ = run_check([p], [], capsys)
    assert [d["code"] for d in diags] == ["E073"]
    assert "directory" in diags[0]["message"], diags[0]["message"]


def _acic() -> str:
    exe = Path(sys.executable).parent / "acic"
    return str(exe) if exe.exists() else "acic"


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ACIC_DEBUG"}
    return subprocess.run(
        [_acic(), *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout
    )


def test_exit_status_errors():
    r = _run("check", "tests/check/e047_port_size.aci")
    assert r.returncode == 1, r.stderr
    assert "error[E047]" in r.stderr and "tests/check/e047_port_size.aci:9:" in r.stderr
    assert "2 errors" in r.stderr and "Traceback" not in r.stderr


def test_exit_status_errors_json():
    r = _run("check", "--format", "json", "tests/check/e013_unknown_define.aci", "-D", "NOPE=3")
    assert r.returncode == 1, r.stderr
    diags = json.loads(r.stdout)["diagnostics"]
    assert [(d["code"], d["file"]) for d in diags] == [("E013", None)]


def test_exit_status_clean():
    r = _run("check", "tests/check/ok_constructs.aci", "tests/check/ok_units.aci")
    assert r.returncode == 0, r.stderr
    assert "ok (conv, sums_only)" in r.stdout and r.stderr == ""


def test_exit_status_clean_with_defines_json():
    r = _run(
        "check", "--format", "json", "-D", "N=4", "-D", "LAYERS=0x2", "tests/check/ok_defines.aci"
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["diagnostics"] == [] and out["files"][0]["programs"] == ["p"]


def test_exit_status_compile_errors():
    r = _run(
        "compile", "tests/check/e091_program_not_found.aci", "--program", "nope", "-o", os.devnull
    )
    assert r.returncode == 1, r.stderr
    assert "error[E091]" in r.stderr and "nope" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--bogus", "tests/check/ok_units.aci"],
        ["check"],
        ["frobnicate", "tests/check/ok_units.aci"],
        ["check", "--format", "xml", "tests/check/ok_units.aci"],
        ["check", "-D", "NOEQUALS", "tests/check/ok_units.aci"],
        ["check", "-D", "1X=3", "tests/check/ok_units.aci"],
        [],
    ],
)
def test_exit_status_usage(args):
    r = _run(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "usage" in r.stderr and "Traceback" not in r.stderr


# ---- the shipped programs and the docs -------------------------------------------------

PROGRAM_FILES = all_aci(PROGRAMS)


@pytest.mark.parametrize(
    "path", PROGRAM_FILES, ids=[str(p.relative_to(PROGRAMS)) for p in PROGRAM_FILES]
)
def test_program_checks_clean(path: Path, capsys):
    rc, diags, _ = run_check([path], [], capsys)
    assert rc == 0 and not diags, "\n".join(
        f"{d['code']} {d.get('file')}:{d.get('line')}: {d['message']}" for d in diags
    )


def test_docs_list_every_code():
    text = DOCS.read_text(encoding="utf-8")
    missing = []
    for code, c in CODES.items():
        heading = re.search(rf"^#+ .*\b{code}\b", text, re.M)
        row = re.search(rf"^\|.*\b{code}\b.*\|\s*$", text, re.M)
        if not (heading or row):
            missing.append(code)
        elif c.title.replace("`", "") not in text.replace("`", ""):
            missing.append(f"{code} (title)")
    assert not missing, f"docs/language.md lacks {', '.join(missing)}"
