"""`acic schedule`: the report, its JSON and the Gantt chart."""

import json
from pathlib import Path

from aci.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_schedule_json_and_gantt(tmp_path, capsys):
    png = tmp_path / "g.png"
    assert (
        main(
            [
                "schedule",
                str(ROOT / "programs/bnn_pr.aci"),
                "-D",
                "IMAGES=16",
                "-D",
                "BATCH=8",
                "--mode",
                "dataflow",
                "--json",
                "--gantt",
                str(png),
            ]
        )
        == 0
    )
    r = json.loads(capsys.readouterr().out)
    # software pipelining groups the two batches: each slot takes each core once
    assert r["pr_count"] == 12 and r["tasks"] == 16 * 9 and r["total_ns"] > 0
    # each window once: its threads loop over the group's two batches
    assert len(r["slots"]) == 4 and len(r["windows"]) == 3
    assert [w["tasks"] for w in r["windows"]] == [16, 80, 48]
    lb = r["lower_bound"]
    assert lb["bound_ns"] <= lb["mapping"]["bound_ns"] <= r["t_end"] - r["t0"]
    assert r["critical_path"]["operations"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_schedule_text(capsys):
    assert main(["schedule", str(ROOT / "programs/examples/pipeline.aci")]) == 0
    out = capsys.readouterr().out
    assert "mode strict: total" in out and "lower bound" in out and "critical path" in out
    assert "window @0x" in out and "thread @0x" in out
