"""Several boards: systems, plans, the system simulator and the planner (docs/system.md).

A :class:`System` is N boards and the links between them and the host (each link
full duplex: one direction never waits for the other). A :class:`Plan` gives every
board one single-board image (a :class:`Part` of the network) and the host's steps
in order: load each board's image, send each batch's inputs, run, transfer between
boards, collect the outputs. :func:`simulate` runs a plan as one discrete-event
simulation: every board and every link direction is a resource serving its steps in
plan order, a step starts when its resource is free and the steps it depends on have
ended. A run lasts what the board model (:func:`aci.machine.simulate`, unchanged)
gives for the board's image, from the end of its transfer to the completion the host
sees; the image is sent once (its ``load`` step), so a run does not pay ``t0`` again.

The network is a single-board program whose top level is one ``repeat`` over batches
(``programs/bnn_auto.aci``) or a sequence of windows: :func:`network` compiles it with
``IMAGES = BATCH`` (one run = one batch) and cuts it at window boundaries. The bytes
crossing a cut are the buffers written before it and read after it; a buffer whose
size follows IMAGES is per-batch data (sent by the host, or collected from the last
part); every other input buffer a part reads (weights, thresholds) is a constant,
sent once to each board of the part after its image, unless its bytes are in the
image (``from FILE``). Each step names the buffers it moves (:class:`Move`).

:func:`plan` simulates every candidate: the whole network replicated on every board
(data-parallel), every contiguous split into stages, every replica count per stage
that fits the boards, and returns them all, best first; :func:`system_source` writes a
plan as a system program of the language.

:func:`compile_system` makes the plan of a ``system`` written in the language
(docs/language.md, "Systems"): each stage's program compiled alone, the steps from the
data flow the checker derived from placement.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import attrs

from . import program as P
from . import timing
from .decode import decode
from .diagnostics import AciError
from .encode import encode
from .image import Image, Repeat, Task, Window
from .machine import simulate as simulate_board

HOST = "host"


class PlanError(AciError):
    """A network or a plan that does not fit: the CLI's exit 1."""


@attrs.frozen
class Link:
    """A link between two ends (board names or ``"host"``), full duplex."""

    a: str
    b: str
    bits_per_s: int
    latency_ns: int

    def transfer_ns(self, nbytes: int) -> int:
        return self.latency_ns + timing.muldiv_ceil(nbytes * 8, timing.NS_PER_S, self.bits_per_s)


@attrs.frozen
class System:
    boards: tuple[str, ...]
    links: tuple[Link, ...]
    targets: tuple[str, ...] = ()  # each board's target, by name (empty: unnamed)

    def link(self, a: str, b: str) -> Link:
        for k in self.links:
            if {k.a, k.b} == {a, b}:
                return k
        raise KeyError(f"no link between {a} and {b}")

    def target(self, board: str) -> str:
        return self.targets[self.boards.index(board)] if self.targets else ""

    @classmethod
    def uniform(
        cls, n: int, bits_per_s: int = 10**10, latency_ns: int = 20_000, target: str = ""
    ) -> System:
        """N boards ``b0..``, a link from the host to each and between every two boards."""
        if n < 1:
            raise PlanError("a system has at least one board")
        boards = tuple(f"b{i}" for i in range(n))
        links = [Link(HOST, b, bits_per_s, latency_ns) for b in boards]
        links += [Link(x, y, bits_per_s, latency_ns) for x, y in itertools.combinations(boards, 2)]
        return cls(boards, tuple(links), (target,) * n if target else ())


@attrs.frozen
class Part:
    """Windows ``first .. last-1`` of the network as one single-board image."""

    first: int
    last: int
    image: Image = attrs.field(repr=False)
    data: bytes = attrs.field(repr=False)
    run_ns: int  # one run (one batch), from its start to the completion the host sees
    in_bytes: int  # per batch, into the part (host inputs or the previous part's outputs)
    out_bytes: int  # per batch, out of the part
    program: str = ""  # a system's stage: its program (first, last: the stage's index)

    @property
    def name(self) -> str:
        return self.program or f"windows {self.first}..{self.last - 1}"


