"""Files in and out of a command, safely.

- An output is written whole or not at all: a regular file (or a new one) through a
  temporary file beside it and an atomic rename; a symbolic link is followed, so the
  file it names is replaced and the link stays; a device or a FIFO (``/dev/null``,
  ``/dev/stdout``, a pipe) is written in place, since renaming over it would replace
  the node itself, and a write error there (``/dev/full``: ENOSPC) is reported.
- An output that is one of the command's inputs (the same file, however named) is
  refused: every input is noted when it is read (:func:`note_input`).
- An interrupted command (SIGINT, SIGTERM) leaves nothing behind: temporary files
  are registered while they exist, and :func:`abandon` removes them and ends the
  command's child processes.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any, TypeVar

from .diagnostics import AciError


class OutputError(AciError):
    pass


T = TypeVar("T")


# ---- inputs ---------------------------------------------------------------------------

_inputs: set[tuple[int, int]] = set()  # (device, inode) of every file this command read


def note_input(fd_or_path: int | str | os.PathLike) -> None:
    """Remember a file this command reads, so that no output may overwrite it."""
    try:
        st = os.fstat(fd_or_path) if isinstance(fd_or_path, int) else os.stat(fd_or_path)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode):
        _inputs.add((st.st_dev, st.st_ino))


def read_input(path: str, what: str = "file") -> bytes:
    try:
        with open(path, "rb") as f:
            note_input(f.fileno())
            return f.read()
    except IsADirectoryError:
        raise OutputError(f"cannot read {what} `{path}`: it is a directory") from None
    except OSError as e:
        raise OutputError(f"cannot read {what} `{path}`: {e.strerror or e}") from None


# ---- leaving nothing behind -------------------------------------------------------------

_lock = threading.Lock()
_abandoned = False
_cleanups: dict[object, Callable[[], None]] = {}


class Interrupted(KeyboardInterrupt):
    """The command was abandoned (SIGINT or SIGTERM) while this thread still worked."""


@contextlib.contextmanager
def _registered(create: Callable[[], T], undo: Callable[[T], None]) -> Iterator[T]:
    """``create()``, and within the block ``undo`` of what it made if the command is
    abandoned. Creating and registering is one step under the lock, so whatever
    :func:`abandon` runs, nothing is made that it does not see."""
    with _lock:
        if _abandoned:
            raise Interrupted()
        value = create()
        key = object()
        _cleanups[key] = lambda: undo(value)
    try:
        yield value
    finally:
        with _lock:
            _cleanups.pop(key, None)


@contextlib.contextmanager
def temporary_directory(prefix: str) -> Iterator[str]:
    """A private temporary directory, removed at the end of the block and when the
    command is abandoned."""
    with _registered(lambda: tempfile.mkdtemp(prefix=prefix), _rmtree) as d:
        try:
            yield d
        finally:
            _rmtree(d)


def _rmtree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def abandon() -> None:
    """Undo what the command has in progress: end its child processes (and theirs),
    remove its temporary files. Called by the command line on SIGINT and SIGTERM,
    from the main thread while the work goes on in another."""
    global _abandoned
    with _lock:
        _abandoned = True
        undo = list(_cleanups.values())
        _cleanups.clear()
    _kill_descendants()
    for fn in undo:
        with contextlib.suppress(OSError):
            fn()


def _kill_descendants() -> None:
    import signal

    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    todo, found = [os.getpid()], []
    while todo:
        for pid in children.get(todo.pop(), []):
            found.append(pid)
            todo.append(pid)
    for pid in found:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


# ---- outputs --------------------------------------------------------------------------


def _target(path: str) -> tuple[str, os.stat_result | None]:
    """Where an output really goes (links followed) and what is there now."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real, None
    except OSError as e:
        raise OutputError(f"cannot write `{path}`: {e.strerror or e}") from None
    if (st.st_dev, st.st_ino) in _inputs:
        raise OutputError(f"cannot write `{path}`: it is an input of this command")
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"cannot write `{path}`: it is a directory")
    return real, st


def check_output(path: str, what: str = "file") -> None:
    """Refuse early an output that could not be written (no directory, a directory,
    an input), before any work is done."""
    real, _ = _target(path)
    directory = os.path.dirname(real)
    if not os.path.isdir(directory):
        raise OutputError(f"cannot write {what} `{path}`: no directory `{directory}`")


class PendingOutput:
    """A text or binary output written in full (``stream``), then put in place by
    :meth:`commit` or removed by :meth:`discard`; see the module's rules."""

    def __init__(self, path: str, what: str = "file", text: bool = False):
        self.path, self.what = path, what
        self.real, st = _target(path)
        self.in_place = st is not None and not stat.S_ISREG(st.st_mode)
        self.tmp: str | None = None
        self._guard = contextlib.ExitStack()
        try:
            if self.in_place:
                fd = os.open(self.real, os.O_WRONLY)
            else:
                directory = os.path.dirname(self.real)
                fd, self.tmp = self._guard.enter_context(
                    _registered(
                        lambda: tempfile.mkstemp(prefix=".acic-", dir=directory),
                        lambda made: _unlink(made[1]),
                    )
                )
        except OSError as e:
            raise OutputError(f"cannot write {what} `{path}`: {e.strerror or e}") from None
        self.stream: IO[Any] = (
            os.fdopen(fd, "w", encoding="utf-8", newline="\n") if text else os.fdopen(fd, "wb")
        )

    def commit(self) -> None:
        try:
            self.stream.close()
            if self.tmp is not None:
                # mkstemp makes the file private; give it the mode a new file would get.
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(self.tmp, 0o666 & ~umask)
                os.replace(self.tmp, self.real)
                self.tmp = None
        except OSError as e:
            self.discard()
            raise OutputError(
                f"cannot write {self.what} `{self.path}`: {e.strerror or e}"
            ) from None
        finally:
            self._guard.close()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.close()
        if self.tmp is not None:
            _unlink(self.tmp)
            self.tmp = None
        self._guard.close()


def write_atomic(path: str, data: bytes | str, what: str = "file") -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    out = PendingOutput(path, what)
    try:
        out.stream.write(raw)
    except OSError as e:
        out.discard()
        raise OutputError(f"cannot write {what} `{path}`: {e.strerror or e}") from None
    except BaseException:
        out.discard()
        raise
    out.commit()


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
        self.stream.write(
            f"\r[{'#' * filled}{' ' * (self.WIDTH - filled)}] {100 * done // total:3d}% "
            f"{done:,}/{total:,} {self.unit}"
        )
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * (self.WIDTH + 50) + "\r")
            self.stream.flush()
