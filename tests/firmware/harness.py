"""Driving the firmware binaries (firmware/build) and the Python reference side by
side: one call runs an image on either and returns the same kind of result, so the
tests compare them field for field and the traces byte for byte.

``c_run(exe, data, ...)`` runs ``acifw-sim`` (or its ASan or aarch64 build, with a
prefix such as ``qemu-aarch64``) and ``py_run(data, ...)`` runs
:func:`aci.run.run_image`; both give a :class:`Run`: the verdict (``None`` or
``(code, offset)``), the canonical trace text, the SYNC words, and the memory the
caller asked for.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import attrs

from aci.board import Board
from aci.decode import ImageError, decode
from aci.run import run_image
from aci.trace import dumps

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
BUILD = FIRMWARE / "build"
SIM = BUILD / "acifw-sim"
ASAN = BUILD / "acifw-sim-asan"
NULL = BUILD / "acifw-null"
MULDIV = BUILD / "acifw-muldiv"
CROSS = BUILD / "aarch64" / "acifw-sim"
CONFORMANCE = ROOT / "tests" / "conformance"
# The example's models of a user's own core (programs/examples/custom_core.aci), found by
# core name: every run gets them, so that every shipped program runs functionally.
PY_MODELS = sorted((ROOT / "programs" / "examples" / "models").glob("*.py"))
C_MODELS = sorted(
    BUILD / "models" / f"{p.stem}.so"
    for p in (ROOT / "programs" / "examples" / "models").glob("*.c")
)
MANIFEST = json.loads((CONFORMANCE / "manifest.json").read_text())
VECTORS = sorted(MANIFEST)


def make(*targets: str) -> None:
    """Build firmware targets (a no-op when they are current)."""
    r = subprocess.run(
        ["make", "-C", str(FIRMWARE), "-s", *targets], capture_output=True, text=True
    )
    assert r.returncode == 0, f"make {' '.join(targets)} failed:\n{r.stdout}\n{r.stderr}"


@attrs.frozen
class Run:
    error: tuple[int, int] | None  # (code, offset) of a refused image or a run-time error
    trace: str
    sync: dict
    memory: dict  # (address, length) -> bytes, after a completed run
    returncode: int = 0
    stderr: str = ""


def py_verdict(data: bytes) -> tuple[int, int] | None:
    """The Python validator's verdict: None, or (code, offset)."""
    try:
        decode(data)
    except ImageError as e:
        return e.code, e.offset
    return None


def py_run(
    data: bytes,
    mode: str | None = None,
    inputs: dict | None = None,
    timing_only: bool = False,
    ranges=(),
) -> Run:
    lines: list[str] = []
    r = run_image(
        data,
        mode=mode,
        inputs=inputs,
        timing_only=timing_only,
        trace=lambda e: lines.append(dumps(e) + "\n"),
        models=PY_MODELS,
    )
    memory = {}
    if r.ok and r.board is not None:
        memory = {(a, n): r.board.read(a, n) for a, n in ranges}
    err = None if r.error is None else (r.error.code, r.error.offset)
    sync = {k: v for k, v in r.sync.items() if not k.startswith("reserved")}
    return Run(err, "".join(lines), sync, memory)


def c_run(
    exe: Path,
    data: bytes,
    mode: str | None = None,
    inputs: dict | None = None,
    timing_only: bool = False,
    ranges=(),
    prefix=(),
    extra=(),
) -> Run:
    """Run an image on a firmware build; ``inputs`` maps buffer names to bytes."""
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "image.acx").write_bytes(data)
        args = [
            *prefix,
            str(exe),
            str(d / "image.acx"),
            "--json",
            "--trace",
            str(d / "trace.jsonl"),
            *extra,
        ]
        if mode:
            args += ["--mode", mode]
        if timing_only:
            args.append("--timing-only")
        if exe in (SIM, ASAN):  # host builds: the example's C models (not the cross build's)
            for lib in C_MODELS:
                args += ["--models", str(lib)]
        for k, (name, value) in enumerate((inputs or {}).items()):
            (d / f"in{k}").write_bytes(bytes(value))
            args += ["--set", f"{name}={d / f'in{k}'}"]
        for k, (address, length) in enumerate(ranges):
            args += ["--save", f"{address}:{length}={d / f'out{k}'}"]
        p = subprocess.run(args, capture_output=True, text=True, timeout=600)
        assert p.returncode in (0, 1), f"{exe} exited {p.returncode}:\n{p.stderr}"
        res = json.loads(p.stdout)
        err = None if res["error"] is None else (res["error"]["code"], res["error"]["offset"])
        memory = {}
        if p.returncode == 0:
            memory = {rng: (d / f"out{k}").read_bytes() for k, rng in enumerate(ranges)}
        return Run(
            err, (d / "trace.jsonl").read_text(), res["sync"], memory, p.returncode, p.stderr
        )


def c_validate(exe: Path, data: bytes, prefix=()) -> tuple[tuple[int, int] | None, int | None]:
    """A firmware build's validator alone (``--validate-only``): its verdict as
    :func:`py_verdict` gives it, and the operations one run of a valid image executes."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "image.acx"
        path.write_bytes(data)
        p = subprocess.run(
            [*prefix, str(exe), str(path), "--json", "--validate-only"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert p.returncode in (0, 1), f"{exe} exited {p.returncode}:\n{p.stderr}"
        res = json.loads(p.stdout)
        if res["error"] is None:
            return None, res["operations"]
        return (res["error"]["code"], res["error"]["offset"]), None


def extents(data: bytes) -> list[tuple[int, int]]:
    """(address, length) of every range of board memory an image can touch, as the
    Python board backs them: comparing these compares all the memory of a run."""
    return [(lo, hi - lo) for lo, hi in Board.for_image(decode(data)).extents]


def first_difference(a: str, b: str) -> str:
    """Where two traces part, for assertion messages."""
    la, lb = a.splitlines(), b.splitlines()
    # the common lines first; a longer trace is reported below
    for k, (x, y) in enumerate(zip(la, lb, strict=False)):
        if x != y:
            return f"line {k + 1}:\n  python {x}\n  c      {y}"
    return f"lengths differ: {len(la)} lines (python) vs {len(lb)} (c)"
