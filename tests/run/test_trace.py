"""The canonical trace (format, fields, order) and the Perfetto and VCD views."""

from __future__ import annotations

import io
import itertools
import json

import pytest
from vcd.reader import TokenKind, tokenize

from aci import trace as T
from aci.pipeline import compile_file
from aci.run import run_image

from ..image.builder import PROGRAMS, image, parsec, task, thread, window

FIELDS = {
    "image": {"ev", "t", "bytes", "mode"},
    "pr_start": {"ev", "t", "slot", "core", "pc"},
    "pr_end": {"ev", "t", "slot", "core", "pc"},
    "task_start": {"ev", "t", "slot", "core", "pc", "ports", "params"},
    "task_end": {"ev", "t", "slot", "core", "pc"},
    "window_start": {"ev", "t", "pc"},
    "window_end": {"ev", "t", "pc"},
    "error": {"ev", "t", "code", "name", "pc"},
    "done": {"ev", "t", "tasks", "prs"},
}


def only_ints(value) -> bool:
    if isinstance(value, bool) or isinstance(value, float):
        return False
    if isinstance(value, list):
        return all(only_ints(v) for v in value)
    return isinstance(value, (int, str))


@pytest.fixture(scope="module")
def pipeline_events():
    c = compile_file(str(PROGRAMS / "examples/pipeline.aci"), mode="dataflow")
    out = io.StringIO()
    writer = T.JsonlWriter(out)
    r = run_image(c.data, trace=writer)
    return c, r, out.getvalue()


def test_lines_are_canonical(pipeline_events):
    _, _, text = pipeline_events
    lines = text.splitlines()
    assert text.endswith("\n")
    for line in lines:
        event = json.loads(line)
        assert line == json.dumps(event, sort_keys=True, separators=(",", ":"))
        assert " " not in line
        assert set(event) == FIELDS[event["ev"]]
        assert all(
            only_ints(v) for k, v in event.items() if k not in ("ev", "core", "mode", "name")
        )
    assert T.read_jsonl(text) == [json.loads(x) for x in lines]


def test_event_order(pipeline_events):
    c, r, text = pipeline_events
    events = T.read_jsonl(text)
    assert events[0]["ev"] == "image" and events[0]["t"] == r.t0 and events[0]["mode"] == "dataflow"
    assert events[-1] == {"ev": "done", "t": r.total_ns, "tasks": 8, "prs": 2}
    body = events[1:-1]
    # time order; at one instant, ends before starts
    assert [e["t"] for e in body] == sorted(e["t"] for e in body)
    for a, b in itertools.pairwise(body):
        if a["t"] == b["t"]:
            assert not (a["ev"].endswith("_start") and b["ev"].endswith("_end"))
    # dataflow has no window events; every start has its end later
    assert not any(e["ev"].startswith("window") for e in body)
    open_ = {}
    for e in body:
        key = (e["ev"].split("_")[0], e["slot"], e["pc"])
        if e["ev"].endswith("_start"):
            assert key not in open_
            open_[key] = e["t"]
        else:
            assert open_.pop(key) <= e["t"]
    assert not open_
    starts = [e for e in body if e["ev"] == "task_start"]
    stage1 = [e for e in starts if e["slot"] == 0]
    assert len(stage1) == 4 and len(starts) == 8
    # ports after strides: chunk i of the pipeline, in order on slot 0
    assert [e["ports"][0][0] for e in stage1] == [0, 65536, 131072, 196608]
    assert all(e["params"][0] == 65536 for e in starts)


def test_strict_trace_has_windows():
    c = compile_file(str(PROGRAMS / "examples/pipeline.aci"))
    events = []
    r = run_image(c.data, trace=events.append)
    kinds = [e["ev"] for e in events]
    assert kinds.count("window_start") == kinds.count("window_end") == 1
    ws, we = kinds.index("window_start"), kinds.index("window_end")
    assert ws == 1 and we == len(kinds) - 2  # the window spans every operation
    assert events[we]["t"] == r.t_end


def test_trace_is_deterministic():
    c = compile_file(str(PROGRAMS / "examples/parallel.aci"))
    runs = []
    for _ in range(2):
        out = io.StringIO()
        run_image(c.data, trace=T.JsonlWriter(out))
        runs.append(out.getvalue())
    assert runs[0] == runs[1]


def test_spans_pair_starts_and_ends(pipeline_events):
    _, r, text = pipeline_events
    spans = T.spans(T.read_jsonl(text))
    assert sum(s["kind"] == "task" for s in spans) == 8
    assert sum(s["kind"] == "pr" for s in spans) == 2
    assert (
        sum(s["kind"] == "window" for s in spans) == 0
    )  # dataflow: windows are no run-time events
    with pytest.raises(ValueError, match="has no task_end"):
        T.spans(
            [
                {
                    "ev": "task_start",
                    "t": 0,
                    "slot": 0,
                    "core": "X",
                    "pc": 8,
                    "ports": [],
                    "params": [],
                }
            ]
        )


def test_perfetto(pipeline_events):
    _, r, text = pipeline_events
    out = json.loads(json.dumps(T.to_perfetto(T.read_jsonl(text))))
    events = out["traceEvents"]
    timed = [e for e in events if e["ph"] != "M"]
    assert [e["ts"] for e in timed] == sorted(e["ts"] for e in timed)
    tasks = [e for e in timed if e["ph"] == "X" and e["cat"] == "task"]
    prs = [e for e in timed if e["ph"] == "X" and e["cat"] == "pr"]
    assert len(tasks) == 8 and len(prs) == 2 * 2  # on the slot's track and on the ICAP's
    assert {e["tid"] for e in tasks} == {0, 1}
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"slot 0", "slot 1", "ICAP", "windows", "host"} <= names
    first = min(tasks, key=lambda e: e["ts"])
    assert first["dur"] > 0
    assert [e["ph"] for e in timed if e.get("cat") == "window"] == []  # dataflow
    assert timed[-1]["name"] == "done" and timed[-1]["ts"] == r.total_ns / 1000


def test_vcd(pipeline_events):
    c, r, text = pipeline_events
    out = io.StringIO()
    T.write_vcd(
        T.read_jsonl(text), out, {k.name: k.id for k in c.image.cores}, c.image.target.slots
    )
    vcd = out.getvalue()
    tokens = list(tokenize(io.BytesIO(vcd.encode())))
    scale = next(t for t in tokens if t.kind is TokenKind.TIMESCALE).timescale
    assert (int(scale.magnitude), scale.unit.value) == (1, "ns")
    names = {t.var.reference for t in tokens if t.kind is TokenKind.VAR}
    assert names == {f"slot{s}" for s in range(4)} | {f"slot{s}_pr" for s in range(4)} | {"icap"}
    stamps = [t.time_change for t in tokens if t.kind is TokenKind.CHANGE_TIME]
    assert stamps == sorted(stamps) and stamps[-1] == r.total_ns
    assert "b11001000 " in vcd  # core id 200 while a TEST task runs


def test_error_trace_views():
    data = image(window([(0, 200)], parsec(thread(task(0, 0, 1000)), thread(task(2, 0, 2000)))))
    events = []
    run_image(data, trace=events.append)
    p = T.to_perfetto(events)
    assert any(e.get("name") == "error wrong_core" for e in p["traceEvents"])
    out = io.StringIO()
    T.write_vcd(events, out)  # core ids numbered by appearance, slots from the trace
    assert "slot0" in out.getvalue() and "slot1" not in out.getvalue()
