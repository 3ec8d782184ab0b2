"""The handwritten digits of scikit-learn (1,797 8x8 images, shipped with the package)
as the first BNN core's input, and the small binarized network ``make model``
trains on them (``models/train_digits.py``; parameters in ``models/digits.npz``,
BinaryNet format).

* An image's 0..16 grey levels ``v`` become the i8 pixels ``x = 15·v − 120``
  (−120..120), each 8x8 pixel repeated as a 4x4 block to fill 32x32, in all three
  channels; the float network sees ``x / 128``.
* The split is fixed: a permutation drawn from seed 0, the first 360 images
  held out for testing, the other 1,437 for training.
* The network (``LAYERS``): FP_CONV to 16 maps; three BIN_CONV, each with a
  2x2 max-pool (32 -> 16 -> 8 -> 4); a 512 -> 64 BIN_FC; the 64 -> 10 last BIN_FC.

:func:`float_scores` is the float network the parameters were trained as:
BinaryNet's layers (flipped 3x3 convolutions, max-pool, batch norm, sign)
evaluated in float64 on the file's arrays; ``acic import``'s integer network
must give the same scores times ``2**score_bits``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
MODEL = ROOT / "models" / "digits.npz"
HELD_OUT = 360
FP_SIZE = 32
INPUT_BITS = 7
# (kind, n_out, pooled) per layer; the first takes the 3x32x32 image.
LAYERS = (
    ("conv", 16, False),
    ("conv", 32, True),
    ("conv", 32, True),
    ("conv", 32, True),
    ("dense", 64, False),
    ("dense", 10, False),
)
POOL = tuple(i for i, (_, _, pooled) in enumerate(LAYERS) if pooled)


def dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train images, train labels, test images, test labels)``; images int8 (N, 3, 32, 32)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        from ..diagnostics import AciError

        raise AciError("the digits need scikit-learn: pip install -e '.[import]'") from None
    d = load_digits()
    x = (15 * d.images.astype(np.int64) - 120).astype(np.int8)  # (N, 8, 8)
    x = np.repeat(np.repeat(x, 4, axis=1), 4, axis=2)  # (N, 32, 32)
    x = np.repeat(x[:, None], 3, axis=1)  # (N, 3, 32, 32)
    y = d.target.astype(np.int64)
    order = np.random.Generator(np.random.PCG64(0)).permutation(len(y))
    test, train = order[:HELD_OUT], order[HELD_OUT:]
    return x[train], y[train], x[test], y[test]


# ---------------------------------------------------------------- float network


def im2col(x: np.ndarray) -> np.ndarray:
    """(B, C, H, W) -> (B·H·W, C·9): the 3x3 windows with zero padding, columns in
    (channel, dy, dx) order."""
    b, c, hgt, wid = x.shape
    xp = np.zeros((b, c, hgt + 2, wid + 2), x.dtype)
    xp[:, :, 1:-1, 1:-1] = x
    cols = np.stack(
        [xp[:, :, dy : dy + hgt, dx : dx + wid] for dy in range(3) for dx in range(3)], axis=2
    )
    return cols.transpose(0, 3, 4, 1, 2).reshape(b * hgt * wid, c * 9)


def conv(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Cross-correlation of (B, C, H, W) with (O, C, 3, 3), padding 1 -> (B, O, H, W)."""
    b, _, hgt, wid = x.shape
    out = im2col(x) @ v.reshape(v.shape[0], -1).T
    return out.reshape(b, hgt, wid, -1).transpose(0, 3, 1, 2)


def maxpool(x: np.ndarray) -> np.ndarray:
    return np.maximum(
        np.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2]),
        np.maximum(x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]),
    )


def sign(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, 1.0, -1.0)


def float_scores(arrays: list[np.ndarray], images: np.ndarray, pool=POOL) -> np.ndarray:
    """The scores of a BinaryNet-format network (six arrays per layer) in float64."""
    a = images.astype(np.float64) / 2**INPUT_BITS
    layers = len(arrays) // 6
    for layer in range(layers):
        w, b, beta, gamma, mean, inv_std = (
            np.asarray(x, np.float64) for x in arrays[6 * layer : 6 * layer + 6]
        )
        if w.ndim == 4:
            s = conv(a, sign(w)[:, :, ::-1, ::-1])
            if layer in pool:
                s = maxpool(s)
            shape: tuple[int, ...] = (1, -1, 1, 1)
        else:
            s = a.reshape(a.shape[0], -1) @ sign(w)
            shape = (1, -1)
        y = (s + b.reshape(shape) - mean.reshape(shape)) * (gamma * inv_std).reshape(
            shape
        ) + beta.reshape(shape)
        a = y if layer == layers - 1 else sign(y)
    return a


