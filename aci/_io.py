"""Output files are written whole or not at all: a temporary file beside the target,
then an atomic rename."""

from __future__ import annotations

import os
import tempfile

from .diagnostics import AciError


class OutputError(AciError):
    pass


def write_atomic(path: str, data: bytes | str) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".acic-", dir=directory)
    except OSError as e:
        raise OutputError(f"cannot write `{path}`: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        umask = os.umask(0)  # mkstemp makes 0600 files; outputs get the usual mode
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"cannot write `{path}`: {e.strerror or e}") from None


def read_input(path: str, what: str = "file") -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except IsADirectoryError:
        raise OutputError(f"cannot read {what} `{path}`: it is a directory") from None
    except OSError as e:
        raise OutputError(f"cannot read {what} `{path}`: {e.strerror or e}") from None


class ProgressBar:
    """``done`` of ``total`` things on a terminal line, redrawn at most ten times a
    second (and always at the end); ``clear()`` erases it."""

    WIDTH = 30

    def __init__(self, stream, unit: str):
        self.stream = stream
        self.unit = unit
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        import time
        now = time.monotonic()
        if not total or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        filled = self.WIDTH * done // total
        self.stream.write(f"\r[{'#' * filled}{' ' * (self.WIDTH - filled)}] {100 * done // total:3d}% "
                          f"{done:,}/{total:,} {self.unit}")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * (self.WIDTH + 50) + "\r")
            self.stream.flush()
