"""Packing of ±1 tensors into the bits-tensor ABI of the BNN cores.

Contract (normative, shared by every implementation of the cores):

* a bits tensor is a C-order tensor of ±1 values, flattened;
* element ``k`` is bit ``k % 64`` of the 64-bit little-endian word ``k // 64``;
* bit 1 means −1 and bit 0 means +1;
* the tensor starts on a word boundary and occupies ``ceil(count / 64)`` whole
  words; the unused high bits of the last word are 0 when this module writes
  them and are ignored when it reads them.

Because the words are little-endian, bit ``k`` of the tensor is also bit
``k % 8`` of byte ``k // 8`` of the byte image, which is what
``np.packbits(..., bitorder="little")`` produces; every function here relies
on that equivalence instead of shifting words bit by bit.
"""

from __future__ import annotations

import numpy as np

#: dtype of one ABI word: 64-bit unsigned, little-endian on every host.
WORD = np.dtype("<u8")


def words_for(count: int) -> int:
    """Number of 64-bit words that hold a bits tensor of ``count`` elements."""
    if count < 0:
        raise ValueError(f"a bits tensor cannot have {count} elements")
    return (count + 63) // 64


def bytes_for(count: int) -> int:
    """Number of bytes (whole words) that hold a bits tensor of ``count`` elements."""
    return 8 * words_for(count)


def _as_bits(values: np.ndarray) -> np.ndarray:
    """Boolean array with True where the element is −1 (bit 1)."""
    if values.dtype == np.bool_:
        return values
    if not np.issubdtype(values.dtype, np.number):
        raise ValueError(f"cannot pack an array of dtype {values.dtype}")
    negative = values == -1
    if not np.all(negative | (values == 1)):
        raise ValueError(
            "pack_bits takes ±1 values, or a bool array of bits (True means −1); got other numbers"
        )
    return negative


def pack_bits(values, *, batch: bool = False) -> np.ndarray:
    """Pack a ±1 tensor into ABI words.

    ``values`` is either a numeric array holding only −1 and +1, or a bool
    array of bits (True = bit 1 = −1); any shape, flattened in C order.
    Returns a 1-D ``<u8`` array of ``words_for(values.size)`` words.

    With ``batch=True`` the leading axis indexes independent tensors, each
    packed on its own: the result has shape ``(values.shape[0], words)``.
    """
    bits = _as_bits(np.asarray(values))
    if batch:
        if bits.ndim == 0:
            raise ValueError("batch=True needs an array with a leading batch axis")
        rows = bits.reshape(bits.shape[0], -1)
    else:
        rows = bits.reshape(1, -1)
    count = rows.shape[1]
    packed = np.zeros((rows.shape[0], bytes_for(count)), dtype=np.uint8)
    packed[:, : (count + 7) // 8] = np.packbits(rows, axis=1, bitorder="little")
    words = packed.view(WORD)
    return words if batch else words[0]


def unpack_bits(words, count: int, *, signs: bool = True) -> np.ndarray:
    """Unpack the first ``count`` elements of bits tensors.

    ``words`` has shape ``(..., n_words)`` (any leading axes index independent
    tensors) and is read as little-endian 64-bit words; ``n_words`` must be at
    least ``words_for(count)``; bits beyond ``count`` are ignored.  Returns an
    array of shape ``(..., count)``: ``int8`` ±1 values, or with
    ``signs=False`` the raw bits as bool (True means −1).
    """
    w = np.ascontiguousarray(words, dtype=WORD)
    if w.ndim == 0:
        raise ValueError("unpack_bits needs an array of words")
    if w.shape[-1] < words_for(count):
        raise ValueError(f"{w.shape[-1]} words cannot hold a bits tensor of {count} elements")
    bits = np.unpackbits(words_as_bytes(w), axis=-1, count=count, bitorder="little")
    if not signs:
        return bits.view(np.bool_)
    return 1 - 2 * bits.view(np.int8)


def bytes_as_words(data) -> np.ndarray:
    """View a ``uint8`` array of shape ``(..., 8*n)`` as ``(..., n)`` ABI words."""
    b = np.ascontiguousarray(data, dtype=np.uint8)
    if b.ndim == 0 or b.shape[-1] % 8:
        raise ValueError(f"a byte array of shape {b.shape} is not a whole number of 64-bit words")
    return b.view(WORD)


def words_as_bytes(words) -> np.ndarray:
    """View ABI words of shape ``(..., n)`` as their ``(..., 8*n)`` byte image."""
    w = np.ascontiguousarray(words, dtype=WORD)
    if w.ndim == 0:
        raise ValueError("words_as_bytes needs an array of words")
    return w.view(np.uint8)
