"""``acic import`` end to end: files written, the program it writes compiles and runs
to the float network's scores; refusals exit 1 and write nothing; bad flags exit 2."""

from __future__ import annotations

import json

import numpy as np

from aci.cli import main
from aci.resources import library_dir

from . import reference as ref
from .helpers import binarynet_arrays, pixels, write_bnnfpga, write_inputs


def test_import_writes_files_and_a_program_that_runs(tmp_path, capsys):
    rng = np.random.Generator(np.random.PCG64(11))
    arrays = binarynet_arrays(rng)
    np.savez(tmp_path / "m.npz", *arrays)
    pix, x = pixels(rng, 4)
    np.save(tmp_path / "pix.npy", pix)
    out = tmp_path / "out"
    assert (
        main(
            [
                "import",
                "binarynet",
                str(tmp_path / "m.npz"),
                "-o",
                str(out),
                "--program",
                "net",
                "--inputs",
                str(tmp_path / "pix.npy"),
                "--batch",
                "2",
            ]
        )
        == 0
    )
    manifest = json.loads((out / "import.json").read_text())
    assert manifest["layers"][1] == {
        "core": "BIN_CONV",
        "n_in": 4,
        "n_out": 8,
        "size": 32,
        "pool": 1,
    }
    assert manifest["files"] == [f"{k}{i}.npy" for i in range(6) for k in "wt"] + [
        "images.npy",
        "net.aci",
        "import.json",
    ]
    assert np.array_equal(np.load(out / "images.npy"), x)
    text = (out / "net.aci").read_text()
    assert "const IMAGES = 4" in text and "const BATCH = 2" in text
    sets = [
        a
        for name in ["images"] + [f"{k}{i}" for i in range(6) for k in "wt"]
        for a in ("--set", f"{name}={out / name}.npy")
    ]
    capsys.readouterr()
    assert main(["run", str(out / "net.aci"), *sets, "--get", f"scores={tmp_path / 's.npy'}"]) == 0
    want = ref.binarynet_scores([a.astype(np.float64) for a in arrays], {1, 2, 3}, pix)
    assert np.array_equal(np.load(tmp_path / "s.npy"), want * 2 ** manifest["score_bits"])


def test_refusal_exits_1_and_writes_nothing(tmp_path, capsys):
    rng = np.random.Generator(np.random.PCG64(12))
    np.savez(tmp_path / "m.npz", *binarynet_arrays(rng))
    pix, _ = pixels(rng, 2)
    pix[0, 0, 0, 0] = 1.5
    np.save(tmp_path / "pix.npy", pix)
    out = tmp_path / "out"
    assert (
        main(
            [
                "import",
                "binarynet",
                str(tmp_path / "m.npz"),
                "-o",
                str(out),
                "--inputs",
                str(tmp_path / "pix.npy"),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert (
        "pix.npy: image: pixel [0, 0, 0, 0] = 1.5 is not x / 2^7" in err and "Traceback" not in err
    )
    assert not out.exists()
    assert main(["import", "binarynet", str(tmp_path / "missing.npz"), "-o", str(out)]) == 1
    assert "not a readable .npz file" in capsys.readouterr().err


def test_usage_errors_exit_2(tmp_path, capsys):
    for argv in (
        ["import", "binarynet", "m.npz"],
        ["import", "binarynet", "m.npz", "-o", "d", "--pool", "1,x"],
        ["import", "binarynet", "m.npz", "-o", "d", "--batch", "4"],
        ["import", "bnn-fpga", "p.zip", "-o", "d", "--pool", "1"],
        [
            "import",
            "bnn-fpga",
            "p.zip",
            "-o",
            "d",
            "--program",
            "p",
            "--images",
            "10",
            "--batch",
            "4",
        ],
        ["import", "onnx-like", "m", "-o", "d"],
    ):
        assert main(argv) == 2, argv
        assert "usage:" in capsys.readouterr().err


def test_bnnfpga_archives_through_the_command_line(tmp_path, capsys):
    rng = np.random.Generator(np.random.PCG64(13))
    write_bnnfpga(tmp_path / "p.zip", rng)
    pix, x = pixels(rng, 5)
    write_inputs(tmp_path / "in.zip", pix)
    out = tmp_path / "out"
    assert (
        main(
            [
                "import",
                "bnn-fpga",
                str(tmp_path / "p.zip"),
                "-o",
                str(out),
                "--inputs",
                str(tmp_path / "in.zip"),
                "--count",
                "4",
                "--program",
                "net",
                "--target",
                str(library_dir() / "targets" / "zcu102.aci"),
            ]
        )
        == 0
    )
    assert "run: acic run" in capsys.readouterr().out
    assert np.array_equal(np.load(out / "images.npy"), x[:4])
    text = (out / "net.aci").read_text()
    assert (
        "const IMAGES = 4" in text and "const BATCH = 4" in text and "program net on zcu102" in text
    )
    sets = [a for p in sorted(out.glob("*.npy")) for a in ("--set", f"{p.stem}={p}")]
    assert (
        main(
            [
                "run",
                str(out / "net.aci"),
                "--engine",
                "firmware",
                *sets,
                "--get",
                f"scores={tmp_path / 's.npy'}",
            ]
        )
        == 0
    )
    want = ref.bnnfpga_scores(tmp_path / "p.zip", pix[:4])
    assert np.array_equal(np.load(tmp_path / "s.npy"), want * 2**4)
