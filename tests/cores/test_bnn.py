"""The fast BNN core models against the plain reference and the ABI text."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aci.cores import bnn, bnndata
from aci.cores.bits import (
    bytes_as_words,
    bytes_for,
    pack_bits,
    unpack_bits,
    words_as_bytes,
    words_for,
)

from . import bnn_reference as ref

SEED = 20240611


@pytest.fixture(scope="module")
def data():
    return bnndata.generate(SEED, 2)


@pytest.fixture(scope="module")
def fast_outputs(data):
    return bnndata.layer_outputs(data)


@pytest.fixture(scope="module")
def reference_run(data):
    return ref.forward(data)


def ports(**arrays):
    """Port arrays: 1-D byte rows become shared (1, bytes) ports."""
    return {k: (v.reshape(1, -1) if v.ndim == 1 else v) for k, v in arrays.items()}


def word_row(*values: int) -> np.ndarray:
    """Bytes of the given 64-bit words, little-endian."""
    return np.array(values, dtype="<u8").view(np.uint8)


def i16_row(*values: int) -> np.ndarray:
    return np.array(values, dtype="<i2").view(np.uint8)


# ---------------------------------------------------------------- bits ABI


def test_element_k_is_bit_k_mod_64_of_word_k_div_64():
    signs = np.ones(130, dtype=np.int8)
    signs[[0, 5, 63, 64, 100, 129]] = -1
    w = pack_bits(signs)
    assert w.dtype == np.dtype("<u8") and w.shape == (3,)
    assert int(w[0]) == (1 << 0) | (1 << 5) | (1 << 63)
    assert int(w[1]) == (1 << 0) | (1 << 36)
    assert int(w[2]) == 1 << 1  # unused high bits of the last word are 0
    assert np.array_equal(unpack_bits(w, 130), signs)
    assert np.array_equal(unpack_bits(w, 130, signs=False), signs == -1)


def test_words_are_little_endian_bytes():
    w = pack_bits(np.array([-1] + [1] * 7 + [-1]))  # bits 0 and 8
    assert words_as_bytes(w).tolist() == [1, 1, 0, 0, 0, 0, 0, 0]
    assert bytes_as_words(words_as_bytes(w)).tolist() == w.tolist()
    with pytest.raises(ValueError):
        bytes_as_words(np.zeros(7, np.uint8))


def test_pack_bits_takes_signs_or_bool_bits_only():
    assert pack_bits(np.array([True, False, True])).tolist() == [0b101]
    assert pack_bits(np.array([-1, 1, -1])).tolist() == [0b101]
    with pytest.raises(ValueError):
        pack_bits(np.array([0, 1, 1]))  # 0/1 integers are ambiguous: use bool


def test_pack_bits_batch_packs_each_item_alone():
    signs = np.where(np.arange(2 * 3 * 30).reshape(2, 3, 30) % 7 == 0, -1, 1)
    w = pack_bits(signs, batch=True)
    assert w.shape == (2, words_for(90))
    for i in range(2):
        assert np.array_equal(w[i], pack_bits(signs[i]))
    assert np.array_equal(unpack_bits(w, 90).reshape(signs.shape), signs)
    assert unpack_bits(np.zeros((2, 2), np.uint64), 0).shape == (2, 0)
    with pytest.raises(ValueError):
        unpack_bits(np.zeros(1, np.uint64), 65)


@given(st.lists(st.sampled_from([-1, 1]), max_size=300))
def test_pack_unpack_round_trip(values):
    signs = np.array(values, dtype=np.int8)
    w = pack_bits(signs)
    assert w.size == words_for(signs.size) and bytes_for(signs.size) == 8 * w.size
    assert np.array_equal(unpack_bits(w, signs.size), signs)
    assert np.array_equal(ref.signs(words_as_bytes(w), signs.size), signs)
    assert np.array_equal(ref.bits_row(signs), words_as_bytes(w))


# ---------------------------------------------------------------- hand-computed cases


def bits_8x8(minus_positions) -> int:
    """A 1x8x8 bits tensor (one word) with −1 at the given (row, col)."""
    return sum(1 << (8 * r + c) for r, c in minus_positions)


ALL = [(r, c) for r in range(8) for c in range(8)]
BORDER = [(r, c) for r, c in ALL if r in (0, 7) or c in (0, 7)]


@pytest.mark.parametrize(
    "t, pool, expected",
    [
        # all +1: a sum is the number of window positions inside: 9, 6 or 4
        (7, 0, bits_8x8(BORDER)),
        (5, 0, bits_8x8([(0, 0), (0, 7), (7, 0), (7, 7)])),
        (4, 0, 0),
        (7, 1, 0),  # every 2x2 block holds an inside pixel
        (10, 1, (1 << 16) - 1),
    ],
)
def test_bin_conv_padding_contributes_zero(t, pool, expected):
    params = {"n_in": 1, "n_out": 1, "size": 8, "pool": pool}
    y = bnn.bin_conv(params, ports(x=word_row(0), w=word_row(0), t=i16_row(t)))["y"]
    assert y.tolist() == [list(word_row(expected))]


def test_bin_conv_is_cross_correlation():
    # Weight −1 on the top-left tap only, input −1 at (3, 3) only.  The tap
    # (dy, dx) = (0, 0) of output (i, j) reads input (i − 1, j − 1): only
    # output (4, 4) sees the product (−1)(−1) and reaches the full sum 9
    # (a flipped kernel would put it at (2, 2)).
    params = {"n_in": 1, "n_out": 1, "size": 8, "pool": 0}
    inputs = ports(x=word_row(bits_8x8([(3, 3)])), w=word_row(1), t=i16_row(9))
    y = bnn.bin_conv(params, inputs)["y"]
    assert y.tolist() == [list(word_row(bits_8x8(ALL) & ~(1 << 36)))]
    assert np.array_equal(ref.bin_conv(params, inputs)["y"], y)


def test_bin_conv_channels_and_outputs_layout():
    # x: 2 channels of 2x2; channel 1 all −1.  w[o][c][dy][dx]: output 0 has
    # all weights +1, output 1 has −1 on channel 1 only.  Every window holds
    # all four pixels, so output 0 sums 4 − 4 = 0 and output 1 sums 4 + 4 = 8.
    params = {"n_in": 2, "n_out": 2, "size": 2, "pool": 0}
    x = 0b1111_0000
    w = ((1 << 9) - 1) << 27  # elements 27..35: output 1, channel 1
    y = bnn.bin_conv(params, ports(x=word_row(x), w=word_row(w), t=i16_row(1, 8)))["y"]
    assert y.tolist() == [list(word_row(0b0000_1111))]  # output 0 all −1, output 1 all +1


def test_fp_conv_hand_case():
    # w all +1 for output 0; pixel value 5 at channel 1 (0, 0) and −7 at
    # channel 2 (31, 31): the sums are 5 on the four outputs whose window
    # holds (0, 0), −7 on the four whose window holds (31, 31), 0 elsewhere.
    x = np.zeros((3, 32, 32), np.int8)
    x[1, 0, 0] = 5
    x[2, 31, 31] = -7
    near_start, near_end = [0, 1, 32, 33], [990, 991, 1022, 1023]
    for t, plus in [(1, near_start), (-6, sorted(set(range(1024)) - set(near_end)))]:
        inputs = ports(x=x.view(np.uint8).ravel(), w=word_row(0), t=i16_row(t))
        y = bnn.fp_conv({"n_out": 1}, inputs)["y"]
        expected = -np.ones(1024, np.int8)
        expected[plus] = 1
        assert np.array_equal(unpack_bits(bytes_as_words(y[0]), 1024), expected)


def fc_case(x_minus, w_minus, n_in=70, n_out=2):
    x = np.ones(n_in, np.int8)
    x[x_minus] = -1
    w = np.ones(n_in * n_out, np.int8)
    w[w_minus] = -1
    return words_as_bytes(pack_bits(x)), words_as_bytes(pack_bits(w))


def test_bin_fc_known_popcounts():
    # x has −1 at 0, 3, 69.  Row 0 of w is all +1: 3 differences, sum 64.
    # Row 1 (elements 70..139) has −1 at its 3, 10, 64: differences at 0,
    # 10, 64, 69, sum 62.  Row 1 does not start on a word.
    x, w = fc_case([0, 3, 69], [73, 80, 134])
    params = {"n_in": 70, "n_out": 2, "last": 0}
    y = bnn.bin_fc(params, ports(x=x, w=w, t=i16_row(64, 63)))["y"]
    assert y.tolist() == [list(word_row(0b10))]
    last = bnn.bin_fc({**params, "last": 1}, ports(x=x, w=w, t=i16_row(2, 5, -3, 1)))["y"]
    assert last.view("<i4").tolist() == [[64 * 2 + 5, 62 * -3 + 1]]
    # unused high bits of the input are ignored
    noisy = x.copy()
    noisy[9:] = 0xFF
    assert np.array_equal(bnn.bin_fc(params, ports(x=noisy, w=w, t=i16_row(64, 63)))["y"], y)


# ---------------------------------------------------------------- real layers


@pytest.mark.parametrize(
    "index", range(len(bnndata.LAYERS)), ids=[layer.name for layer in bnndata.LAYERS]
)
def test_network_layer_matches_reference(index, fast_outputs, reference_run):
    assert np.array_equal(fast_outputs[index], reference_run[0][index])


def test_network_scores_match_reference(data, reference_run):
    scores = bnndata.forward(data)
    assert scores.dtype == np.int32 and scores.shape == (2, 10)
    assert np.array_equal(scores, reference_run[1])


def test_network_table_matches_reference_table():
    for layer, (core, params, w, t) in zip(bnndata.LAYERS, ref.NETWORK, strict=True):
        assert (layer.core, dict(layer.params), layer.weights, layer.thresholds) == (
            core,
            params,
            w,
            t,
        )


def test_reference_layers_agree_on_real_shapes(data, fast_outputs):
    # The port-interface reference (not only the ±1 chain) on L5 and L6, fed
    # the fast L4 and L5 outputs.
    for index in (5, 6):
        layer = bnndata.LAYERS[index]
        inputs = {
            "x": fast_outputs[index - 1],
            "w": bnndata.port(data[layer.weights]),
            "t": bnndata.port(data[layer.thresholds]),
        }
        assert np.array_equal(
            ref.MODELS[layer.core](layer.params, inputs)["y"], fast_outputs[index]
        )


def test_activations_are_balanced(data, fast_outputs):
    for layer, y in zip(bnndata.LAYERS, fast_outputs, strict=True):
        p = layer.params
        if p.get("last"):
            scores = y.view("<i4")
            assert len(np.unique(scores)) > 5, "scores should vary"
            continue
        if layer.core == "FP_CONV":
            pixels = 32 * 32
        elif layer.core == "BIN_CONV":
            pixels = (p["size"] // (2 if p["pool"] else 1)) ** 2
        else:
            pixels = 1
        per_image = p["n_out"] * pixels
        ones = unpack_bits(bytes_as_words(y), per_image, signs=False).mean()
        assert 0.1 <= ones <= 0.9, f"{layer.name}: {ones:.1%} of the output bits are 1"


# ---------------------------------------------------------------- generated data


def test_generate_is_deterministic_with_natural_buffers():
    a = bnndata.generate(7, 3)
    b = bnndata.generate(7, 3)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype
    assert a["images"].dtype == np.int8 and a["images"].shape == (3, 3, 32, 32)
    for layer in bnndata.LAYERS:
        assert a[layer.weights].dtype == np.dtype("<u8")
        assert a[layer.weights].shape == (words_for(layer.weight_bits),)
        n_out = layer.params["n_out"]
        assert a[layer.thresholds].dtype == np.int16
        assert a[layer.thresholds].shape == ((n_out, 2) if layer.params.get("last") else (n_out,))
    k, h = a["t8"][:, 0], a["t8"][:, 1]
    assert k.min() >= 1 and k.max() <= 3 and np.abs(h).max() <= 16
    assert "scores" not in a


def test_generate_weights_do_not_depend_on_image_count():
    few, many, other = bnndata.generate(7, 1), bnndata.generate(7, 4), bnndata.generate(8, 1)
    for layer in bnndata.LAYERS:
        assert np.array_equal(few[layer.weights], many[layer.weights])
        assert np.array_equal(few[layer.thresholds], many[layer.thresholds])
    assert np.array_equal(few["images"][0], many["images"][0])
    assert not np.array_equal(few["w1"], other["w1"])


def test_forward_takes_replacement_images(data):
    swapped = data["images"][::-1].copy()
    assert np.array_equal(bnndata.forward(data, swapped), bnndata.forward(data)[::-1])
    with pytest.raises(ValueError):
        bnndata.forward(data, swapped.astype(np.int16))


# ---------------------------------------------------------------- random small shapes


@st.composite
def invocation(draw, core):
    """Random params and inputs of one core: N invocations, random bytes in
    every port (unused bits too), each port per-invocation or shared."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if core == "FP_CONV":
        params = {"n_out": draw(st.integers(1, 12))}
        t_range = 3000
    elif core == "BIN_CONV":
        pool = draw(st.integers(0, 1))
        size = 2 * draw(st.integers(1, 4)) if pool else draw(st.integers(1, 7))
        params = {
            "n_in": draw(st.integers(1, 70)),
            "n_out": draw(st.integers(1, 12)),
            "size": size,
            "pool": pool,
        }
        t_range = 9 * params["n_in"] + 2
    else:
        params = {
            "n_in": draw(st.integers(1, 200)),
            "n_out": draw(st.integers(1, 20)),
            "last": draw(st.integers(0, 1)),
        }
        t_range = params["n_in"] + 2
    n = draw(st.integers(1, 3))
    in_bytes, _ = bnn.port_bytes(core, params)
    inputs = {}
    for name, size in in_bytes.items():
        rows = n if draw(st.booleans()) else 1
        if name == "t":
            # thresholds near the sums' range; any (k, h) for the last layer
            bound = 2**15 - 1 if params.get("last") else t_range
            values = rng.integers(-bound, bound + 1, size=(rows, size // 2))
            inputs[name] = values.astype("<i2").view(np.uint8)
        else:
            inputs[name] = rng.integers(0, 256, size=(rows, size), dtype=np.uint8)
    return params, inputs


@pytest.mark.parametrize("core", ["FP_CONV", "BIN_CONV", "BIN_FC"])
@settings(max_examples=40, deadline=None)
@given(case=st.data())
def test_random_shapes_match_reference(core, case):
    params, inputs = case.draw(invocation(core))
    fast = bnn.MODELS[core](params, inputs)["y"]
    expected = ref.MODELS[core](params, inputs)["y"]
    n = max(a.shape[0] for a in inputs.values())
    assert fast.dtype == np.uint8 and fast.shape == (n, bnn.port_bytes(core, params)[1]["y"])
    assert np.array_equal(fast, expected)


# ---------------------------------------------------------------- batching


LAYER_CASES = {
    "FP_CONV": {"n_out": 5},
    "BIN_CONV": {"n_in": 67, "n_out": 9, "size": 6, "pool": 1},
    "BIN_FC": {"n_in": 130, "n_out": 11, "last": 0},
}


def random_inputs(core, n, seed):
    rng = np.random.default_rng(seed)
    in_bytes, _ = bnn.port_bytes(core, LAYER_CASES[core])
    inputs = {
        name: rng.integers(0, 256, size=(n, size), dtype=np.uint8)
        for name, size in in_bytes.items()
    }
    inputs["t"] = rng.integers(-20, 21, size=(n, in_bytes["t"] // 2)).astype("<i2").view(np.uint8)
    return inputs


@pytest.mark.parametrize("core", sorted(LAYER_CASES))
def test_batch_equals_separate_calls(core):
    params = LAYER_CASES[core]
    model = bnn.MODELS[core]
    inputs = random_inputs(core, 37, seed=1)  # more than one internal batch
    whole = model(params, inputs)["y"]
    for i in range(37):
        one = model(params, {k: v[i : i + 1] for k, v in inputs.items()})["y"]
        assert np.array_equal(whole[i : i + 1], one)


@pytest.mark.parametrize("core", sorted(LAYER_CASES))
def test_shared_ports_broadcast(core):
    params = LAYER_CASES[core]
    model = bnn.MODELS[core]
    inputs = random_inputs(core, 4, seed=2)
    for shared in (("w", "t"), ("x",), ("x", "t"), ("w",)):
        narrow = {k: (v[:1] if k in shared else v) for k, v in inputs.items()}
        wide = {k: (np.repeat(v[:1], 4, axis=0) if k in shared else v) for k, v in inputs.items()}
        assert np.array_equal(model(params, narrow)["y"], model(params, wide)["y"])
    all_shared = model(params, {k: v[:1] for k, v in inputs.items()})["y"]
    assert all_shared.shape[0] == 1


@pytest.mark.parametrize("core", sorted(LAYER_CASES))
def test_no_invocations_give_empty_outputs(core):
    inputs = {k: v[:0] for k, v in random_inputs(core, 1, seed=4).items()}
    y = bnn.MODELS[core](LAYER_CASES[core], inputs)["y"]
    assert y.shape == (0, bnn.port_bytes(core, LAYER_CASES[core])[1]["y"])


def test_last_fc_is_int32_little_endian():
    params = {"n_in": 64, "n_out": 3, "last": 1}
    x = word_row(0)
    w = word_row(0, (1 << 64) - 1, (1 << 32) - 1)  # sums 64, −64, 0
    y = bnn.bin_fc(params, ports(x=x, w=w, t=i16_row(3, -1, 2, 7, -5, 4)))["y"]
    assert y.shape == (1, 12)
    assert y.view("<i4").tolist() == [[64 * 3 - 1, -64 * 2 + 7, 4]]


# ---------------------------------------------------------------- errors


def test_port_bytes_of_the_network_layers():
    assert bnn.port_bytes("FP_CONV", {"n_out": 128}) == (
        {"x": 3072, "w": 432, "t": 256},
        {"y": 16384},
    )
    assert bnn.port_bytes("BIN_CONV", {"n_in": 512, "n_out": 512, "size": 8, "pool": 1}) == (
        {"x": 4096, "w": 294912, "t": 1024},
        {"y": 1024},
    )
    assert bnn.port_bytes("BIN_FC", {"n_in": 1024, "n_out": 10, "last": 1}) == (
        {"x": 128, "w": 1280, "t": 40},
        {"y": 40},
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda i: {**i, "x": i["x"][:, :-8]}, "bytes per invocation"),
        (lambda i: {**i, "w": np.zeros((1, 8), np.uint8)}, "bytes per invocation"),
        (lambda i: {**i, "t": i["t"].view(np.int16)}, "uint8"),
        (lambda i: {**i, "x": i["x"][0]}, "uint8 array of shape"),
        (lambda i: {**i, "x": i["x"].tolist()}, "uint8 array of shape"),
        (lambda i: {k: v for k, v in i.items() if k != "t"}, "missing"),
        (lambda i: {**i, "z": i["x"]}, "unknown"),
        (lambda i: {**i, "x": np.repeat(i["x"], 3, axis=0)}, "rows"),
    ],
)
def test_wrong_inputs_raise_value_error(change, message):
    inputs = random_inputs("BIN_CONV", 2, seed=3)
    with pytest.raises(ValueError, match=message):
        bnn.bin_conv(LAYER_CASES["BIN_CONV"], change(inputs))


@pytest.mark.parametrize(
    "core, params",
    [
        ("BIN_CONV", {"n_in": 4, "n_out": 4, "size": 5, "pool": 1}),
        ("BIN_CONV", {"n_in": 4, "n_out": 4, "size": 4}),
        ("BIN_FC", {"n_in": 0, "n_out": 4, "last": 0}),
        ("BIN_FC", {"n_in": 4, "n_out": 4, "last": 2}),
        ("FP_CONV", {"n_out": "8"}),
        ("CONV", {"n_out": 8}),
    ],
)
def test_wrong_params_raise_value_error(core, params):
    with pytest.raises(ValueError):
        bnn.port_bytes(core, params)
