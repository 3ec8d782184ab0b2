"""bnn-fpga and BinaryNet imports against the plain float formulation (reference.py),
on random parameters with the edge cases: k = 0 (either sign of h), k < 0 (the
comparison flips), gamma < 0, a sum landing exactly on the threshold; and the
values the cores cannot hold, refused by name."""

from __future__ import annotations

import zipfile
from fractions import Fraction

import numpy as np
import pytest

from aci.engine import open_engine, run_on
from aci.imports import binarynet, bnnfpga
from aci.imports.network import ModelError, program_text, threshold
from aci.pipeline import compile_file

from . import reference as ref
from .helpers import binarynet_arrays, pixels, run_network, write_bnnfpga, write_inputs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bnnfpga_import_equals_the_float_network(tmp_path, seed):
    rng = np.random.Generator(np.random.PCG64(seed))
    write_bnnfpga(tmp_path / "p.zip", rng)
    pix, x = pixels(rng, 3)
    write_inputs(tmp_path / "in.zip", pix)
    net = bnnfpga.read_params(str(tmp_path / "p.zip"))
    images = bnnfpga.read_images(str(tmp_path / "in.zip"))
    assert np.array_equal(images, x)
    scores = run_network(net, images)
    want = ref.bnnfpga_scores(tmp_path / "p.zip", pix)
    assert np.array_equal(scores, want * 2**net.score_bits)
    assert net.score_bits == 4
    # the random parameters reach every case: constant, flipped and plain outputs
    with zipfile.ZipFile(tmp_path / "p.zip") as z:
        k = np.concatenate(
            [np.frombuffer(z.read(f"arr_{3 * layer + 1}"), "<f4") for layer in range(8)]
        )
    assert (k == 0).any() and (k < 0).any() and (k > 0).any()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_binarynet_import_equals_the_float_network(tmp_path, seed):
    rng = np.random.Generator(np.random.PCG64(seed))
    arrays = binarynet_arrays(rng)
    np.savez(tmp_path / "m.npz", *arrays)
    pix, x = pixels(rng, 3)
    net = binarynet.read(str(tmp_path / "m.npz"))  # pools inferred: after every binary conv
    assert [layer.params.get("pool") for layer in net.layers[1:4]] == [1, 1, 1]
    scores = run_network(net, x)
    want = ref.binarynet_scores([a.astype(np.float64) for a in arrays], {1, 2, 3}, pix)
    assert np.array_equal(scores, want * 2**net.score_bits)
    assert (arrays[6 * 4 + 3] < 0).any()  # gamma < 0 on the dense layer


def test_binarynet_pool_placement_given(tmp_path):
    rng = np.random.Generator(np.random.PCG64(7))
    arrays = binarynet_arrays(rng, channels=(4, 8, 8, 8), pooled=(1, 3), dense=(10,))
    arrays = arrays[:-6] + binarynet_arrays(rng, channels=(4,), pooled=(), dense=(10,))[-6:]
    # the dense layer of 8·8·8 inputs
    arrays[-6] = rng.normal(0, 1, (8 * 8 * 8, 10)).astype(np.float32)
    np.savez(tmp_path / "m.npz", *arrays)
    with pytest.raises(ModelError, match="--pool"):
        binarynet.read(str(tmp_path / "m.npz"))
    pix, x = pixels(rng, 2)
    net = binarynet.read(str(tmp_path / "m.npz"), pool=[1, 3])
    want = ref.binarynet_scores([a.astype(np.float64) for a in arrays], {1, 3}, pix)
    assert np.array_equal(run_network(net, x), want * 2**net.score_bits)


def test_pooled_gamma_below_zero_is_refused_by_name(tmp_path):
    rng = np.random.Generator(np.random.PCG64(4))
    arrays = binarynet_arrays(rng, flip_pooled=True)
    arrays[6 * 1 + 3][:] = np.abs(arrays[6 * 1 + 3])
    arrays[6 * 1 + 3][5] = -0.5
    np.savez(tmp_path / "m.npz", *arrays)
    with pytest.raises(ModelError, match=r"layer 1 .*output 5: k = -.* max-pool comes before"):
        binarynet.read(str(tmp_path / "m.npz"))


def test_threshold_rule_on_every_sum():
    """The folding rule against its definition, over every sum of a small range."""
    rng = np.random.Generator(np.random.PCG64(5))
    for _ in range(300):
        k = Fraction(int(rng.integers(-40, 41)), 8)
        h = Fraction(int(rng.integers(-400, 401)), 8)
        t, flip = threshold(k, h, 20, "x")
        assert -20 <= t <= 21
        for s in range(-20, 21):
            assert (s * k + h >= 0) == ((-s if flip else s) >= t)