def load_model(path: Path = MODEL) -> list[np.ndarray]:
    from .binarynet import load_npz

    return load_npz(str(path))


# ---------------------------------------------------------------- the demo


def engines() -> tuple[str, ...]:
    """Every engine of ``acic run --engine`` (aci.engine's registry) that runs on this
    machine alone (a remote engine needs a board daemon and keys)."""
    from ..engine import ENGINES

    return tuple(name for name, e in ENGINES.items() if not e.needs_board)


def run_demo(out: Path, names: tuple[str, ...] | None = None, quiet: bool = False) -> dict:
    """The held-out digits through ``acic import`` -> ``acic compile`` -> ``acic run``
    on each engine (``names``, default every registered one). Returns {"float":
    accuracy, "score_bits": e, "images": n, engine: (accuracy, scores equal to the
    float reference's times 2^e)}."""
    import contextlib
    import io
    import json

    from ..cli import main

    out.mkdir(parents=True, exist_ok=True)
    _, _, images, labels = dataset()
    np.save(out / "heldout.npy", images.astype(np.float32) / 2**INPUT_BITS)
    sink = io.StringIO() if quiet else None

    def acic(*argv: str) -> None:
        with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
            code = main(list(argv))
        if code:
            raise RuntimeError(f"acic {' '.join(argv)} exited with {code}")

    acic(
        "import",
        "binarynet",
        str(MODEL),
        "-o",
        str(out),
        "--program",
        "digits",
        "--inputs",
        str(out / "heldout.npy"),
        "--batch",
        "40",
    )
    manifest = json.loads((out / "import.json").read_text())
    acic("compile", str(out / "digits.aci"), "--mode", "dataflow", "-o", str(out / "digits.acx"))
    reference = float_scores(load_model(), images)
    result = {
        "float": float((reference.argmax(axis=1) == labels).mean()),
        "score_bits": manifest["score_bits"],
        "images": len(labels),
    }
    sets = [
        a
        for name in manifest["files"]
        if name.endswith(".npy") and name != "heldout.npy"
        for a in ("--set", f"{name[:-4]}={out / name}")
    ]
    for engine in names or engines():
        scores_file = out / f"scores-{engine}.npy"
        acic(
            "run",
            str(out / "digits.acx"),
            "--engine",
            engine,
            *sets,
            "--get",
            f"scores={scores_file}",
        )
        scores = np.load(scores_file)
        exact = bool(np.array_equal(scores, reference * 2 ** manifest["score_bits"]))
        result[engine] = (float((scores.argmax(axis=1) == labels).mean()), exact)
    return result


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m aci.imports.digits",
        description="classify the held-out digits on the simulated board",
    )
    ap.add_argument(
        "--out",
        default="build/digits",
        help="directory for the imported files (default build/digits)",
    )
    args = ap.parse_args(argv)
    print(
        f"digits demo: {HELD_OUT} held-out handwritten digits (scikit-learn), {MODEL.name} imported "
        "with `acic import binarynet`, compiled, run on each engine"
    )
    if not MODEL.exists():
        print(
            f"the digits demo needs {MODEL} (in the repository, not in an installed wheel)",
            file=sys.stderr,
        )
        return 1
    try:
        r = run_demo(Path(args.out))
    except (RuntimeError, OSError) as e:  # a step failed (acic has said why on stderr) or --out
        print(f"digits demo: {e}", file=sys.stderr)
        return 1
    ok = True
    print(f"  float reference        accuracy {r['float']:.2%}")
    for engine in engines():
        acc, exact = r[engine]
        ok &= exact
        print(
            f"  acic, {engine:8} engine accuracy {acc:.2%}; scores "
            f"{'equal' if exact else 'DIFFER FROM'} the float reference's x 2^{r['score_bits']}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
