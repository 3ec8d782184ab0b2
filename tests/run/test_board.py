"""The simulated board: sparse memory, buffers by name, files."""

from __future__ import annotations

import numpy as np
import pytest

from aci.board import Board, BoardFault, DataError
from aci.decode import decode
from aci.image import BufferSymbol, MemoryInfo, Symbols, TargetInfo
from aci.pipeline import compile_file

from ..image.builder import PROGRAMS, TIMING

BUFFERS = (
    BufferSymbol("x", "i16", "input", (2, 3), 0, 0x100, 12),
    BufferSymbol("w", "bits", "input", (10, 10), 0, 0x200, 16),
    BufferSymbol("far", "u8", "output", (4,), 1, 0x4000_0000, 4),
)
TARGET = TargetInfo(
    1, TIMING, (MemoryInfo("ddr", 0, 1 << 31), MemoryInfo("ocm", 0x4000_0000, 4096))
)


@pytest.fixture
def board():
    return Board(TARGET, [(b.address, b.address + b.size) for b in BUFFERS], Symbols(BUFFERS))


def test_only_touched_memory_is_allocated():
    c = compile_file(str(PROGRAMS / "bnn_pr.aci"), {"BATCH": "1"})
    b = Board.for_image(c.image)
    assert b.allocated == 0  # nothing until touched
    b.view(0, 1)
    total = sum(hi - lo for lo, hi in b.extents)
    assert total < 64 << 20  # the buffers and bitstreams, not the 2 GiB DDR
    assert b.allocated <= total


def test_extents_merge_within_a_memory(board):
    assert board.extents == [(0x100, 0x210), (0x4000_0000, 0x4000_0004)]


def test_access_outside_extents_is_a_fault(board):
    with pytest.raises(BoardFault):
        board.view(0x20F, 2)
    with pytest.raises(BoardFault):
        board.view(0x10, 1)
    with pytest.raises(BoardFault):
        Board(TARGET, [(1 << 31, (1 << 31) + 1)])


def test_rows_with_strides(board):
    board.write(0x100, bytes(range(16)))
    assert board.rows(0x100, 4, 3, 2).tolist() == [[0, 1], [4, 5], [8, 9]]
    assert board.rows(0x108, -4, 3, 2).tolist() == [[8, 9], [4, 5], [0, 1]]
    assert board.rows(0x100, 0, 2, 3).tolist() == [[0, 1, 2], [0, 1, 2]]


def test_load_and_read_arrays(board):
    x = np.array([[1, -2, 3], [4, 5, -32768]], np.int16)
    board.load("x", x)
    assert board.read(0x100, 4) == b"\x01\x00\xfe\xff"
    assert (board.array("x") == x).all() and board.array("x").dtype == np.int16
    board.load("x", x.astype(">i2"))  # another byte order is converted
    assert (board.array("x") == x).all()
    w = np.array([2**64 - 1, 5], np.uint64)
    board.load("w", w)
    assert board.array("w").tolist() == w.tolist()
    board.load("far", b"abcd")
    assert board.array("far").tobytes() == b"abcd"


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("x", np.zeros((2, 3), np.float32), "expected int16 of shape (2, 3), got float32"),
        ("x", np.zeros((3, 2), np.int16), "got int16 of shape (3, 2)"),
        ("w", np.zeros((10, 10), np.uint64), "expected uint64 words of shape (2,)"),
        ("x", b"\0" * 11, "i16[2][3] (12 bytes); got 11 bytes"),
        ("nope", b"", "no buffer `nope` in the image (buffers: x, w, far)"),
    ],
)
def test_load_errors(board, name, value, message):
    with pytest.raises(DataError) as e:
        board.load(name, value)
    assert message in str(e.value)


def test_no_symbols():
    with pytest.raises(DataError, match="stripped"):
        Board(TARGET, []).buffer("x")


def test_files_round_trip(board, tmp_path):
    x = np.arange(6, dtype=np.int16).reshape(2, 3) - 3
    np.save(tmp_path / "x.npy", x)
    board.load_file("x", str(tmp_path / "x.npy"))
    board.save("x", str(tmp_path / "out.npy"))
    back = np.load(tmp_path / "out.npy")
    assert back.dtype == np.int16 and back.shape == (2, 3) and (back == x).all()
    board.save("x", str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == x.astype("<i2").tobytes()
    (tmp_path / "four.bin").write_bytes(b"wxyz")
    board.load_file("far", str(tmp_path / "four.bin"))
    assert board.array("far").tobytes() == b"wxyz"
    board.save("w", str(tmp_path / "w.npy"))
    assert np.load(tmp_path / "w.npy").dtype == np.uint64


def test_file_errors(board, tmp_path):
    with pytest.raises(DataError, match="cannot read .* for buffer `x`: No such file"):
        board.load_file("x", str(tmp_path / "missing.npy"))
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match="not a readable .npy file"):
        board.load_file("x", str(tmp_path / "bad.npy"))
    np.save(tmp_path / "f.npy", np.zeros((2, 3)))
    with pytest.raises(DataError, match=r"f\.npy: buffer `x`"):
        board.load_file("x", str(tmp_path / "f.npy"))


def test_sync_bytes_layout():
    c = compile_file(str(PROGRAMS / "examples/hello.aci"))
    b = Board.for_image(decode(c.data))
    b.sync["status"] = 2
    assert len(b.sync_bytes()) == 96 and b.sync_bytes()[8:12] == b"\2\0\0\0"