@attrs.frozen
class HostBuffer:
    """A buffer the host holds for a whole plan: an input it sends (``per_batch``: one
    slice of ``size // batches`` bytes per batch, else once to every board that reads
    it) or an output it collects (one slice per batch)."""

    name: str
    role: str  # "input" or "output"
    per_batch: bool
    size: int  # bytes, every batch's slices together


@attrs.frozen
class Move:
    """Bytes a step carries: ``length`` bytes of buffer ``buffer`` from ``src`` on the
    sending end to ``dst`` on the receiving end. On a board, an address of its memory;
    on the host, an offset into the host's bytes of the buffer (:class:`HostBuffer`)."""

    buffer: str
    src: int
    dst: int
    length: int


@attrs.frozen
class Network:
    """A single-board program cut at its windows, one batch per run."""

    path: str
    batch: int
    image: Image = attrs.field(repr=False)
    windows: tuple[Window, ...] = attrs.field(repr=False)
    reads: tuple[frozenset, ...]  # buffer names each window reads
    writes: tuple[frozenset, ...]
    sizes: dict  # buffer name -> bytes
    per_batch: frozenset  # buffers whose size follows IMAGES
    addresses: dict = attrs.field(factory=dict)  # buffer name -> its address on a board
    # input buffers whose bytes are not in the image (no `from FILE`) and whose size
    # does not follow IMAGES (the weights): the host sends them once to each board
    constants: frozenset = frozenset()
    target: str = ""
    _parts: dict = attrs.field(factory=dict, eq=False, repr=False)

    def crossing_buffers(self, cut: int) -> tuple[str, ...]:
        """The buffers crossing a cut before window ``cut``, by name (0 and len: the
        host's per-batch data)."""
        before = (
            set().union(*self.writes[:cut])
            if cut
            else set(self.per_batch) & set().union(*self.reads)
        )
        after = set().union(*self.reads[cut:]) if cut < len(self.windows) else set(self.per_batch)
        if cut == 0:
            after &= self.per_batch
        return tuple(sorted(before & after))

    def crossing(self, cut: int) -> int:
        """Bytes per batch crossing a cut before window ``cut`` (0 and len: host data)."""
        return sum(self.sizes[b] for b in self.crossing_buffers(cut))

    def constants_of(self, first: int, last: int) -> tuple[str, ...]:
        """The constant inputs windows ``first .. last-1`` read, by name."""
        return tuple(sorted(self.constants & set().union(*self.reads[first:last])))

    def moves(self, names: Iterable[str], host_offset: int | None = None) -> tuple[Move, ...]:
        """Whole buffers from a board to the same addresses on another board; with
        ``host_offset`` (a batch's index, 0 for constants), between the host's slice
        ``host_offset * size`` and the board."""
        return tuple(
            Move(
                n,
                self.addresses[n] if host_offset is None else host_offset * self.sizes[n],
                self.addresses[n],
                self.sizes[n],
            )
            for n in names
        )

    def part(self, first: int, last: int) -> Part:
        p = self._parts.get((first, last))
        if p is None:
            img = attrs.evolve(
                self.image, body=(Repeat(1, self.windows[first:last]),), symbols=None
            )
            data = encode(img)
            img = decode(data)  # as a reader of the bytes sees it (no source lines)
            tl = simulate_board(img, len(data), "strict")
            run = tl.t_end - tl.t0 + timing.completion_ns(img.target.timing)
            p = self._parts[(first, last)] = Part(
                first, last, img, data, run, self.crossing(first), self.crossing(last)
            )
        return p


def _buffer_of(buffers: tuple[P.Buffer, ...], address: int) -> str:
    for b in buffers:
        if b.placed_at <= address < b.placed_at + b.size:
            return b.name
    raise PlanError(f"no buffer at address {address:#x}")


