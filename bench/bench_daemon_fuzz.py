"""The board daemon's message handling under libFuzzer (issue 14): executions and
crashes of `make -C firmware fuzz-daemon` (daemon/fuzz.c: sessions of requests,
ASan and UBSan, seeded with the sessions of tests/daemon), for --seconds on --jobs
processes. Target: 10 million executions, 0 crashes.

    .venv/bin/python bench/bench_daemon_fuzz.py [--seconds S] [--jobs J]

Prints one JSON object: executions, crashes, seconds, jobs, executions per second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_firmware import ROOT, fuzz  # noqa: E402  (one parser of libFuzzer's output)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=420, help="fuzzing time (default 420)")
    ap.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="fuzzing processes (default: cores)"
    )
    args = ap.parse_args()
    subprocess.run(["make", "-C", str(ROOT), "firmware"], check=True, capture_output=True)
    r = fuzz(args.seconds, args.jobs, "fuzz-daemon")
    print(
        json.dumps(
            {
                "executions": r["fuzz_executions"],
                "crashes": r["fuzz_crashes"],
                "seconds": args.seconds,
                "jobs": args.jobs,
                "per_s": r["fuzz_executions"] / args.seconds,
            }
        )
    )


if __name__ == "__main__":
    main()
