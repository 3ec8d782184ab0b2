"""``acic run NET.aci --boards URL,URL,...``: a network run on several board daemons
(docs/system.md, "Running a plan on boards"; docs/cli.md).

The source is the network as ``acic plan`` takes it (one ``repeat`` over batches):
it is compiled with IMAGES = BATCH = ``--batch``, planned over the boards given
(the planner's choice on a system of that many boards with 10 Gb/s, 20 us links,
or the stages of ``--cuts`` and ``--replicas``), and run by :class:`aci.fleet.Fleet`.
``--set`` gives the per-batch inputs for the whole run (``images=ALL.npy``: any
number of images, the last batch padded) and the constants (``w0=FILE``: the
buffer whole); ``--get`` writes a per-batch output for the whole run. The keys are
the remote engine's options: ``--board-key FILE[,FILE...]`` (one for every board,
or one each), ``--key NAME``, ``--board-timeout``, ``--board-patience``.
"""

from __future__ import annotations

import io
import json
import sys
import time

from ._cli_args import UsageError, parse_defines

REMOTE_OPTIONS = ("board_key", "key", "timeout", "patience")


def add_fleet_options(c) -> None:
    c.add_argument(
        "--boards",
        metavar="URL[,URL...]",
        help="run a network (a program with one repeat over batches) on these board daemons, "
        "planned over them (docs/system.md); with --board-key, --key",
    )
    c.add_argument(
        "--batch",
        type=int,
        metavar="B",
        help="(--boards) images per batch, the network's BATCH (default 100)",
    )
    c.add_argument(
        "--cuts",
        metavar="W[,W...]",
        help="(--boards) split the network before these windows instead of the planner's choice",
    )
    c.add_argument(
        "--replicas",
        metavar="R[,R...]",
        help="(--boards) boards per stage (default: all the boards on one stage, one per stage "
        "with --cuts)",
    )


def seconds(value, flag: str, default: float) -> float:
    """A number of seconds given on the command line (above 0)."""
    if value is None:
        return default
    try:
        s = float(value)
    except ValueError:
        s = -1.0
    if not 0 < s < 1e6:
        raise UsageError(f"{flag} takes a number of seconds, not `{value}`")
    return s


def _ints(text: str | None, flag: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(x) for x in text.split(",") if x.strip() != "")
    except ValueError:
        raise UsageError(f"{flag} takes comma-separated numbers, not `{text}`") from None


def board_keys(urls: list[str], board_key: str | None) -> list[bytes]:
    import os

    from .daemon import BOARD_KEY_ENV, read_public

    board_key = board_key or os.environ.get(BOARD_KEY_ENV)
    if not board_key:
        raise UsageError(
            f"--boards needs --board-key FILE[,FILE...] (the boards' public keys; or ${BOARD_KEY_ENV})"
        )
    files = board_key.split(",")
    if len(files) not in (1, len(urls)):
        raise UsageError(
            f"--board-key: {len(files)} files for {len(urls)} boards (give one for all, or one each)"
        )
    keys = [read_public(f) for f in files]
    return keys * len(urls) if len(keys) == 1 else keys


def host_keys(key: str | None) -> tuple[bytes, bytes]:
    import os

    from .daemon import KEYS_ENV, read_pair

    key = key or os.environ.get(KEYS_ENV)
    if not key:
        raise UsageError(f"--boards needs --key NAME (this host's key pair; or ${KEYS_ENV})")
    return read_pair(key)


def parse_urls(text: str) -> list[str]:
    urls = [u.strip() for u in text.split(",")]
    if not all(urls):
        raise UsageError(f"--boards takes comma-separated tcp://HOST:PORT addresses, not `{text}`")
    for u in urls:
        if not u.startswith(("tcp://", "ipc://")):
            raise UsageError(f"--boards: `{u}` is not an address like tcp://HOST:PORT")
    if len(set(urls)) != len(urls):
        raise UsageError("--boards names a board twice")
    return urls


def load_network(args):
    from .system import network

    batch = 100 if args.batch is None else args.batch
    if batch < 1:
        raise UsageError("--batch must be at least 1")
    return network(args.file, batch, parse_defines(args.define), args.program)