def _tasks(node) -> Iterable[Task]:
    if isinstance(node, Task):
        yield node
        return
    for child in getattr(node, "parsecs", None) or getattr(node, "threads", None) or node.body:
        yield from _tasks(child)


def network(
    path: str, batch: int, defines: dict | None = None, program: str | None = None
) -> Network:
    """Compile ``path`` with IMAGES = BATCH = ``batch``; SourceError as compile_file."""
    from .pipeline import compile_file  # the compiler only when a network is compiled

    d = dict(defines or {}, IMAGES=str(batch), BATCH=str(batch))
    c = compile_file(path, d, program)
    twice = compile_file(path, dict(d, IMAGES=str(2 * batch)), program).checked
    body = c.image.body
    windows = tuple(w for n in body for w in ((n,) if isinstance(n, Window) else n.windows))
    if any(isinstance(n, Repeat) and n.count != 1 for n in body):
        raise PlanError(
            f"{path}: with IMAGES = BATCH = {batch} its repeat runs more than once; "
            "the network must run one batch per run (a repeat over IMAGES / BATCH)"
        )
    buffers = c.checked.buffers
    reads, writes = [], []
    for w in windows:
        r: set[str] = set()
        wr: set[str] = set()
        for t in _tasks(w):
            dirs = c.image.core(t.core).port_dirs
            for port, d_ in zip(t.ports, dirs, strict=True):
                (r if d_ == "in" else wr).add(_buffer_of(buffers, port.address))
        reads.append(frozenset(r))
        writes.append(frozenset(wr))
    sizes = {b.name: b.size for b in buffers}
    other = {b.name: b.size for b in twice.buffers}
    per_batch = frozenset(n for n in sizes if other.get(n) != sizes[n])
    constants = frozenset(
        b.name for b in buffers if b.role == "input" and b.init is None and b.name not in per_batch
    )
    return Network(
        path,
        batch,
        c.image,
        windows,
        tuple(reads),
        tuple(writes),
        sizes,
        per_batch,
        {b.name: b.placed_at for b in buffers},
        constants,
        c.checked.target.name,
    )


# ---- plans ----------------------------------------------------------------------------


STEP_KINDS = ("load", "send", "run", "transfer", "collect")


@attrs.frozen
class Step:
    kind: str  # load, send, run, transfer, collect
    src: str  # the board of a run; a transfer's sending end
    dst: str  # the board of a run; a transfer's receiving end
    nbytes: int  # a load's image, or the bytes of the moves
    batch: int  # -1 for a load and for a send of constants
    deps: tuple[int, ...]  # indices of earlier steps
    moves: tuple[Move, ...] = ()  # what a send, transfer or collect carries


@attrs.frozen
class Plan:
    name: str
    system: System
    stages: tuple[tuple[Part, tuple[str, ...]], ...]  # each stage's part and the boards that run it
    batches: int
    batch: int
    steps: tuple[Step, ...]
    host_buffers: tuple[HostBuffer, ...] = ()  # what the host sends and collects

    @property
    def images(self) -> int:
        return self.batches * self.batch

    def part_of(self, board: str) -> Part:
        for part, boards in self.stages:
            if board in boards:
                return part
        raise KeyError(board)