def test_values_the_cores_cannot_hold_are_refused(tmp_path):
    rng = np.random.Generator(np.random.PCG64(6))
    arrays = write_bnnfpga(tmp_path / "p.zip", rng)
    # a last-layer h that needs more than 16 bits at k's scale
    arrays[26][3] = np.float32(1 / 3)
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as z:
        for i, a in enumerate(arrays):
            z.writestr(f"arr_{i}", a.astype("<f4").tobytes())
    with pytest.raises(
        ModelError,
        match=r"layer 8 .*h\[3\] = 0.333.* needs them scaled by 2\^25, and then .* outside the cores. i16 range",
    ):
        bnnfpga.read_params(str(tmp_path / "bad.zip"))
    # a pixel off the i8 / 128 grid
    pix, _ = pixels(rng, 2)
    pix[1, 2, 3, 4] = 0.3
    write_inputs(tmp_path / "in.zip", pix)
    with pytest.raises(
        ModelError,
        match=r"pixel \[1, 2, 3, 4\] = 0.30000001192092896 \(bnn-fpga.s ap_fixed<20,2> makes it 0.29999923.*\) is not x / 2\^7",
    ):
        bnnfpga.read_images(str(tmp_path / "in.zip"))
    # a pixel bnn-fpga's own 2^-18 rounding puts on the grid is taken as bnn-fpga sees it
    pix[1, 2, 3, 4] = 0.25 + 2.0**-20
    write_inputs(tmp_path / "in.zip", pix)
    assert bnnfpga.read_images(str(tmp_path / "in.zip"))[1, 2, 3, 4] == 32
    # a NaN weight
    arrays[3][0, 0, 0, 0] = np.nan
    with zipfile.ZipFile(tmp_path / "nan.zip", "w") as z:
        for i, a in enumerate(arrays):
            z.writestr(f"arr_{i}", a.astype("<f4").tobytes())
    with pytest.raises(ModelError, match=r"arr_3\[0\] is nan"):
        bnnfpga.read_params(str(tmp_path / "nan.zip"))


def test_archive_shape_errors_name_the_layer(tmp_path):
    rng = np.random.Generator(np.random.PCG64(8))
    arrays = write_bnnfpga(tmp_path / "p.zip", rng)
    with zipfile.ZipFile(tmp_path / "short.zip", "w") as z:
        for i, a in enumerate(arrays[:-1]):
            z.writestr(f"arr_{i}", a.tobytes())
    with pytest.raises(ModelError, match="missing arr_26"):
        bnnfpga.read_params(str(tmp_path / "short.zip"))
    arrays[9] = arrays[9][:-1]
    with zipfile.ZipFile(tmp_path / "shape.zip", "w") as z:
        for i, a in enumerate(arrays):
            z.writestr(f"arr_{i}", a.tobytes())
    with pytest.raises(ModelError, match=r"layer 3 \(arr_9..arr_11\): weights hold 504 values"):
        bnnfpga.read_params(str(tmp_path / "shape.zip"))
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a readable zip"):
        bnnfpga.read_params(str(tmp_path / "junk.zip"))


def test_cifar_sized_archive_through_its_generated_program(tmp_path):
    """bnn-fpga's own network shape (128 .. 512 channels, 8192 -> 1024 -> 1024 -> 10):
    the generated program compiles and its run equals the float network."""
    rng = np.random.Generator(np.random.PCG64(3))
    write_bnnfpga(
        tmp_path / "p.zip", rng, channels=(128, 128, 256, 256, 512, 512), dense=(1024, 1024, 10)
    )
    pix, x = pixels(rng, 1)
    net = bnnfpga.read_params(str(tmp_path / "p.zip"))
    (tmp_path / "cifar.aci").write_text(program_text(net, "cifar", str(tmp_path)))
    data = compile_file(str(tmp_path / "cifar.aci")).data
    engine = open_engine("python")
    r = run_on(engine, data, inputs={**net.buffers(), "images": x}, outputs=["scores"])
    assert r.ok, r.error
    assert np.array_equal(
        engine.get("scores"), ref.bnnfpga_scores(tmp_path / "p.zip", pix) * 2**net.score_bits
    )


@pytest.mark.parametrize("fmt", ["bnn-fpga", "binarynet"])
def test_damaged_files_are_refused_as_input_errors(tmp_path, fmt):
    """Flipped bytes and truncations of a good file: a ModelError (exit 1), never
    another exception (exit 3)."""
    rng = np.random.Generator(np.random.PCG64(9))
    if fmt == "bnn-fpga":
        write_bnnfpga(tmp_path / "good", rng)
        read = bnnfpga.read_params
    else:
        np.savez_compressed(tmp_path / "good.npz", *binarynet_arrays(rng))
        (tmp_path / "good.npz").rename(tmp_path / "good")
        read = binarynet.read
    good = (tmp_path / "good").read_bytes()
    for i in range(150):
        bad = bytearray(good)
        for at in rng.integers(0, len(bad), int(rng.integers(1, 8))):
            bad[at] = int(rng.integers(0, 256))
        if i % 5 == 0:
            bad = bad[: int(rng.integers(0, len(bad)))]
        (tmp_path / "bad").write_bytes(bytes(bad))
        try:
            read(str(tmp_path / "bad"))
        except ModelError:
            pass
