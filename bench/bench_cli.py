"""The command line's wall time, process start-up included.

Runs ``.venv/bin/acic compile programs/bnn_pr.aci -D BATCH=25 -o TMP`` three times as
a subprocess and prints one JSON object with each wall time: what a host that starts
acic for every image pays, against the in-process compile time of
bench/bench_compile.py (a host that keeps acic loaded).

    .venv/bin/python bench/bench_cli.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3


def main() -> None:
    acic = Path(sys.executable).parent / "acic"
    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.acx"
        argv = [str(acic), "compile", str(ROOT / "programs/bnn_pr.aci"), "-D", "BATCH=25", "-o", str(out)]
        for _ in range(RUNS):
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
    print(json.dumps({"command": "acic compile programs/bnn_pr.aci -D BATCH=25 -o x.acx",
                      "wall_s": [round(w, 3) for w in walls]}))


if __name__ == "__main__":
    main()