def pipeline(
    net: Network,
    system: System,
    batches: int,
    cuts: tuple[int, ...],
    replicas: tuple[int, ...],
    name: str = "",
) -> Plan:
    """Stages between ``cuts`` (window indices), stage s on ``replicas[s]`` boards (in
    the system's order); batch k of stage s runs on its replica k mod replicas[s]."""
    bounds = (0, *cuts, len(net.windows))
    if len(replicas) != len(bounds) - 1 or sum(replicas) > len(system.boards) or min(replicas) < 1:
        raise PlanError(
            f"{len(bounds) - 1} stages on replicas {replicas} do not fit {len(system.boards)} boards"
        )
    free = iter(system.boards)
    stages = tuple(
        (net.part(a, b), tuple(next(free) for _ in range(r)))
        for (a, b), r in zip(itertools.pairwise(bounds), replicas, strict=True)
    )
    steps: list[Step] = []
    ready: dict[str, tuple[int, ...]] = {}  # a board's load, and the send of its constants
    for part, boards in stages:
        constants = net.moves(net.constants_of(part.first, part.last), 0)
        for b in boards:
            ready[b] = (len(steps),)
            steps.append(Step("load", HOST, b, len(part.data), -1, ()))
            if constants:
                ready[b] += (len(steps),)
                steps.append(Step("send", HOST, b, _bytes(constants), -1, (), constants))
    first_in = net.crossing_buffers(0)
    for k in range(batches):
        prev_run, prev_board = None, HOST
        for part, boards in stages:
            b = boards[k % len(boards)]
            arrive = len(steps)
            if prev_run is None:
                mv = net.moves(first_in, k)
                steps.append(Step("send", HOST, b, _bytes(mv), k, (), mv))
            else:
                mv = net.moves(net.crossing_buffers(part.first))
                steps.append(Step("transfer", prev_board, b, _bytes(mv), k, (prev_run,), mv))
            prev_run = len(steps)
            steps.append(Step("run", b, b, 0, k, (*ready[b], arrive)))
            prev_board = b
        out = tuple(
            Move(m.buffer, m.dst, m.src, m.length)
            for m in net.moves(net.crossing_buffers(len(net.windows)), k)
        )
        assert prev_run is not None  # a plan has at least one stage
        steps.append(Step("collect", prev_board, HOST, _bytes(out), k, (prev_run,), out))
    if not name:
        name = describe(stages)
    used = set().union(*(net.constants_of(p.first, p.last) for p, _ in stages))
    host = tuple(
        HostBuffer(
            n, "input", n in net.per_batch, net.sizes[n] * (batches if n in net.per_batch else 1)
        )
        for n in sorted(set(first_in) | used)
    ) + tuple(
        HostBuffer(n, "output", True, net.sizes[n] * batches)
        for n in net.crossing_buffers(len(net.windows))
    )
    return Plan(name, system, stages, batches, net.batch, tuple(steps), host)


def _bytes(moves: tuple[Move, ...]) -> int:
    return sum(m.length for m in moves)


def describe(stages) -> str:
    if len(stages) == 1:
        return f"data-parallel x{len(stages[0][1])}"
    return " | ".join(f"{p.name} x{len(b)}" for p, b in stages)


# ---- the simulator -----------------------------------------------------------------


@attrs.frozen
class Use:
    busy_ns: int
    count: int  # runs of a board, transfers of a link
    nbytes: int


@attrs.frozen
class Result:
    plan: str
    total_ns: int
    images: int
    boards: dict  # board -> Use
    links: dict  # "a->b" -> Use

    @property
    def images_per_s(self) -> float:
        return self.images * 1e9 / self.total_ns if self.total_ns else 0.0

    def to_json(self) -> dict:
        return {
            "plan": self.plan,
            "total_ns": self.total_ns,
            "images": self.images,
            "images_per_s": round(self.images_per_s, 3),
            "boards": {k: attrs.asdict(v) for k, v in self.boards.items()},
            "links": {k: attrs.asdict(v) for k, v in self.links.items()},
        }


