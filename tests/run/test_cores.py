"""The core registry and the TEST core of docs/execution.md."""

from __future__ import annotations

import numpy as np
import pytest

from aci.cores import MODELS, bnn, model
from aci.cores import test_core as tc


def test_test_core_formula():
    a = np.array([[0, 1, 255, 100]], np.uint8)
    y = model(200).run((4, 7), {"a": a}, 3)["y"]
    # y[k] = (5 a[k] + salt + 3 slot + k) mod 256
    assert y.tolist() == [[(5 * v + 7 + 9 + k) % 256 for k, v in enumerate([0, 1, 255, 100])]]
    assert y.dtype == np.uint8


def test_test_core_batches_and_large_salt():
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    y = tc.compute({"n": 4, "salt": 65535}, {"a": a}, 15)["y"]
    assert y.shape == (3, 4)
    assert y[2, 3] == (5 * 11 + 65535 + 45 + 3) % 256


def test_test_core_rejects_bad_input():
    with pytest.raises(ValueError):
        tc.compute({"n": 4, "salt": 0}, {"a": np.zeros((1, 5), np.uint8)}, 0)
    with pytest.raises(ValueError):
        tc.port_lengths({"n": 0, "salt": 0})


def test_registry():
    assert {i: m.name for i, m in MODELS.items()} == {
        1: "FP_CONV",
        2: "BIN_CONV",
        3: "BIN_FC",
        200: "TEST",
    }
    assert model(99) is None
    conv = model(2)
    assert [p for p, _ in conv.ports] == ["x", "w", "t", "y"]
    assert conv.directions == ("in", "in", "in", "out")
    assert conv.params == ("n_in", "n_out", "size", "pool")
    assert model(1).params == ("n_out",) and model(3).params == ("n_in", "n_out", "last")
    assert conv.bind((128, 256, 16, 0)) == {"n_in": 128, "n_out": 256, "size": 16, "pool": 0}
    assert model(200).ports == (("a", "in"), ("y", "out"))


def test_mismatch():
    conv = model(2)
    ins, outs = bnn.port_bytes("BIN_CONV", {"n_in": 128, "n_out": 128, "size": 32, "pool": 1})
    lengths = [ins["x"], ins["w"], ins["t"], outs["y"]]
    dirs = ("in", "in", "in", "out")
    assert conv.mismatch(dirs, (128, 128, 32, 1), lengths) is None
    assert "has ports of" in conv.mismatch(dirs, (128, 128, 32, 0), lengths)
    assert "even size" in conv.mismatch(dirs, (128, 128, 31, 1), lengths)
    assert "ports" in conv.mismatch(("in", "out"), (128, 128, 32, 1), lengths)
    assert "parameters" in conv.mismatch(dirs, (128, 128), lengths)


def test_bnn_wrapper_matches_the_model():
    rng = np.random.default_rng(0)
    words = (8, 4, 1)
    ins, _ = bnn.port_bytes("BIN_FC", dict(zip(("n_in", "n_out", "last"), words, strict=True)))
    inputs = {k: rng.integers(0, 256, (2, n), dtype=np.uint8) for k, n in ins.items()}
    direct = bnn.bin_fc({"n_in": 8, "n_out": 4, "last": 1}, inputs)["y"]
    assert (model(3).run(words, inputs, slot=2)["y"] == direct).all()
