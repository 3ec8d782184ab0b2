"""The board daemon from the host's side, the small parts: key files (``acic keygen``),
finding the daemon binary (``acic board serve``) and one request at a time over CURVE
(``acic board status``). The host runtime with retries and epochs is
:mod:`aci.remote`; the protocol is :mod:`aci.protocol` (docs/protocol.md).

Key files (docs/protocol.md, "Keys"): ``acic keygen NAME`` writes ``NAME.key``, the
public key, and ``NAME.key_secret``, the secret key, each as one line of 40 Z85
characters (ZeroMQ's encoding of a 32-byte CURVE key); lines starting with ``#`` are
comments. The secret file is created with mode 0600 (never readable by others, not
even for a moment) and never overwritten. An authorised-keys file lists one public
key per line (the rest of the line is a comment).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from . import protocol as P
from .diagnostics import AciError
from .resources import firmware_program

KEYS_ENV = "ACIC_KEY"  # NAME of the client's key pair (NAME.key, NAME.key_secret)
BOARD_KEY_ENV = "ACIC_BOARD_KEY"  # the board's public key file


class DaemonError(AciError):
    """The daemon is missing, a key file is unusable, or a board did not answer."""


def daemon_binary() -> Path:
    """The acifw-board to start: ``$ACIC_BOARD_DAEMON``, else this checkout's build, else PATH."""
    return firmware_program("acifw-board", "ACIC_BOARD_DAEMON", "the board daemon", DaemonError)


# ---- keys -------------------------------------------------------------------------

_Z85 = set(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")


def _key_of(path: Path) -> bytes:
    """The first key of a key file (40 Z85 characters)."""
    try:
        text = path.read_bytes()
    except OSError as e:
        raise DaemonError(f"cannot read key file {path}: {e.strerror}") from None
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        key = line.split()[0]
        if len(key) != 40 or not set(key) <= _Z85:
            raise DaemonError(f"{path}:{n}: not a key: a key is 40 Z85 characters")
        return key
    raise DaemonError(f"{path}: no key in it")


def keygen(name: str | Path) -> tuple[Path, Path]:
    """Write NAME.key and NAME.key_secret (0600, created exclusively); their paths."""
    import zmq

    public, secret = zmq.curve_keypair()
    pub_path, sec_path = Path(f"{name}.key"), Path(f"{name}.key_secret")
    for p in (pub_path, sec_path):
        if p.exists() or p.is_symlink():
            raise DaemonError(f"{p} exists: acic keygen never overwrites a key")
    try:
        # O_EXCL: never through an existing file or link; mode 0600 from the start.
        fd = os.open(
            sec_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
        )
    except OSError as e:
        raise DaemonError(f"cannot create {sec_path}: {e.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, b"# CURVE secret key (Z85): keep it to yourself\n" + secret + b"\n")
    finally:
        os.close(fd)
    try:
        fd = os.open(
            pub_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644
        )
    except OSError as e:
        os.unlink(sec_path)
        raise DaemonError(f"cannot create {pub_path}: {e.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(
            b"# CURVE public key (Z85): list it in a board's authorised-keys file\n"
            + public
            + b"\n"
        )
    return pub_path, sec_path


def read_public(path: str | Path) -> bytes:
    return _key_of(Path(path))


def read_pair(name: str | Path) -> tuple[bytes, bytes]:
    """A key pair by NAME (NAME.key_secret; the public key is derived from it)."""
    import zmq

    sec_path = Path(f"{name}.key_secret")
    if not sec_path.exists() and Path(name).exists():
        sec_path = Path(name)
    secret = _key_of(sec_path)
    return zmq.curve_public(secret), secret


# ---- one request ------------------------------------------------------------------------


def request(
    url: str,
    name: str,
    *,
    board_key: bytes | None,
    keys: tuple[bytes, bytes] | None,
    timeout: float = 5.0,
    epoch: int = 0,
    payload: bytes = b"",
    **fields,
) -> P.Msg:
    """Send one request, return its reply (an ERROR reply raises ProtocolError).
    ``board_key`` None and ``keys`` None: no CURVE (only a --insecure-loopback daemon
    answers). DaemonError when nothing answers within ``timeout`` seconds -- which is
    also how a board refuses a key it does not know (CURVE refuses silently)."""
    import zmq

    if (board_key is None) != (keys is None):
        raise ValueError("request: CURVE needs both the board's key and the host's keys")
    s: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    if board_key is not None and keys is not None:
        s.curve_serverkey = board_key
        s.curve_publickey, s.curve_secretkey = keys
    try:
        s.connect(url)
        rid = time.time_ns()
        s.send(P.pack(name, rid, epoch, payload, **fields))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not s.poll(int(left * 1000) + 1):
                break
            msg = P.unpack(s.recv())
            if msg.request_id != rid:
                continue
            if msg.name == "ERROR":
                raise P.error_of(msg)
            return msg
    except zmq.ZMQError as e:
        raise DaemonError(f"{url}: {e}") from None
    finally:
        s.close(0)
    raise DaemonError(
        f"{url}: no answer in {timeout:g} s (no board there, or it does not authorise this key)"
    )


# ---- the board's target ------------------------------------------------------------------


def target_description(path: str | Path) -> bytes:
    """The daemon's --target file for a board: TARGET_DESC (its name) and a TARGET
    section, from a `.aci` file declaring one target (`programs/targets/zcu102.aci`),
    with `FILE.aci:NAME` to pick one of several, or from an image (`.acx`, named after
    its file). DaemonError, or the checker's SourceError, when there is none."""
    from .check import check
    from .decode import ImageError, decode
    from .encode import encode_target
    from .image import MemoryInfo, TargetInfo
    from .parse import load

    head, sep, pick = str(path).rpartition(":")
    if not (sep and head.endswith(".aci")):
        head, pick = str(path), ""
    p = Path(head)
    if p.suffix == ".aci":
        targets = check(load(p)).targets
        if pick:
            if pick not in targets:
                raise DaemonError(
                    f"{p} declares no target `{pick}` (it has: {', '.join(sorted(targets)) or 'none'})"
                )
            name = pick
        elif len(targets) == 1:
            name = next(iter(targets))
        else:
            raise DaemonError(f"{p} declares {len(targets)} targets: name one as {p}:NAME")
        t = targets[name]
        info = TargetInfo(
            t.slots, t.timing, tuple(MemoryInfo(m.name, m.base, m.size) for m in t.memories)
        )
    else:
        try:
            info = decode(p.read_bytes()).target
        except OSError as e:
            raise DaemonError(f"cannot read {p}: {e.strerror}") from None
        except ImageError as e:
            raise DaemonError(f"{p}: not a valid image: {e}") from None
        name = p.stem
    raw = name.encode("ascii", "replace")[:16]
    return P.TARGET_DESC.pack(name=raw) + encode_target(info)