def simulate(plan: Plan, emit: Callable[[dict], None] | None = None) -> Result:
    """One discrete-event simulation of the plan's boards, links and host; ``emit``
    gets the trace's events in time order (``xfer_start``/``xfer_end`` with the link,
    ``run_start``/``run_end`` with the board)."""
    end: list[int] = []
    free: dict = {}
    boards = {b: [0, 0, 0] for b in plan.system.boards}
    links: dict = {}
    events: list[tuple[int, int, dict]] = []
    for i, st in enumerate(plan.steps):
        if st.kind == "run":
            key, dur = st.src, plan.part_of(st.src).run_ns
        else:
            key, dur = (
                f"{st.src}->{st.dst}",
                plan.system.link(st.src, st.dst).transfer_ns(st.nbytes),
            )
        start = max([free.get(key, 0)] + [end[d] for d in st.deps])
        stop = start + dur
        end.append(stop)
        free[key] = stop
        use = boards[st.src] if st.kind == "run" else links.setdefault(key, [0, 0, 0])
        use[0] += dur
        use[1] += 1
        use[2] += st.nbytes
        if emit:
            if st.kind == "run":
                e = {"board": st.src, "batch": st.batch}
                events.append((start, i, {"ev": "run_start", "t": start, **e}))
                events.append((stop, i, {"ev": "run_end", "t": stop, **e}))
            else:
                e = {"link": key, "what": st.kind, "batch": st.batch, "bytes": st.nbytes}
                events.append((start, i, {"ev": "xfer_start", "t": start, **e}))
                events.append((stop, i, {"ev": "xfer_end", "t": stop, **e}))
    if emit:
        for _, _, e in sorted(events, key=lambda x: (x[0], x[2]["ev"].endswith("start"), x[1])):
            emit(e)
    return Result(
        plan.name,
        max(end, default=0),
        plan.images,
        {k: Use(*v) for k, v in boards.items()},
        {k: Use(*v) for k, v in sorted(links.items())},
    )


def to_perfetto(events: Iterable[dict]) -> dict:
    """A system trace as Chrome / Perfetto trace-event JSON: one track per board and
    per link direction."""
    tracks: dict[str, int] = {}
    open_: dict = {}
    out = []
    for e in events:
        track = e.get("board") or e["link"]
        tid = tracks.setdefault(track, len(tracks) + 1)
        key = (track, e["batch"], e.get("what"))
        if e["ev"].endswith("_start"):
            open_[key] = e
            continue
        s = open_.pop(key)
        name = f"batch {e['batch']}" if e["ev"] == "run_end" else f"{e['what']} {e['batch']}"
        if e.get("what") == "load":
            name = "load image"
        elif e.get("what") == "send" and e["batch"] < 0:
            name = "send constants"
        out.append(
            {
                "pid": 1,
                "tid": tid,
                "ph": "X",
                "ts": s["t"] / 1000,
                "dur": (e["t"] - s["t"]) / 1000,
                "name": name,
                "cat": "run" if "board" in e else "link",
                "args": {k: v for k, v in e.items() if k not in ("ev", "t")},
            }
        )
    meta = [{"pid": 1, "tid": 0, "ph": "M", "name": "process_name", "args": {"name": "ACI system"}}]
    for name, tid in sorted(tracks.items(), key=lambda x: ("->" in x[0], x[0])):
        meta.append(
            {"pid": 1, "tid": tid, "ph": "M", "name": "thread_name", "args": {"name": name}}
        )
    out.sort(key=lambda x: (x["ts"], x["tid"]))
    return {"traceEvents": meta + out, "displayTimeUnit": "ns"}


# ---- the planner -----------------------------------------------------------------


@attrs.frozen
class Candidate:
    plan: Plan = attrs.field(repr=False)
    result: Result
    rule: str  # why it is a candidate: "data-parallel", "split", "smallest-output split"


def candidates(net: Network, system: System, batches: int) -> list[Candidate]:
    """Every plan the planner weighs, simulated, best (most images per second, then
    fewest boards) first."""
    n, w = len(system.boards), len(net.windows)
    smallest = min(range(1, w), key=lambda c: (net.crossing(c), c)) if w > 1 else None
    out = []
    for stages in range(1, min(n, w) + 1):
        for cuts in itertools.combinations(range(1, w), stages - 1):
            for reps in itertools.product(range(1, n + 1), repeat=stages):
                if sum(reps) > n or (stages == 1 and reps[0] != n):
                    continue
                p = pipeline(net, system, batches, cuts, reps)
                rule = (
                    "data-parallel"
                    if stages == 1
                    else ("smallest-output split" if cuts == (smallest,) else "split")
                )
                out.append(Candidate(p, simulate(p), rule))
    out.sort(key=lambda c: (-c.result.images_per_s, sum(len(b) for _, b in c.plan.stages)))
    return out


