"""The digits network on real data through acic import -> compile -> run: the accuracy
floor, and scores equal to the float network's (times 2^score_bits) bit for bit on
both engines."""

from __future__ import annotations

import numpy as np
import pytest

from aci.cli import main
from aci.engine import run_on
from aci.imports import binarynet, digits


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The held-out digits imported and compiled once with the command line."""
    out = tmp_path_factory.mktemp("digits")
    _, _, images, labels = digits.dataset()
    np.save(out / "heldout.npy", images.astype(np.float32) / 128)
    assert (
        main(
            [
                "import",
                "binarynet",
                str(digits.MODEL),
                "-o",
                str(out),
                "--program",
                "digits",
                "--inputs",
                str(out / "heldout.npy"),
                "--batch",
                "40",
            ]
        )
        == 0
    )
    assert (
        main(["compile", str(out / "digits.aci"), "--mode", "dataflow", "-o", str(out / "d.acx")])
        == 0
    )
    inputs = {p.stem: np.load(p) for p in out.glob("*.npy") if p.stem != "heldout"}
    reference = digits.float_scores(digits.load_model(), images)
    return (out / "d.acx").read_bytes(), inputs, reference, labels


def test_held_out_digits_on_every_engine(imported, engine):
    data, inputs, reference, labels = imported
    r = run_on(engine, data, inputs=inputs, outputs=["scores"])
    assert r.ok, r.error
    scores = engine.get("scores")
    assert np.array_equal(scores, reference * 2**6)  # bit for bit: the float scores x 2^score_bits
    accuracy = (scores.argmax(axis=1) == labels).mean()
    float_accuracy = (reference.argmax(axis=1) == labels).mean()
    assert accuracy >= 0.85 and abs(accuracy - float_accuracy) <= 0.01


def test_dataset_split_and_scaling_are_fixed():
    xtr, ytr, xte, yte = digits.dataset()
    assert xtr.shape == (1437, 3, 32, 32) and xte.shape == (360, 3, 32, 32) and xte.dtype == np.int8
    assert set(np.unique(xte)) <= set(range(-120, 121, 15))
    assert np.array_equal(xte[:, 0], xte[:, 2])  # every channel the same
    assert np.array_equal(
        xte[:, :, ::4, ::4].repeat(4, axis=2).repeat(4, axis=3), xte
    )  # 4x4 blocks
    assert np.bincount(np.concatenate([ytr, yte])).tolist() == [
        178,
        182,
        177,
        183,
        181,
        182,
        181,
        179,
        174,
        180,
    ]


def test_committed_model_shape():
    net = binarynet.read(str(digits.MODEL))
    assert [(layer.core, layer.params) for layer in net.layers] == [
        ("FP_CONV", {"n_out": 16}),
        ("BIN_CONV", {"n_in": 16, "n_out": 32, "size": 32, "pool": 1}),
        ("BIN_CONV", {"n_in": 32, "n_out": 32, "size": 16, "pool": 1}),
        ("BIN_CONV", {"n_in": 32, "n_out": 32, "size": 8, "pool": 1}),
        ("BIN_FC", {"n_in": 512, "n_out": 64, "last": 0}),
        ("BIN_FC", {"n_in": 64, "n_out": 10, "last": 1}),
    ]


def test_the_demo_runs_on_the_engines_of_this_machine():
    """`make demo` runs the digits on every engine that needs no board daemon."""
    from aci.engine import ENGINES
    from aci.imports import digits

    assert (
        set(digits.engines())
        == {n for n, e in ENGINES.items() if not e.needs_board}
        >= {"python", "firmware"}
    )
    assert "remote" not in digits.engines()
