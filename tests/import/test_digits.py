"""The digits network on real data through acic import -> compile -> run: the accuracy
floor, and scores equal to the float network's (times 2^score_bits) bit for bit on
both engines."""

from __future__ import annotations

import numpy as np

from aci.imports import binarynet, digits


def test_held_out_digits_on_both_engines(tmp_path):
    r = digits.run_demo(tmp_path, quiet=True)
    assert r["images"] == digits.HELD_OUT == 360
    assert r["float"] >= 0.85
    for engine in ("python", "firmware"):
        accuracy, exact = r[engine]
        assert exact, engine
        assert accuracy >= 0.85 and abs(accuracy - r["float"]) <= 0.01


def test_dataset_split_and_scaling_are_fixed():
    xtr, ytr, xte, yte = digits.dataset()
    assert xtr.shape == (1437, 3, 32, 32) and xte.shape == (360, 3, 32, 32) and xte.dtype == np.int8
    assert set(np.unique(xte)) <= set(range(-120, 121, 15))
    assert np.array_equal(xte[:, 0], xte[:, 2])  # every channel the same
    assert np.array_equal(xte[:, :, ::4, ::4].repeat(4, axis=2).repeat(4, axis=3), xte)  # 4x4 blocks
    assert np.bincount(np.concatenate([ytr, yte])).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_committed_model_shape():
    net = binarynet.read(str(digits.MODEL))
    assert [(l.core, l.params) for l in net.layers] == [
        ("FP_CONV", {"n_out": 16}),
        ("BIN_CONV", {"n_in": 16, "n_out": 32, "size": 32, "pool": 1}),
        ("BIN_CONV", {"n_in": 32, "n_out": 32, "size": 16, "pool": 1}),
        ("BIN_CONV", {"n_in": 32, "n_out": 32, "size": 8, "pool": 1}),
        ("BIN_FC", {"n_in": 512, "n_out": 64, "last": 0}),
        ("BIN_FC", {"n_in": 64, "n_out": 10, "last": 1}),
    ]
