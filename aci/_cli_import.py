"""``acic import FORMAT MODEL -o DIR``: a trained binarized network's parameter files
in the BNN cores' ABI (and, with ``--program``, the ``.aci`` program that runs it).

FORMAT is ``bnn-fpga`` (its parameter zip), ``binarynet`` (a BinaryNet/Lasagne
``.npz``) or ``qonnx`` (an ONNX model with QONNX's quantisers). Writes into DIR:
``w0.npy`` … and ``t0.npy`` … (one per layer), ``images.npy`` with ``--inputs``,
``NAME.aci`` with ``--program NAME``, and ``import.json`` (what was written, the
layers, the two scales). Every refusal is an :class:`aci.imports.network.ModelError`
(exit 1) naming the file, the layer and the value; nothing is written then.
docs/import.md has the semantics of each format.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ._cli_args import UsageError

FORMATS = ("bnn-fpga", "binarynet", "qonnx")


def add_import_parser(subparsers) -> argparse.ArgumentParser:
    c = subparsers.add_parser(
        "import", help="a trained binarized network to the BNN cores' parameter files"
    )
    c.add_argument("format", choices=FORMATS, metavar="FORMAT", help=" | ".join(FORMATS))
    c.add_argument("model", metavar="MODEL", help="the parameter archive, .npz or .onnx file")
    c.add_argument(
        "-o", "--output", metavar="DIR", required=True, help="directory for the files (created)"
    )
    c.add_argument(
        "--inputs",
        metavar="FILE",
        help="images for the `images` buffer: bnn-fpga's test-input zip, or a .npy of "
        "float pixels (N, 3, 32, 32)",
    )
    c.add_argument("--count", type=int, metavar="N", help="only the first N images of --inputs")
    c.add_argument(
        "--program",
        metavar="NAME",
        help="also write DIR/NAME.aci, the program that runs the network",
    )
    c.add_argument(
        "--target",
        metavar="FILE.aci",
        help="the board of --program (default: programs/targets/zcu102.aci)",
    )
    c.add_argument(
        "--images",
        type=int,
        metavar="N",
        help="IMAGES of --program (default: the number of --inputs images, else 1)",
    )
    c.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="BATCH of --program (default: the largest divisor of IMAGES up to 100)",
    )
    c.add_argument(
        "--input-bits",
        type=int,
        default=7,
        metavar="E",
        help="pixels are x / 2^E for the i8 x of FP_CONV (default 7)",
    )
    c.add_argument(
        "--pool", metavar="L,L,...", help="binarynet: the layers followed by a 2x2 max-pool"
    )
    c.set_defaults(func=cmd_import)
    return c


def _read(args):
    from .imports.network import ModelError

    if args.format == "bnn-fpga":
        from .imports import bnnfpga

        return bnnfpga.read_params(args.model, args.input_bits)
    if args.format == "binarynet":
        from .imports import binarynet

        return binarynet.read(args.model, _pools(args.pool), args.input_bits)
    from .imports import qonnx as q

    try:
        return q.read(args.model, args.input_bits)
    except ImportError as e:
        raise ModelError(
            f"qonnx import needs the onnx and qonnx packages (pip install -e '.[import]'): {e}"
        ) from None


def _pools(text: str | None):
    if text is None:
        return None
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise UsageError(
            f"--pool expects layer numbers separated by commas, got `{text}`"
        ) from None


def _inputs(args, input_bits: int):
    import numpy as np

    from .imports.network import ModelError, i8_images

    if args.inputs.endswith(".npy"):
        try:
            pixels = np.load(args.inputs, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ModelError(f"{args.inputs}: not a readable .npy file: {e}") from None
        if pixels.ndim != 4 or pixels.shape[1:] != (3, 32, 32) or pixels.dtype.kind not in "fiu":
            raise ModelError(
                f"{args.inputs}: expected numbers of shape (N, 3, 32, 32), "
                f"got {pixels.dtype} {pixels.shape}"
            )
        if args.count is not None:
            if not 1 <= args.count <= len(pixels):
                raise ModelError(
                    f"{args.inputs}: holds {len(pixels)} images, {args.count} asked for"
                )
            pixels = pixels[: args.count]
        return i8_images(pixels, input_bits, f"{args.inputs}: image")
    from .imports import bnnfpga

    return bnnfpga.read_images(args.inputs, input_bits, args.count)


def _batch(images: int) -> int:
    return max(b for b in range(1, min(images, 100) + 1) if images % b == 0)


def cmd_import(args) -> int:
    from .imports.network import ModelError, program_text, write_npy

    if not 0 <= args.input_bits <= 24:
        raise UsageError(f"--input-bits is 0..24, got {args.input_bits}")
    if args.count is not None and args.inputs is None:
        raise UsageError("--count applies to --inputs")
    if args.program is not None and not args.program.isidentifier():
        raise UsageError(f"--program takes a program name (an identifier), got `{args.program}`")
    for flag in ("images", "batch", "target"):
        if getattr(args, flag) is not None and args.program is None:
            raise UsageError(f"--{flag} applies to --program")
    if args.images is not None and args.images < 1 or args.batch is not None and args.batch < 1:
        raise UsageError("--images and --batch take a positive number")
    if args.images and args.batch and args.images % args.batch:
        raise UsageError(f"--batch {args.batch} does not divide --images {args.images}")
    if args.pool is not None and args.format != "binarynet":
        raise UsageError("--pool applies to the binarynet format")
    net = _read(args)
    arrays = net.buffers()
    if args.inputs:
        arrays["images"] = _inputs(args, net.input_bits)
    text = None
    if args.program:
        images = args.images or (len(arrays["images"]) if "images" in arrays else 1)
        batch = args.batch or _batch(images)
        text = program_text(net, args.program, args.output, args.target, images, batch)
    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as e:
        raise ModelError(f"cannot create `{args.output}`: {e.strerror or e}") from None
    written = write_npy(arrays, args.output)
    from ._io import write_atomic

    if text is not None:
        path = os.path.join(args.output, f"{args.program}.aci")
        write_atomic(path, text)
        written.append(path)
    manifest = {
        "source": args.model,
        "format": args.format,
        "input_bits": net.input_bits,
        "score_bits": net.score_bits,
        "layers": [{"core": layer.core, **layer.params} for layer in net.layers],
        "files": [os.path.basename(p) for p in written] + ["import.json"],
    }
    write_atomic(os.path.join(args.output, "import.json"), json.dumps(manifest, indent=1) + "\n")
    sys.stdout.write(
        f"{args.model}: {len(net.layers)} layers -> {args.output}/ "
        f"({', '.join(layer.core for layer in net.layers)})\n"
        f"pixels are x / 2^{net.input_bits}; scores are the float scores x 2^{net.score_bits}\n"
    )
    sets = " ".join(f"--set {name}={os.path.join(args.output, name)}.npy" for name in arrays)
    if text is not None:
        images = "" if "images" in arrays else " --set images=IMAGES.npy"
        sys.stdout.write(
            f"run: acic run {os.path.join(args.output, args.program)}.aci {sets}{images} "
            f"--get scores=scores.npy\n"
        )
    return 0
