"""acic keygen, acic board serve, acic board status: as a user runs them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aci import daemon as D
from aci import protocol as P

ROOT = Path(__file__).resolve().parents[2]
ACIC = [sys.executable, "-m", "aci"]


def acic(*args, env=None, cwd=None, timeout=60):
    return subprocess.run(
        [*ACIC, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def test_keygen_writes_a_secret_that_is_never_readable_by_others(tmp_path):
    old = os.umask(0)  # even with a umask that would let everyone read
    try:
        p = acic("keygen", tmp_path / "host")
    finally:
        os.umask(old)
    assert p.returncode == 0, p.stderr
    sec, pub = tmp_path / "host.key_secret", tmp_path / "host.key"
    assert stat.S_IMODE(sec.stat().st_mode) == 0o600
    assert stat.S_IMODE(pub.stat().st_mode) == 0o644
    public, secret = D.read_pair(tmp_path / "host")
    assert D.read_public(pub) == public and len(secret) == 40
    # never overwritten, never through a link
    before = sec.read_bytes()
    p = acic("keygen", tmp_path / "host")
    assert p.returncode == 1 and "exists" in p.stderr and sec.read_bytes() == before
    (tmp_path / "other.key_secret").symlink_to(tmp_path / "elsewhere")
    p = acic("keygen", tmp_path / "other")
    assert p.returncode == 1 and not (tmp_path / "elsewhere").exists()


def test_keygen_from_python_refuses_to_overwrite(tmp_path):
    pub, sec = D.keygen(tmp_path / "k")
    assert stat.S_IMODE(sec.stat().st_mode) == 0o600
    with pytest.raises(D.DaemonError, match="never overwrites"):
        D.keygen(tmp_path / "k")


def test_board_serve_and_status(tmp_path):
    for name in ("board", "host", "stranger"):
        assert acic("keygen", tmp_path / name).returncode == 0
    (tmp_path / "auth").write_bytes(D.read_public(tmp_path / "host.key") + b"\n")
    proc = subprocess.Popen(
        [
            *ACIC,
            "board",
            "serve",
            "--bind",
            "tcp://127.0.0.1:0",
            "--key",
            tmp_path / "board",
            "--authorized-keys",
            tmp_path / "auth",
            "--target",
            ROOT / "programs" / "targets" / "zcu102.aci",
            "--pace",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening tcp://127.0.0.1:"), proc.stderr.read()
        url = line.split()[1]
        p = acic(
            "board",
            "status",
            url,
            env={D.KEYS_ENV: str(tmp_path / "host"), D.BOARD_KEY_ENV: str(tmp_path / "board.key")},
        )
        assert p.returncode == 0, p.stderr
        assert (
            f"board {url}: {P.FIRMWARE_VERSION}, protocol {P.VERSION_MAJOR}.{P.VERSION_MINOR}, "
            "image format 1.0, target zcu102" in p.stdout
        )
        assert "state empty" in p.stdout
        p = acic(
            "board",
            "status",
            url,
            "--key",
            tmp_path / "host",
            "--board-key",
            tmp_path / "board.key",
        )
        assert p.returncode == 0
        t = time.monotonic()
        p = acic(
            "board",
            "status",
            url,
            "--key",
            tmp_path / "stranger",
            "--board-key",
            tmp_path / "board.key",
            "--timeout",
            "1",
        )
        assert p.returncode == 1 and "no answer in 1 s" in p.stderr and "Traceback" not in p.stderr
        assert time.monotonic() - t >= 0.9  # it waited for its timeout, not refused at once
        p = acic("board", "status", url)
        assert p.returncode == 1 and D.KEYS_ENV in p.stderr
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_board_serve_without_the_daemon_or_keys_is_a_clear_error(tmp_path):
    p = acic("board", "serve", env={"ACIC_BOARD_DAEMON": str(tmp_path / "missing")})
    assert p.returncode == 1 and "ACIC_BOARD_DAEMON" in p.stderr
    p = acic("board", "serve", "--bind", "tcp://127.0.0.1:0")
    assert p.returncode == 1 and "--key" in p.stderr
    p = acic("board", "serve", "--key", tmp_path / "nokey", "--authorized-keys", tmp_path / "auth")
    assert p.returncode == 1 and "cannot read key file" in p.stderr
