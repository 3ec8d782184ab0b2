"""A buffer's bytes: from numpy arrays, raw bytes and files, as the board stores them.

The one definition of how a buffer's contents are given, shared by the checker (a
buffer declared `from "FILE"`, whose bytes the image carries) and the engines
(`acic run --set`, ``run_image(inputs=...)``): ``read_buffer_file(path, name, elem,
shape)`` reads a ``.npy`` array of the buffer's element type and shape (a ``bits``
buffer as its 64-bit words) or any other file as raw bytes of exactly its size;
``buffer_bytes(symbol, value)`` does the same for an array or bytes in memory. Both
raise :class:`DataError` (an AciError: the user's input is wrong) with the buffer's
type in the message.
"""

from __future__ import annotations

import io
import os
import stat

import numpy as np

from ._io import note_input
from .diagnostics import AciError
from .image import BufferSymbol
from .program import tensor_bytes

NPY_HEADER_MAX = 1 << 16  # a .npy file's header is at most this long, besides its data

# Element types of SYMBOLS as numpy dtypes (little-endian, as the board stores them).
ELEMENT_DTYPES: dict[str, np.dtype] = {
    "bits": np.dtype("<u8"),
    "i8": np.dtype("i1"),
    "u8": np.dtype("u1"),
    "i16": np.dtype("<i2"),
    "u16": np.dtype("<u2"),
    "i32": np.dtype("<i4"),
    "u32": np.dtype("<u4"),
    "i64": np.dtype("<i8"),
    "u64": np.dtype("<u8"),
}


class DataError(AciError):
    """A buffer name, value or file that does not fit the image; ``buffer`` names it,
    ``reason`` is the message without the file name in front."""

    def __init__(self, message: str, buffer: str | None = None, reason: str | None = None):
        super().__init__(message)
        self.buffer = buffer
        self.reason = reason or message


def describe(b: BufferSymbol) -> str:
    """A buffer's type as the source writes it, with its size: ``i8[4][3][32][32] (12288 bytes)``."""
    return b.elem + "".join(f"[{d}]" for d in b.shape) + f" ({b.size} bytes)"


def expected_array(b: BufferSymbol) -> tuple[np.dtype, tuple[int, ...]]:
    """The dtype and shape of a buffer as a numpy array (bits: its 64-bit words)."""
    if b.elem == "bits":
        return ELEMENT_DTYPES["bits"], (b.size // 8,)
    return ELEMENT_DTYPES[b.elem], tuple(b.shape)


def buffer_bytes(b: BufferSymbol, value) -> bytes:
    """A buffer's bytes from an array (its dtype and shape; bits: uint64 words) or
    from raw bytes (exactly its size); DataError otherwise."""
    if isinstance(value, np.ndarray):
        dtype, shape = expected_array(b)
        same_type = value.dtype.kind == dtype.kind and value.dtype.itemsize == dtype.itemsize
        if not same_type or value.shape != shape:
            what = "uint64 words" if b.elem == "bits" else str(dtype.newbyteorder("="))
            raise DataError(
                f"buffer `{b.name}` is {describe(b)}: expected {what} of shape {shape}, "
                f"got {value.dtype} of shape {value.shape}",
                b.name,
            )
        return np.ascontiguousarray(value, dtype=dtype).tobytes()
    raw = bytes(value)
    if len(raw) != b.size:
        raise DataError(f"buffer `{b.name}` is {describe(b)}; got {len(raw)} bytes", b.name)
    return raw


def read_buffer_file(path: str, name: str, elem: str, shape: tuple[int, ...]) -> bytes:
    """The bytes buffer ``name`` (``elem``, ``shape``) gets from a file: a ``.npy``
    array of its type and shape, or any other file as raw bytes of its size. The
    one reading of ``--set`` files and of `from "FILE"`; DataError on any mismatch."""
    b = BufferSymbol(name, elem, "input", tuple(shape), 0, 0, _size(elem, shape))
    most = b.size + NPY_HEADER_MAX  # read no more than a buffer's contents could take
    try:
        with open(path, "rb") as f:
            note_input(f.fileno())
            regular = stat.S_ISREG(os.fstat(f.fileno()).st_mode)
            if regular and os.fstat(f.fileno()).st_size > most:
                n = os.fstat(f.fileno()).st_size
                raise DataError(
                    f"`{path}` holds {n} bytes, more than buffer `{name}` ({b.size} bytes) takes",
                    name,
                    f"it holds {n} bytes, more than buffer `{name}` ({b.size} bytes) takes",
                )
            if path.endswith(".npy"):
                value = np.load(f if regular else io.BytesIO(f.read(most + 1)), allow_pickle=False)
            else:
                value = f.read(b.size + 1)  # one byte more than fits: the size check below says so
    except OSError as e:
        why = f"cannot read it: {e.strerror or e}"
        raise DataError(
            f"cannot read `{path}` for buffer `{name}`: {e.strerror or e}", name, why
        ) from None
    except (ValueError, EOFError) as e:
        raise DataError(
            f"`{path}` is not a readable .npy file: {e}", name, f"not a readable .npy file: {e}"
        ) from None
    if path.endswith(".npy") and not isinstance(value, np.ndarray):
        raise DataError(f"`{path}` is not a .npy array file", name, "not a .npy array file")
    try:
        return buffer_bytes(b, value)
    except DataError as e:
        raise DataError(f"{path}: {e}", name, str(e)) from None


def _size(elem: str, shape) -> int:
    return tensor_bytes(elem, tuple(shape))
