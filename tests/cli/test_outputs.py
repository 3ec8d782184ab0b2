"""Outputs never destroy what they should not (aci._io), tried as real ``acic``
processes: devices and FIFOs are written in place, links followed, an output that is
an input refused, and an interrupted command leaves no temporary file or child
process behind."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "programs/examples/hello.aci"
BNN_PR = ROOT / "programs/bnn_pr.aci"


def acic(*argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aci", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=120,
        **kw,
    )


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("img") / "hello.acx"
    assert acic("compile", HELLO, "-o", out).returncode == 0
    return out.read_bytes()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".acic-"))


# ---- devices, FIFOs, links ---------------------------------------------------------------


def test_a_character_device_is_written_in_place(tmp_path):
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # the /dev/null device, made here
    r = acic("compile", HELLO, "-o", null)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISCHR(null.lstat().st_mode) and null.lstat().st_rdev == os.makedev(1, 3)
    assert leftovers(tmp_path) == []


def test_a_full_device_is_an_error_not_a_replacement(tmp_path):
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # /dev/full
    r = acic("compile", HELLO, "-o", full)
    assert r.returncode == 1
    assert "No space left on device" in r.stderr and "Traceback" not in r.stderr
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_a_fifo_is_written_in_place(tmp_path, image):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    r = acic("compile", HELLO, "-o", fifo)
    reader.join(30)
    assert r.returncode == 0, r.stderr
    assert got == [image]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_link_is_followed_and_stays_a_link(tmp_path, image):
    target = tmp_path / "real.acx"
    target.write_bytes(b"old")
    link = tmp_path / "link.acx"
    link.symlink_to(target.name)
    assert acic("compile", HELLO, "-o", link).returncode == 0
    assert link.is_symlink() and target.read_bytes() == image


def test_a_dangling_link_creates_its_target(tmp_path, image):
    link = tmp_path / "link.acx"
    link.symlink_to("made.acx")
    assert acic("compile", HELLO, "-o", link).returncode == 0
    assert link.is_symlink() and (tmp_path / "made.acx").read_bytes() == image


def test_a_link_to_itself_is_an_error(tmp_path):
    loop = tmp_path / "loop.acx"
    loop.symlink_to(loop.name)
    r = acic("compile", HELLO, "-o", loop)
    assert r.returncode == 1 and "loop.acx" in r.stderr and "Traceback" not in r.stderr
    assert loop.is_symlink()


# ---- an output that is an input -----------------------------------------------------------


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_compile_refuses_to_overwrite_its_source(tmp_path, how):
    src = tmp_path / "p.aci"
    src.write_text(HELLO.read_text().replace('"../', f'"{HELLO.parent.parent}/'))
    out = {"same": src, "symlink": tmp_path / "s.aci", "hardlink": tmp_path / "h.aci"}[how]
    if how == "symlink":
        out.symlink_to(src.name)
    elif how == "hardlink":
        os.link(src, out)
    before = src.read_bytes()
    r = acic("compile", src, "-o", out)
    assert r.returncode == 1 and "it is an input of this command" in r.stderr, r.stderr
    assert src.read_bytes() == before and leftovers(tmp_path) == []


def test_an_imported_file_is_an_input_too(tmp_path):
    target = tmp_path / "zcu102.aci"
    target.write_text((ROOT / "programs/targets/zcu102.aci").read_text())
    before = target.read_bytes()
    src = tmp_path / "p.aci"
    src.write_text(
        HELLO.read_text()
        .replace('"../targets/zcu102.aci"', '"zcu102.aci"')
        .replace('"../', f'"{HELLO.parent.parent}/')
    )
    r = acic("compile", src, "-o", target)
    assert r.returncode == 1 and "input" in r.stderr
    assert target.read_bytes() == before


def test_run_refuses_a_trace_or_get_over_its_image(tmp_path, image):
    img = tmp_path / "p.acx"
    img.write_bytes(image)
    for extra in (["--trace", img], ["--get", f"dst={img}"]):
        r = acic("run", img, *extra)
        assert r.returncode == 1 and "it is an input of this command" in r.stderr, r.stderr
        assert img.read_bytes() == image
    assert leftovers(tmp_path) == []


# ---- interruptions ------------------------------------------------------------------------


def descendants(pid: int) -> set[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != b"Z"


def wait_for(condition, seconds: float = 60.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_trace_leaves_no_temporary_file(tmp_path, sig, code):
    """The 10,000-image run streams its trace into a temporary file beside the output."""
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aci",
            "run",
            BNN_PR,
            "-D",
            "BATCH=1",
            "--timing-only",
            "--trace",
            tmp_path / "run.jsonl",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: leftovers(tmp_path) or p.poll() is not None)
        assert p.poll() is None, "the run ended before it could be interrupted"
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert (
        p.returncode == code and ("terminated" if sig == signal.SIGTERM else "interrupted") in err
    )
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_terminated_sweep_leaves_no_child_process(tmp_path):
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aci",
            "explore",
            BNN_PR,
            "-D",
            "BATCH=1,2,3,4,5,6,7,8",
            "--jobs",
            "2",
            "--plot",
            tmp_path / "sweep.png",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(descendants(p.pid)) >= 2 or p.poll() is not None)
        children = descendants(p.pid)
        assert p.poll() is None and children
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 143, err
    wait_for(lambda: not any(alive(c) for c in children), 10)
    assert list(tmp_path.iterdir()) == []
