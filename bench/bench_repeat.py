"""REPEAT on the board against batches issued one by one by the host.

For programs/bnn_pr.aci at a few batch sizes B and in both modes, 10,000 images
(``n = ceil(10000 / B)`` batches, ``n * B`` images) are run two ways:

* **REPEAT**: one image, ``-D IMAGES=n*B -D BATCH=B``: the board repeats the three
  windows ``n`` times; it is sent once (link latency and transfer once) and the host
  hears of completion once.
* **host-issued**: one image per batch, ``-D IMAGES=B -D BATCH=B``, simulated once
  and multiplied by ``n``: each batch pays the link latency and the transfer of its
  image before it starts, and the completion latency before the host can send the
  next. What differs besides: the board cannot start a batch's reconfigurations
  before the previous batch has finished (in dataflow mode REPEAT overlaps them with
  its tail), and the host sends ``n`` times the bytes. Not counted on either side:
  writing the input images into board memory (the same for both) and host-side
  compilation (the host compiles its one-batch image once; its buffer addresses are
  the same for every batch).

The REPEAT image is also compiled for three times the batches, to show that its size
does not grow with the number of images.

Prints one JSON object: per (B, mode) the image sizes, bytes sent, simulated times
(total, and the part spent on the link), and ``host_over_repeat``, the ratio of the
two totals measured in one run.

    .venv/bin/python bench/bench_repeat.py [--batches 1,5,25,100,300]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci.decode import decode  # noqa: E402
from aci.machine import simulate  # noqa: E402
from aci.pipeline import compile_file  # noqa: E402

BATCHES = [1, 5, 25, 100, 300]
PROGRAM = ROOT / "programs/bnn_pr.aci"


def simulate_total(images: int, batch: int, mode: str) -> dict:
    """Compile bnn_pr.aci for IMAGES/BATCH and simulate: bytes, t0, host-seen total."""
    c = compile_file(str(PROGRAM), {"IMAGES": str(images), "BATCH": str(batch)}, mode=mode)
    img = decode(c.data)
    tl = simulate(img, len(c.data), mode)
    latency = img.target.timing.link_latency_ns
    return {
        "image_bytes": len(c.data),
        "t0_ns": tl.t0,
        "total_ns": tl.t_end + latency,
        "link_ns": tl.t0 + latency,
        "prs": tl.prs,
    }


def image_bytes(images: int, batch: int, mode: str) -> int:
    c = compile_file(str(PROGRAM), {"IMAGES": str(images), "BATCH": str(batch)}, mode=mode)
    return len(c.data)


def one(args) -> dict:
    batch, mode = args
    n = math.ceil(10_000 / batch)
    rep = simulate_total(n * batch, batch, mode)
    per = simulate_total(batch, batch, mode)
    rep["image_bytes_3x"] = image_bytes(3 * n * batch, batch, mode)
    host_total = n * per["total_ns"]
    return {
        "batch": batch,
        "mode": mode,
        "batches": n,
        "images": n * batch,
        "repeat": {
            "image_bytes": rep["image_bytes"],
            "image_bytes_3x": rep["image_bytes_3x"],
            "bytes_sent": rep["image_bytes"],
            "total_ns": rep["total_ns"],
            "link_ns": rep["link_ns"],
            "prs": rep["prs"],
            "s_per_10000": rep["total_ns"] * 1e-5 / (n * batch),
        },
        "host": {
            "image_bytes": per["image_bytes"],
            "bytes_sent": n * per["image_bytes"],
            "total_ns": host_total,
            "link_ns": n * per["link_ns"],
            "prs": n * per["prs"],
            "s_per_10000": host_total * 1e-5 / (n * batch),
        },
        "host_over_repeat": host_total / rep["total_ns"],
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    work = [(int(b), m) for b in args.batches.split(",") for m in ("strict", "dataflow")]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one, work))
    print(json.dumps({"program": "bnn_pr.aci", "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
