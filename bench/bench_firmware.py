"""The C firmware's cost (issue 6): instructions the core executes, and the speed of
the simulated board's BNN models.

* instructions per executed TASK: callgrind on firmware/build/acifw-null (the core on
  a HAL that does nothing, no trace), counting only inside aci_run, divided by the
  tasks the run executed (its PRs, windows and waits included). Target: <= 200.
* instructions per validated image byte: the same, inside aci_validate, divided by
  the image's bytes (CRC included). Target: <= 20.
* instructions per prepared image byte: inside aci_prepare (pre-decoding, once per
  image, whatever the runs), divided by the image's bytes; and, for the synthetic
  image (4,000 distinct tasks, each run only 4 times), what one run costs per task
  with its preparation included.
* C BNN images/s: acifw-sim running the whole network functionally (bnn_static,
  generated data, one core), wall clock of the process including start-up and
  loading the inputs. Target: >= 168.
* fuzzing: `make -C firmware fuzz` for --fuzz-seconds on --fuzz-jobs processes;
  executions and crashes (a crashing input lands in tests/regression/). Target:
  10 million executions without a crash. --fuzz-seconds 0 skips it.

Prints one JSON object.

    .venv/bin/python bench/bench_firmware.py [--images N] [--fuzz-seconds S] [--fuzz-jobs J]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aci.cores import bnndata  # noqa: E402 (after sys.path.insert)
from aci.encode import encode  # noqa: E402 (after sys.path.insert)
from aci.image import (  # noqa: E402 (after sys.path.insert)
    BufferSymbol,
    CoreInfo,
    Image,
    Loop,
    MemoryInfo,
    Parsec,
    Port,
    Reconf,
    Source,
    Symbols,
    TargetInfo,
    Task,
    Thread,
    Window,
)
from aci.pipeline import compile_file  # noqa: E402 (after sys.path.insert)
from aci.timing import Timing  # noqa: E402 (after sys.path.insert)

BUILD = ROOT / "firmware" / "build"
NULL, SIM = BUILD / "acifw-null", BUILD / "acifw-sim"
RUNS = [("bnn_pr", {"IMAGES": "10000", "BATCH": "100"}), ("bnn_static", {"IMAGES": "10000"})]


def callgrind(function: str, *args) -> tuple[int, dict]:
    """Instructions executed inside `function` (callees included), and acifw-null's JSON."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "cg.out"
        p = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                f"--toggle-collect={function}",
                str(NULL),
                *map(str, args),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        instructions = int(re.search(r"Collected : (\d+)", p.stderr).group(1))
    return instructions, json.loads(p.stdout)


