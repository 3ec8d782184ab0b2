"""QONNX import: the digits network written as QONNX gives the same parameters and
program as the BinaryNet path; random networks match qonnx's own execution of the
graph; layers that do not fit the cores are refused by node, all at once."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

from aci.imports import binarynet, digits, qonnx
from aci.imports.network import ModelError, program_text, threshold_root

from . import reference as ref
from .helpers import binarynet_arrays, pixels, run_network
from .qonnx_models import QONNX, Graph, from_binarynet


def same_network(a, b):
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert (la.core, la.params) == (lb.core, lb.params)
        assert np.array_equal(la.weights, lb.weights) and np.array_equal(
            la.thresholds, lb.thresholds
        )
    assert (a.input_bits, a.score_bits) == (b.input_bits, b.score_bits)


def test_digits_network_through_qonnx_equals_the_native_path(tmp_path):
    arrays = digits.load_model()
    from_binarynet(arrays, digits.POOL, tmp_path / "digits.onnx")
    native = binarynet.read(str(digits.MODEL))
    imported = qonnx.read(str(tmp_path / "digits.onnx"))
    same_network(imported, native)
    texts = [
        program_text(n, "digits", str(tmp_path), images=360, batch=40).split("\n", 1)[1]
        for n in (native, imported)
    ]
    assert texts[0] == texts[1]


@pytest.mark.parametrize("threshold", ["bipolar", "multithreshold"])
def test_random_network_matches_qonnx_execution(tmp_path, threshold):
    rng = np.random.Generator(np.random.PCG64(21))
    arrays = binarynet_arrays(rng)
    from_binarynet(arrays, (1, 2, 3), tmp_path / "m.onnx", threshold=threshold, batch=2)
    net = qonnx.read(str(tmp_path / "m.onnx"))
    same_network(net, binarynet.read(_npz(tmp_path, arrays)))
    pix, x = pixels(rng, 2)
    model = ModelWrapper(str(tmp_path / "m.onnx")).transform(InferShapes())
    out = execute_onnx(model, {"image": pix})[model.graph.output[0].name]
    assert np.array_equal(run_network(net, x), out.astype(np.float64) * 2**net.score_bits)


def test_batch_normalization_nodes_are_exact(tmp_path):
    """ONNX BatchNormalization (a square root): thresholds decided exactly; the scores
    equal qonnx's execution and the float formulation's."""
    rng = np.random.Generator(np.random.PCG64(22))
    arrays = binarynet_arrays(rng)
    variances = []
    for layer in range(len(arrays) // 6 - 1):
        n = arrays[6 * layer + 1].size
        var = rng.uniform(0.2, 30, n).astype(np.float32)
        variances.append((var, 1e-4))
        arrays[6 * layer + 5] = 1 / np.sqrt(var.astype(np.float64) + np.float64(np.float32(1e-4)))
    from_binarynet(arrays, (1, 2, 3), tmp_path / "bn.onnx", variances=variances, batch=2)
    net = qonnx.read(str(tmp_path / "bn.onnx"))
    pix, x = pixels(rng, 2)
    scores = run_network(net, x)
    want = ref.binarynet_scores([np.asarray(a, np.float64) for a in arrays], {1, 2, 3}, pix)
    assert np.array_equal(scores, want * 2**net.score_bits)
    model = ModelWrapper(str(tmp_path / "bn.onnx")).transform(InferShapes())
    out = execute_onnx(model, {"image": pix})[model.graph.output[0].name]
    assert np.array_equal(scores, out.astype(np.float64) * 2**net.score_bits)


def test_threshold_root_on_every_sum():
    rng = np.random.Generator(np.random.PCG64(23))
    for _ in range(300):
        k, h, c = (Fraction(int(rng.integers(-40, 41)), 8) for _ in range(3))
        v = Fraction(int(rng.integers(1, 50)), int(rng.choice([1, 4, 9])))
        t, flip = threshold_root(k, h, c, v, 20, "x")
        for s in range(-20, 21):
            assert (float(s * k + h) >= float(c) * math.sqrt(v)) == ((-s if flip else s) >= t), (
                k,
                h,
                c,
                v,
                s,
            )


def _npz(tmp_path, arrays):
    np.savez(tmp_path / "m.npz", *arrays)
    return str(tmp_path / "m.npz")


def test_layers_that_do_not_fit_are_each_named(tmp_path):
    g = Graph()
    t = g.node(
        "Conv", ["image", g.const(np.ones((4, 3, 5, 5)))], kernel_shape=[5, 5], pads=[2, 2, 2, 2]
    )
    t = g.node("BipolarQuant", [t, g.const(1.0)], QONNX)
    t = g.node(
        "Conv",
        [t, g.const(np.full((4, 4, 3, 3), 0.5) * np.array([1, -1, 1, 2]).reshape(1, 4, 1, 1))],
        kernel_shape=[3, 3],
        pads=[1, 1, 1, 1],
    )
    t = g.node("Relu", [t])
    t = g.node("BipolarQuant", [t, g.const(1.0)], QONNX)
    t = g.node("Flatten", [t], axis=1)
    t = g.node("MatMul", [t, g.const(np.ones((4 * 32 * 32, 10)))])
    g.save(tmp_path / "bad.onnx", "image", t)
    with pytest.raises(ModelError) as e:
        qonnx.read(str(tmp_path / "bad.onnx"))
    lines = str(e.value).splitlines()
    assert len(lines) == 3
    assert "node `Conv_2` (Conv, layer 0): kernel [5, 5], pads [2, 2, 2, 2]" in lines[0]
    assert "node `Conv_6` (Conv, layer 1): output 0's weights are not ±c" in lines[1]
    assert "node `Relu_7` (Relu, layer 1): Relu is not part of a layer" in lines[2]
    (tmp_path / "junk.onnx").write_bytes(b"\x00junk")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        qonnx.read(str(tmp_path / "junk.onnx"))


def test_a_cycle_and_a_fork_are_refused(tmp_path):
    g = Graph()
    g.nodes.append(helper.make_node("Relu", ["image"], ["a"], name="r1"))
    g.nodes.append(helper.make_node("Relu", ["a"], ["image"], name="r2"))  # back to the input
    g.save(tmp_path / "cycle.onnx", "image", "out")
    with pytest.raises(ModelError, match="the graph has a cycle through tensor `image`"):
        qonnx.read(str(tmp_path / "cycle.onnx"))
    g = Graph()
    g.nodes.append(helper.make_node("Relu", ["image"], ["a"], name="r1"))
    g.nodes.append(helper.make_node("Relu", ["a"], ["out"], name="r2"))
    g.nodes.append(helper.make_node("Relu", ["a"], ["c"], name="r3"))
    g.save(tmp_path / "fork.onnx", "image", "out")
    with pytest.raises(ModelError, match="tensor `a` feeds 2 nodes; acic takes one chain"):
        qonnx.read(str(tmp_path / "fork.onnx"))