def plan(net: Network, system: System, batches: int) -> Candidate:
    """The best candidate."""
    return candidates(net, system, batches)[0]


# ---- systems of the language -----------------------------------------------------------


def compile_system(unit, name: str, mode: str = "strict", symbols: bool = True) -> Plan:
    """The plan of the checked system ``name`` of ``unit`` (aci.check): each stage's
    program compiled by the single-board pipeline, the steps from the data flow the
    checker found (docs/language.md, "Systems")."""
    from .pipeline import compile_program  # the compiler only when a system is compiled
    from .place import place

    sysdecl = unit.systems[name]
    system = System(
        tuple(b.name for b in sysdecl.boards),
        tuple(Link(k.a, k.b, k.bits_per_s, k.latency_ns) for k in sysdecl.links),
        tuple(b.target for b in sysdecl.boards),
    )
    batches = sysdecl.batches
    progs = [place(unit.programs[st.program]) for st in sysdecl.stages]
    sizes = [{b.name: b.size for b in p.buffers} for p in progs]
    addr = [{b.name: b.placed_at for b in p.buffers} for p in progs]
    parts = []
    for s, (st, prog) in enumerate(zip(sysdecl.stages, progs, strict=True)):
        _, img, data = compile_program(prog, mode, symbols)
        tl = simulate_board(img, len(data), mode)
        run = tl.t_end - tl.t0 + timing.completion_ns(img.target.timing)
        ins = sum(sizes[s][f.buffer] for f in sysdecl.flows if f.dst == s and f.per_batch)
        outs = sum(sizes[s][f.buffer] for f in sysdecl.flows if f.src == s and f.kind != "send")
        parts.append(Part(s, s + 1, img, data, run, ins, outs, st.program))
    stages = tuple((p, st.boards) for p, st in zip(parts, sysdecl.stages, strict=True))
    steps: list[Step] = []
    ready: dict[str, tuple[int, ...]] = {}
    for s, (part, boards) in enumerate(stages):
        constants = tuple(
            Move(f.buffer, 0, addr[s][f.buffer], sizes[s][f.buffer])
            for f in sysdecl.flows
            if f.kind == "send" and f.dst == s and not f.per_batch
        )
        for b in boards:
            ready[b] = (len(steps),)
            steps.append(Step("load", HOST, b, len(part.data), -1, ()))
            if constants:
                ready[b] += (len(steps),)
                steps.append(Step("send", HOST, b, _bytes(constants), -1, (), constants))
    for k in range(batches):
        board_of = [boards[k % len(boards)] for _, boards in stages]
        ran: list[int] = []
        for s in range(len(stages)):
            b = board_of[s]
            arrive = []
            mv = tuple(
                Move(f.buffer, k * sizes[s][f.buffer], addr[s][f.buffer], sizes[s][f.buffer])
                for f in sysdecl.flows
                if f.kind == "send" and f.dst == s and f.per_batch
            )
            if mv:
                arrive.append(len(steps))
                steps.append(Step("send", HOST, b, _bytes(mv), k, (), mv))
            for w in sorted({f.src for f in sysdecl.flows if f.kind == "transfer" and f.dst == s}):
                mv = tuple(
                    Move(f.buffer, addr[w][f.buffer], addr[s][f.buffer], sizes[s][f.buffer])
                    for f in sysdecl.flows
                    if f.kind == "transfer" and f.dst == s and f.src == w
                )
                arrive.append(len(steps))
                steps.append(Step("transfer", board_of[w], b, _bytes(mv), k, (ran[w],), mv))
            ran.append(len(steps))
            steps.append(Step("run", b, b, 0, k, (*ready[b], *arrive)))
        for w in sorted({f.src for f in sysdecl.flows if f.kind == "collect"}):
            mv = tuple(
                Move(f.buffer, addr[w][f.buffer], k * sizes[w][f.buffer], sizes[w][f.buffer])
                for f in sysdecl.flows
                if f.kind == "collect" and f.src == w
            )
            steps.append(Step("collect", board_of[w], HOST, _bytes(mv), k, (ran[w],), mv))
    host = []
    seen = set()
    for f in sysdecl.flows:
        if f.buffer in seen or f.kind == "transfer":
            continue
        seen.add(f.buffer)
        s = f.dst if f.kind == "send" else f.src
        size = sizes[s][f.buffer]
        host.append(
            HostBuffer(
                f.buffer,
                "input" if f.kind == "send" else "output",
                f.per_batch,
                size * batches if f.per_batch else size,
            )
        )
    return Plan(name, system, stages, batches, sysdecl.batch, tuple(steps), tuple(host))