def synthetic(tasks: int) -> bytes:
    """A large image: `tasks` TEST tasks with source lines, four per loop body."""
    timing = Timing(
        357_000_000, 50_000, 1_200_000_000, 150_000_000, 2_000, 10, 10_000_000_000, 20_000, 0
    )
    test = CoreInfo(200, "TEST", ("in", "out"), 2, 4096, 0xF_0000)
    body = []
    for k in range(tasks // 4):
        ts = tuple(
            Task(
                k % 4,
                200,
                (Port(0x1000 + 64 * j, 64, (64,)), Port(0x9000 + 64 * j, 64, (64,))),
                0,
                2,
                100,
                (),
                Source(0, k + 1),
            )
            for j in range(4)
        )
        body.append(Loop(4, ts, Source(0, k + 1)))
    threads = tuple(Thread(tuple(b for k, b in enumerate(body) if k % 4 == s)) for s in range(4))
    win = Window(tuple(Reconf(s, 200) for s in range(4)), (Parsec(threads),))
    img = Image(
        TargetInfo(4, timing, (MemoryInfo("ddr", 0, 1 << 20),)),
        (test,),
        (64, 1),
        (win,),
        True,
        Symbols((BufferSymbol("mem", "u8", "scratch", (65536,), 0, 0, 65536),), ("synthetic.aci",)),
    )
    return encode(img)


def bnn_images_per_s(images: int) -> float:
    data = bnndata.generate(1, images)
    expect = bnndata.forward(data)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        image = compile_file(
            str(ROOT / "programs" / "bnn_static.aci"), {"IMAGES": str(images)}
        ).data
        (d / "bnn.acx").write_bytes(image)
        args = [str(SIM), str(d / "bnn.acx"), "--get", f"scores={d / 'scores'}"]
        for name, value in data.items():
            (d / name).write_bytes(np.ascontiguousarray(value).tobytes())
            args += ["--set", f"{name}={d / name}"]
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        elapsed = time.perf_counter() - start
        scores = np.frombuffer((d / "scores").read_bytes(), "<i4").reshape(-1, 10)
        assert (scores == expect).all(), "the C models disagree with the reference"
    return images / elapsed


def fuzz(seconds: int, jobs: int, target: str = "fuzz") -> dict:
    """`make -C firmware TARGET` (fuzz: the firmware; fuzz-daemon: the board daemon)."""
    p = subprocess.run(
        [
            "make",
            "-C",
            str(ROOT / "firmware"),
            target,
            f"FUZZ_SECONDS={seconds}",
            f"FUZZ_JOBS={jobs}",
        ],
        capture_output=True,
        text=True,
    )
    text = p.stdout + p.stderr
    single = re.findall(r"stat::number_of_executed_units: (\d+)", text)
    forked = re.findall(r"^#(\d+): cov", text, re.M)
    executions = int(single[-1]) if single else int(forked[-1]) if forked else 0
    crashes = len(
        re.findall(
            r"deadly signal|ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)", text
        )
    )
    return {
        "fuzz_executions": executions,
        "fuzz_crashes": crashes if p.returncode == 0 else max(crashes, 1),
        "fuzz_seconds": seconds,
        "fuzz_jobs": jobs,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--images", type=int, default=500, help="images for the BNN speed run (default 500)"
    )
    ap.add_argument(
        "--fuzz-seconds", type=int, default=1200, help="fuzzing time (default 1200; 0: none)"
    )
    ap.add_argument(
        "--fuzz-jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="fuzzing processes (default: cores)",
    )
    args = ap.parse_args()
    subprocess.run(["make", "-C", str(ROOT / "firmware"), "-s"], check=True)
    out = {"per_task": {}, "per_byte": {}, "prepare_per_byte": {}}
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for name, defines in RUNS:
            for mode in ("strict", "dataflow"):
                path = d / f"{name}-{mode}.acx"
                path.write_bytes(
                    compile_file(str(ROOT / "programs" / f"{name}.aci"), defines, mode=mode).data
                )
                n, res = callgrind("aci_run", path, "--mode", mode)
                out["per_task"][f"{name} {mode} ({res['tasks']} tasks)"] = round(
                    n / res["tasks"], 1
                )
            n, res = callgrind("aci_validate", path, "--validate-only")
            out["per_byte"][f"{name} ({res['bytes']} bytes)"] = round(n / res["bytes"], 2)
            n, res = callgrind("aci_prepare", path)
            out["prepare_per_byte"][f"{name} ({res['bytes']} bytes)"] = round(n / res["bytes"], 2)
        big = d / "synthetic.acx"
        big.write_bytes(synthetic(4000))
        n, res = callgrind("aci_validate", big, "--validate-only")
        out["per_byte"][f"synthetic, 4000 tasks with lines ({res['bytes']} bytes)"] = round(
            n / res["bytes"], 2
        )
        run, res = callgrind("aci_run", big)
        out["per_task"][f"synthetic dataflow ({res['tasks']} tasks)"] = round(run / res["tasks"], 1)
        prep, res = callgrind("aci_prepare", big)
        out["prepare_per_byte"][f"synthetic ({res['bytes']} bytes)"] = round(prep / res["bytes"], 2)
        out["synthetic_one_run_per_task"] = round((prep + run) / res["tasks"], 1)
    out["bnn_images_per_s"] = round(bnn_images_per_s(args.images), 1)
    if args.fuzz_seconds:
        out.update(fuzz(args.fuzz_seconds, args.fuzz_jobs))
    out["targets"] = {"per_task": 200, "per_byte": 20, "bnn_images_per_s": 168}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