def make_plan(args, net, urls: list[str], images: int | None = None):
    """(plan, layout) of the network ``net`` over ``len(urls)`` boards: the planner's
    choice for ``images`` images, or the stages of --cuts and --replicas."""
    from .fleet import layout
    from .system import System, candidates, pipeline

    batch = net.batch
    cuts, replicas = _ints(args.cuts, "--cuts"), _ints(args.replicas, "--replicas")
    system = System.uniform(len(urls))
    batches = max(1, -(-(images or batch * len(urls)) // batch))
    if cuts is None and replicas is None:
        plan = candidates(net, system, batches)[0].plan
    else:
        cuts = cuts or ()
        if replicas is None:
            replicas = (len(urls),) if not cuts else (1,) * (len(cuts) + 1)
        if list(cuts) != sorted(set(cuts)) or any(not 0 < c < len(net.windows) for c in cuts):
            raise UsageError(
                f"--cuts: window numbers in increasing order, from 1 to {len(net.windows) - 1}"
            )
        if len(replicas) != len(cuts) + 1 or min(replicas) < 1 or sum(replicas) != len(urls):
            raise UsageError(
                f"--replicas: one number per stage ({len(cuts) + 1}), each at least 1, "
                f"adding up to the {len(urls)} boards"
            )
        plan = pipeline(net, system, batches, cuts, replicas)
    return plan, layout(net, plan)


def _bundle(args):
    """(plan, layout) when the file is a bundle (aci.bundle), else None."""
    from . import bundle
    from ._io import read_input
    from .fleet import layout_of_plan

    if args.file.endswith(".aci"):
        return None
    data = read_input(args.file, "bundle")
    if not bundle.is_bundle(data):
        raise UsageError(
            "--boards runs a bundle (acic plan --bundle) or a network source (.aci), "
            f"and {args.file} is neither"
        )
    for flag, value in (
        ("-D", args.define),
        ("--program", args.program),
        ("--batch", args.batch),
        ("--cuts", args.cuts),
        ("--replicas", args.replicas),
    ):
        if value:
            raise UsageError(f"{flag} applies to a network source; a bundle holds its plan")
    plan = bundle.decode(data).plan
    return plan, layout_of_plan(plan)


def _read_per_batch(sym, path: str, typed: bool = True) -> bytes:
    """A whole run's bytes of a per-batch input: a .npy of (N, ...) in the buffer's
    type (``typed``; else any array, its bytes), or raw bytes of whole images."""
    import numpy as np

    from ._io import read_input
    from .buffers import expected_array
    from .fleet import FleetError

    raw = read_input(path, "buffer file")
    if not path.endswith(".npy"):
        return raw
    dtype, shape = expected_array(sym)
    try:
        a = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, EOFError) as e:
        raise FleetError(f"`{path}` is not a readable .npy file: {e}") from None
    if not typed:
        return np.ascontiguousarray(a).tobytes()
    if a.dtype != dtype or tuple(a.shape[1:]) != tuple(shape[1:]) or a.ndim != len(shape):
        raise FleetError(
            f"`{path}`: buffer `{sym.name}` takes an array of {dtype} (N, "
            f"{', '.join(map(str, shape[1:]))}), not {a.dtype} {a.shape}"
        )
    return np.ascontiguousarray(a).tobytes()


def _write_per_batch(sym, path: str, data: bytes, images: int) -> None:
    import numpy as np

    from ._io import write_atomic
    from .buffers import expected_array

    if path.endswith(".npy"):
        dtype, shape = expected_array(sym)
        out = io.BytesIO()
        np.save(out, np.frombuffer(data, dtype).reshape((images, *shape[1:])), allow_pickle=False)
        data = out.getvalue()
    write_atomic(path, data)


def run_fleet(args, pairs) -> int:
    """``acic run --boards``; ``pairs(items, flag)`` parses BUF=FILE lists."""
    from ._io import check_output
    from .buffers import read_buffer_file
    from .fleet import Fleet, FleetError, join_batches, split_batches
    from .system import simulate

    for flag, value in (
        ("--trace", args.trace),
        ("--mode", args.mode),
        ("--trace-format", args.trace_format),
    ):
        if value:
            raise UsageError(f"{flag} is not an option of a run on --boards")
    if args.models:
        raise UsageError("--models: the boards run their own models")
    if args.engine not in ("python", "remote"):
        raise UsageError(f"--boards runs on board daemons, not on --engine {args.engine}")
    opts = {o: getattr(args, f"engine_remote_{o}", None) for o in REMOTE_OPTIONS}
    if getattr(args, "engine_remote_board", None):
        raise UsageError("--board is one board; with --boards, list them all there")
    urls = parse_urls(args.boards)
    server_keys = board_keys(urls, opts["board_key"])
    keys = host_keys(opts["key"])
    timeout = seconds(opts["timeout"], "--board-timeout", 2.0)
    patience = seconds(opts["patience"], "--board-patience", 30.0)
    sets, gets = pairs(args.set, "--set"), pairs(args.get, "--get")
    for _, path in gets:
        check_output(path, "buffer file")

    # A bundle holds its plan; a network source is planned for the images given.
    bundled = _bundle(args)
    if bundled is not None:
        plan, lay = bundled
        syms = {b.name: b for b in (*lay.inputs, *lay.outputs, *lay.constants)}
        per_batch_in = {b.name for b in lay.inputs}
        per_batch_out = {b.name for b in lay.outputs}
        batch = lay.batch
    else:
        probe = load_network(args)
        syms = {b.name: b for b in probe.image.symbols.buffers}
        per_batch_in = {n for n in probe.per_batch if n not in set().union(*probe.writes)}
        per_batch_out = probe.per_batch - per_batch_in
        batch = probe.batch
    inputs, constants = {}, {}
    for name, path in sets:
        if name not in syms:
            raise FleetError(f"no buffer `{name}` in {args.file}")
        b = syms[name]
        if name in per_batch_in:
            inputs[name] = _read_per_batch(b, path, bundled is None)
        elif bundled is not None:
            constants[name] = _read_per_batch(b, path, False)
        else:
            constants[name] = read_buffer_file(path, name, b.elem, b.shape)
    for name, _ in gets:
        if name not in per_batch_out:
            raise FleetError(
                f"--get {name}: a run on boards gives its per-batch outputs "
                f"({', '.join(sorted(per_batch_out)) or 'none'})"
            )
    per = {n: syms[n].size // batch for n in per_batch_in}
    images = min((len(v) // per[n] for n, v in inputs.items()), default=0)
    if bundled is None:
        plan, lay = make_plan(args, probe, urls, images)
    batches, images = split_batches(lay, inputs)
    predicted = simulate(plan)
    bar = sys.stderr if sys.stderr.isatty() else None
    done = [0]

    def progress(ev):
        if ev["ev"] == "batch_done":
            done[0] += 1
            if bar:
                bar.write(f"\r{done[0]}/{len(batches)} batches")
                bar.flush()
        elif ev["ev"] in ("board_down", "stage_moved"):
            sys.stderr.write(("\n" if bar else "") + "acic: " + _event_text(ev) + "\n")

    start = time.perf_counter()
    with Fleet(
        lay,
        zip(urls, server_keys, strict=True),
        keys,
        constants,
        timeout,
        patience,
        timing_only=args.timing_only,
        on_event=progress,
    ) as fleet:
        try:
            outputs = fleet.run(batches)
        finally:
            if bar:
                bar.write("\r" + " " * 40 + "\r")
        health = [attrs_dict(h) for h in fleet.health]
    wall = time.perf_counter() - start
    whole = join_batches(lay, outputs, images)
    for name, path in gets:
        _write_per_batch(syms[name], path, whole[name], images)
    rep = {
        "file": args.file,
        "plan": plan.name,
        "images": images,
        "batches": len(batches),
        "batch": lay.batch,
        "wall_s": round(wall, 6),
        "images_per_s": round(images / wall, 3) if wall else 0.0,
        "simulated_ns": predicted.total_ns,
        "boards": health,
    }
    if args.json:
        print(json.dumps(rep, indent=1))
    else:
        sys.stdout.write(summary(rep))
    return 0


def attrs_dict(h) -> dict:
    import attrs

    d = attrs.asdict(h)
    d["stages"] = list(d["stages"])
    d["busy_s"] = round(d["busy_s"], 6)
    del d["working"]
    return d


def _event_text(ev: dict) -> str:
    if ev["ev"] == "board_down":
        return f"board {ev['url']} lost: {ev['error']}; its work goes to the others"
    if ev["ev"] == "stage_moved":
        return f"stage {ev['stage']} now on {ev['url']}"
    if ev["ev"] == "board_back":
        return f"board {ev['url']} is back"
    return json.dumps(ev)


def summary(rep: dict) -> str:
    lines = [
        f"{rep['file']}: {rep['images']:,} images in {rep['batches']} batches of {rep['batch']} "
        f"on {len(rep['boards'])} boards ({rep['plan']}), {rep['wall_s']:.3f} s, "
        f"{rep['images_per_s']:,.1f} images/s",
    ]
    for h in rep["boards"]:
        tail = f", lost: {h['error']}" if h["state"] == "down" else ""
        lines.append(
            f"  {h['url']}: {h['state']}, {h['runs']} runs, busy {h['busy_s']:.3f} s"
            + (f", {h['restarts']} restarts" if h["restarts"] else "")
            + tail
        )
    return "\n".join(lines) + "\n"