def system_source(net: Network, plan: Plan, out_path: str, program: str | None = None) -> str:
    """The system program of a plan of ``net`` (``acic plan -o``): the network's file
    imported, one program per stage holding its windows' text, and a system running them
    as the plan does. It compiles (with IMAGES and BATCH set to the plan's batch, as the
    planner compiled the network) to the plan's arrangement; PlanError for a network whose
    windows are not written one by one in its source (made by a `for`)."""
    import os

    from . import ast
    from .parse import load

    loaded = load(net.path)
    progs = [d for m in loaded.modules for d in m.decls if isinstance(d, ast.Program)]
    prog = next((p for p in progs if program is None or p.name.name == program), None)
    if prog is None:
        raise PlanError(f"{net.path}: no program to write stages of")
    repeat = next((s for s in prog.body if isinstance(s, ast.Repeat)), None)
    body = repeat.body if repeat is not None else prog.body
    windows = [s for s in body if isinstance(s, ast.Window)]
    if len(windows) != len(net.windows) or len(windows) != len(body):
        raise PlanError(
            f"{net.path}: program `{prog.name.name}` does not write its {len(net.windows)} "
            "windows one by one (a `for` makes them), so acic plan cannot write its stages"
        )
    text = loaded.sources[prog.span.file]
    name = prog.name.name
    rel = os.path.relpath(os.path.abspath(net.path), os.path.dirname(os.path.abspath(out_path)))
    lines = [
        f"// The plan `acic plan` chose for `{name}`: {plan.name}, {plan.batches} batches of "
        f"{plan.batch} images.",
        f"// acic compile THIS_FILE -D IMAGES={plan.batch} -D BATCH={plan.batch}   (a bundle)",
        f'import "{rel}"',
        "",
    ]
    for s, (part, _) in enumerate(plan.stages):
        lines.append(f"program {name}_s{s} on {prog.target.name} {{")
        inner = "    "
        if repeat is not None:
            lines.append(f"    repeat {repeat.var.name} in 0 .. 1 {{")
            inner = "        "
        for w in windows[part.first : part.last]:
            indent = w.span.column - 1  # the window's own lines keep their indentation
            for i, x in enumerate(text[w.span.start : w.span.end].split("\n")):
                x = x if i == 0 else x[min(indent, len(x) - len(x.lstrip(" "))) :]
                lines.append(inner + x)
        if repeat is not None:
            lines.append("    }")
        lines += ["}", ""]
    lines.append(f"system {name}_plan {{")
    for b in plan.system.boards:
        lines.append(f"    board {b} : {plan.system.target(b) or prog.target.name}")
    for k in plan.system.links:
        lines.append(
            f"    link {k.a} <-> {k.b} {{ rate {k.bits_per_s} b/s  latency {k.latency_ns} ns }}"
        )
    for s, (_, boards) in enumerate(plan.stages):
        lines.append(f"    run {name}_s{s} on {', '.join(boards)}")
    streamed = sorted(h.name for h in plan.host_buffers if h.role == "input" and h.per_batch)
    if streamed:
        lines.append(f"    stream {', '.join(streamed)}")
    lines += [f"    batches {plan.batches}", f"    batch {plan.batch}", "}", ""]
    return "\n".join(lines)
