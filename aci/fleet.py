"""A plan run on several board daemons, surviving the loss of boards (docs/system.md,
"Running a plan on boards").

A :class:`Layout` is what the host needs to run a plan (:class:`aci.system.Plan`)
for real: per stage, its image, the buffers it takes before each run (the batch's
inputs from the host, or what earlier stages gave), the buffers it gives after each
run (to later stages, or the batch's outputs for the host), the constants it reads
(weights, written once after its image is loaded) and which boards run it.
:func:`layout` derives it from a plan and its network.

A :class:`Fleet` drives the boards concurrently, one thread and one
:class:`aci.remote.Board` session per board: each board takes the next batch of a
stage it serves (lowest batch first), loads that stage's image and the constants
when it holds another, writes the batch's inputs, runs it, reads what the stage
gives and hands it on: to the next stage's queue, or to the batch's
:class:`Ticket`. The host holds every batch's data until the batch is done, so
moving data between boards of a split pipeline goes through the host, and a board
lost in the middle of a run loses nothing: its batch goes back to its stage's queue
and another board runs it. A stage left without a board is taken over by a board of
the stage with the most boards (moved) or, when each has one, by a board that then
serves both (loading each stage's image as its batches come). A batch's result is
taken from the one run that completed it and handed over once; a run the board did
not complete gives no result (``aci.remote``'s guarantees within each session: a
board that restarts is restored and its run redone there). When no board remains,
every batch not done fails with :class:`FleetError` naming the boards and why each
was lost.

``Fleet(layout, boards, keys, constants=..., timeout=2, patience=30,
timing_only=False, rejoin=0)``: ``boards`` the daemons' ``(url, public key)`` in the
plan's board order; ``submit(inputs) -> Ticket`` queues one batch (its per-batch
input buffers by name, bytes of the batch's size); ``run(batches)`` submits them all
and returns their outputs in order; ``health()`` each board's state and counts;
``close()``. With ``rejoin`` > 0 seconds a lost board is asked again that often and
takes its stage back when it answers (the service's boards come back; a run's do
not need to).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

import attrs

from .diagnostics import AciError
from .image import BufferSymbol
from .remote.client import Board, RemoteError
from .system import Network, Plan


class FleetError(AciError):
    """A plan that cannot run on its boards, or work lost with every board: exit 1."""


@attrs.frozen
class Buf:
    name: str
    address: int
    size: int


@attrs.frozen
class Stage:
    index: int
    name: str  # "windows 0..1"
    image: bytes = attrs.field(repr=False)
    takes: tuple[Buf, ...]  # written before each run
    gives: tuple[Buf, ...]  # read after each run
    constants: tuple[Buf, ...]  # written once, after the image is loaded
    boards: tuple[int, ...]  # indices into the fleet's boards
    run_ns: int  # simulated time of one run


@attrs.frozen
class Layout:
    batch: int  # images per batch
    stages: tuple[Stage, ...]
    inputs: tuple[BufferSymbol, ...]  # per-batch buffers from the host (shape (batch, ...))
    outputs: tuple[BufferSymbol, ...]  # per-batch buffers to the host
    constants: tuple[BufferSymbol, ...]  # what the stages read that nothing writes
    boards: int  # boards of the plan

    def per_image(self, b: BufferSymbol) -> int:
        return b.size // self.batch


def layout(net: Network, plan: Plan) -> Layout:
    """The host's view of ``plan`` (of the network ``net``): buffers by name and address
    (the network's SYMBOLS: every part keeps the whole network's addresses)."""
    if net.image.symbols is None:
        raise FleetError(f"{net.path}: compiled without SYMBOLS; the host needs its buffers")
    symbols = {b.name: b for b in net.image.symbols.buffers}
    order = {b.name: i for i, b in enumerate(net.image.symbols.buffers)}
    written = set().union(*net.writes)
    index = {b: i for i, b in enumerate(plan.system.boards)}

    def bufs(names) -> tuple[Buf, ...]:
        return tuple(
            Buf(n, symbols[n].address, symbols[n].size)
            for n in sorted(names, key=lambda n: order[n])
        )

    stages = []
    for s, (part, boards) in enumerate(plan.stages):
        reads = set().union(*net.reads[part.first : part.last])
        writes = set().union(*net.writes[part.first : part.last])
        before = set().union(*net.writes[: part.first])
        after = set().union(*net.reads[part.last :])
        takes = (reads & net.per_batch) | (reads & before)
        gives = writes & (net.per_batch | after)
        constants = reads - net.per_batch - written
        stages.append(
            Stage(
                s,
                part.name,
                part.data,
                bufs(takes),
                bufs(gives),
                bufs(constants),
                tuple(index[b] for b in boards),
                part.run_ns,
            )
        )
    per_batch_in = net.per_batch - written
    per_batch_out = net.per_batch & written
    const = set().union(*(set(b.name for b in st.constants) for st in stages))
    for name in net.per_batch:
        if symbols[name].size % net.batch:
            raise FleetError(f"buffer `{name}`: {symbols[name].size} bytes is not a whole batch")

    def syms(names):
        return tuple(symbols[n] for n in sorted(names, key=lambda n: order[n]))

    return Layout(
        net.batch,
        tuple(stages),
        syms(per_batch_in),
        syms(per_batch_out),
        syms(const),
        len(plan.system.boards),
    )


def layout_of_plan(plan: Plan) -> Layout:
    """The host's view of a plan read from a bundle (``aci.bundle``): what each stage
    takes, gives and reads as constants, from the moves of its steps (board addresses
    and lengths). A bundle carries no element types: the per-batch buffers are bytes
    (``u8``, one row of bytes per image)."""
    stage_of = {b: s for s, (_, boards) in enumerate(plan.stages) for b in boards}
    n = len(plan.stages)
    takes: list[dict] = [{} for _ in range(n)]
    gives: list[dict] = [{} for _ in range(n)]
    consts: list[dict] = [{} for _ in range(n)]
    for st in plan.steps:
        for m in st.moves:
            if st.kind == "send":
                book = consts if st.batch < 0 else takes
                book[stage_of[st.dst]][m.buffer] = Buf(m.buffer, m.dst, m.length)
            elif st.kind == "transfer":
                gives[stage_of[st.src]][m.buffer] = Buf(m.buffer, m.src, m.length)
                takes[stage_of[st.dst]][m.buffer] = Buf(m.buffer, m.dst, m.length)
            elif st.kind == "collect":
                gives[stage_of[st.src]][m.buffer] = Buf(m.buffer, m.src, m.length)
    index = {b: i for i, b in enumerate(plan.system.boards)}
    stages = tuple(
        Stage(
            s,
            part.name,
            part.data,
            tuple(takes[s].values()),
            tuple(gives[s].values()),
            tuple(consts[s].values()),
            tuple(index[b] for b in boards),
            part.run_ns,
        )
        for s, (part, boards) in enumerate(plan.stages)
    )

    def sym(h) -> BufferSymbol:
        size = h.size // plan.batches
        return BufferSymbol(h.name, "u8", h.role, (plan.batch, size // plan.batch), 0, 0, size)

    every_const = {b.name: b for st in stages for b in st.constants}
    return Layout(
        plan.batch,
        stages,
        tuple(sym(h) for h in plan.host_buffers if h.role == "input" and h.per_batch),
        tuple(sym(h) for h in plan.host_buffers if h.role == "output"),
        tuple(
            BufferSymbol(b.name, "u8", "input", (b.size,), 0, b.address, b.size)
            for b in every_const.values()
        ),
        len(plan.system.boards),
    )


# ---- the host's bookkeeping --------------------------------------------------------------


class Ticket:
    """One batch: ``result(timeout)`` its outputs by name (bytes of the batch's size),
    or raises the FleetError that ended it."""

    def __init__(self, batch: int):
        self.batch = batch
        self._done = threading.Event()
        self._value: dict[str, bytes] | None = None
        self._error: BaseException | None = None
        self._guard = threading.Lock()
        self._callbacks: list[Callable[[Ticket], None]] = []
        self.board = -1  # the board whose run completed the last stage

    def done(self) -> bool:
        return self._done.is_set()

    def on_done(self, fn: Callable[[Ticket], None]) -> None:
        """Call ``fn(ticket)`` once the ticket is settled (at once if it is): from the
        thread that settles it, which must not wait on the fleet."""
        with self._guard:
            if not self._done.is_set():
                self._callbacks.append(fn)
                return
        fn(self)

    def result(self, timeout: float | None = None) -> dict[str, bytes]:
        if not self._done.wait(timeout):
            raise TimeoutError(f"batch {self.batch} not done in {timeout} s")
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value

    def _set(self, value=None, error=None) -> bool:
        """Settle the ticket; False when it was settled already (never twice)."""
        with self._guard:
            if self._done.is_set():
                return False
            self._value, self._error = value, error
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn(self)
        return True


@attrs.define
class Item:
    batch: int
    stage: int
    data: dict  # the batch's buffers so far: its inputs, then what each stage gave


@attrs.define
class Health:
    url: str
    state: str = "starting"  # starting, up, down
    stages: tuple[int, ...] = ()  # the stages it serves now
    runs: int = 0  # runs completed (each a batch of one stage)
    busy_s: float = 0.0  # wall time of its runs, from RUN to their result
    restarts: int = 0  # board restarts its session recovered from
    resent: int = 0  # requests sent again after a timeout
    error: str = ""  # why it is down
    working: bool = False  # a batch is on it now


# ---- the fleet ---------------------------------------------------------------------------


class Fleet:
    def __init__(
        self,
        lay: Layout,
        boards: Iterable[tuple[str, bytes]],
        keys: tuple[bytes, bytes],
        constants: Mapping[str, bytes] | None = None,
        timeout: float = 2.0,
        patience: float = 30.0,
        timing_only: bool = False,
        rejoin: float = 0.0,
        on_event: Callable[[dict], None] | None = None,
    ):
        self.layout = lay
        self.boards = list(boards)
        if len(self.boards) != lay.boards:
            raise FleetError(
                f"the plan is for {lay.boards} board{'s' if lay.boards != 1 else ''}, "
                f"{len(self.boards)} given"
            )
        self.keys, self.timeout, self.patience = keys, timeout, patience
        self.timing_only, self.rejoin = timing_only, rejoin
        self.on_event = on_event
        self.constants = dict(constants or {})
        known = {b.name: b for b in lay.constants}
        for name, value in self.constants.items():
            if name not in known:
                raise FleetError(
                    f"`{name}` is not a constant of the network (its constants: "
                    f"{', '.join(known) or 'none'})"
                )
            if len(value) != known[name].size:
                raise FleetError(
                    f"constant `{name}`: {len(value)} bytes given, the buffer holds "
                    f"{known[name].size}"
                )
        self._lock = threading.Condition()
        self._queue: dict[tuple[int, int], Item] = {}  # (batch, stage) -> ready item
        self._tickets: dict[int, Ticket] = {}
        self._next_batch = 0
        self._closed = False
        self._fatal: FleetError | None = None
        self.health = [Health(url) for url, _ in self.boards]
        self._plan_stage = {}
        for st in lay.stages:
            for b in st.boards:
                self._plan_stage[b] = st.index
                self.health[b].stages = (st.index,)
        self._threads = [
            threading.Thread(target=self._worker, args=(i,), daemon=True, name=f"board-{i}")
            for i in range(len(self.boards))
        ]
        for t in self._threads:
            t.start()

    # ---- the API ---------------------------------------------------------------------

    def submit(self, inputs: Mapping[str, bytes]) -> Ticket:
        """Queue one batch; its per-batch input buffers by name (each the batch's bytes)."""
        need = {b.name: b.size for b in self.layout.inputs}
        if set(inputs) != set(need):
            raise FleetError(
                f"a batch takes {', '.join(need) or 'no buffers'}; given {', '.join(inputs) or 'none'}"
            )
        for name, value in inputs.items():
            if len(value) != need[name]:
                raise FleetError(
                    f"buffer `{name}`: {len(value)} bytes given, a batch holds {need[name]}"
                )
        with self._lock:
            k = self._next_batch
            self._next_batch += 1
            ticket = self._tickets[k] = Ticket(k)
            if self._fatal is not None:
                ticket._set(error=self._fatal)
                return ticket
            if not self._live() and not self.rejoin:
                ticket._set(error=self._no_board())
                return ticket
            self._queue[(k, 0)] = Item(k, 0, {n: bytes(v) for n, v in inputs.items()})
            self._lock.notify_all()
        return ticket

    def run(self, batches: Iterable[Mapping[str, bytes]]) -> list[dict[str, bytes]]:
        """Every batch, its outputs in order; the first FleetError raised."""
        tickets = [self.submit(b) for b in batches]
        return [t.result() for t in tickets]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for t in self._tickets.values():
                t._set(error=FleetError("the fleet was closed before this batch was done"))
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=self.patience + 5)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def room(self) -> int:
        """Boards of the first stage that are up and idle, less the batches queued for
        them: how many batches could start now."""
        with self._lock:
            free = sum(h.state == "up" and 0 in h.stages and not h.working for h in self.health)
            return free - sum(s == 0 for _, s in self._queue)

    def live(self) -> int:
        """Boards not lost (up, or still connecting)."""
        with self._lock:
            return len(self._live())

    def pending(self) -> int:
        """Batches submitted and not done."""
        with self._lock:
            return sum(not t.done() for t in self._tickets.values())

    # ---- the scheduler (under the lock) ------------------------------------------------------

    def _live(self) -> list[int]:
        return [i for i, h in enumerate(self.health) if h.state != "down"]

    def _no_board(self) -> FleetError:
        lost = "; ".join(f"{h.url}: {h.error}" for h in self.health if h.error) or "none answered"
        return FleetError(f"no board remains ({lost})")

    def _emit(self, **event) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a display must not stop the boards
                pass

    def _take(self, i: int) -> Item | None:
        """The next item for board i (lowest batch, then latest stage), waiting for one;
        None when the fleet closes or the board is no longer live."""
        while True:
            if self._closed or self._fatal is not None or self.health[i].state == "down":
                return None
            mine = [key for key in self._queue if key[1] in self.health[i].stages]
            if mine:
                key = min(mine, key=lambda x: (x[0], -x[1]))
                self.health[i].working = True
                return self._queue.pop(key)
            self._lock.wait()

    def _lost(self, i: int, item: Item | None, error: str) -> None:
        """Board i failed: its item back in the queue, its stages to other boards."""
        h = self.health[i]
        h.state, h.error, h.working = "down", error, False
        orphaned = h.stages
        h.stages = ()
        if item is not None:
            self._queue[(item.batch, item.stage)] = item
        self._emit(ev="board_down", board=i, url=h.url, error=error)
        live = self._live()
        if not live:
            if not self.rejoin:
                err = self._no_board()
                for t in self._tickets.values():
                    t._set(error=err)
                self._queue.clear()
            self._lock.notify_all()
            return
        for s in orphaned:
            if any(s in self.health[j].stages for j in live):
                continue
            self._adopt(s, live)
        self._lock.notify_all()

    def _adopt(self, s: int, live: list[int]) -> None:
        """Give stage s, which no live board serves, to a live board."""

        def servers(stage):
            return sum(stage in self.health[j].stages for j in live)

        def key(j):
            h = self.health[j]
            most = max((servers(x) for x in h.stages), default=0)
            return (-most, len(h.stages), j)

        j = min(live, key=key)
        h = self.health[j]
        if h.stages and all(servers(x) > 1 for x in h.stages):
            h.stages = (s,)  # moved: its stages keep other boards
        else:
            h.stages = tuple(sorted(set(h.stages) | {s}))
        self._emit(ev="stage_moved", stage=s, board=j, url=h.url, stages=h.stages)

    def _done(self, i: int, item: Item, gave: dict[str, bytes]) -> None:
        self.health[i].working = False
        self.health[i].runs += 1
        data = {**item.data, **gave}
        last = item.stage == len(self.layout.stages) - 1
        if not last:
            self._queue[(item.batch, item.stage + 1)] = Item(item.batch, item.stage + 1, data)
        else:
            ticket = self._tickets[item.batch]
            ticket.board = i
            outputs = {b.name: data[b.name] for b in self.layout.outputs}
            if ticket._set(outputs):
                self._emit(ev="batch_done", batch=item.batch, board=i, url=self.health[i].url)
        self._lock.notify_all()

    def _fail_all(self, error: FleetError) -> None:
        self._fatal = error
        for t in self._tickets.values():
            t._set(error=error)
        self._queue.clear()
        self._lock.notify_all()

    # ---- one board ------------------------------------------------------------------------------

    def _worker(self, i: int) -> None:
        url, key = self.boards[i]
        while True:
            board = Board(url, key, self.keys, self.timeout, self.patience, client="acic fleet")
            try:
                self._serve(i, board)
                return
            except RemoteError as e:
                pass_on = str(e)
            finally:
                board.close()
            if not self.rejoin:
                return
            # Ask it again now and then; it takes its stage back when it answers.
            while True:
                with self._lock:
                    self._lock.wait(self.rejoin)
                    if self._closed or self._fatal is not None:
                        return
                probe = Board(url, key, self.keys, self.timeout, min(self.patience, self.rejoin))
                try:
                    probe.connect()
                    break
                except RemoteError:
                    continue
                finally:
                    probe.close()
            with self._lock:
                h = self.health[i]
                h.state, h.error = "starting", ""
                stage = self._plan_stage.get(i, 0)
                h.stages = (stage,)
                self._emit(ev="board_back", board=i, url=url, previous_error=pass_on)
                live = self._live()
                for s in range(len(self.layout.stages)):  # after every board was lost
                    if not any(s in self.health[j].stages for j in live):
                        self._adopt(s, live)
                self._lock.notify_all()

    def _serve(self, i: int, board: Board) -> None:
        """Board i's loop; RemoteError when the board is lost (its item requeued)."""
        h = self.health[i]
        loaded = -1
        item = None
        try:
            board.connect()
            with self._lock:
                h.state = "up"
                self._emit(ev="board_up", board=i, url=h.url)
            while True:
                with self._lock:
                    item = self._take(i)
                if item is None:
                    return
                stage = self.layout.stages[item.stage]
                if loaded != stage.index:
                    loaded = -1
                    refused = board.load(stage.image)
                    if refused is not None:
                        raise FleetError(
                            f"board {h.url} refused the image of stage {stage.index} "
                            f"({stage.name}): validator code {refused[0]} at offset {refused[1]}"
                        )
                    for b in stage.constants:
                        if b.name in self.constants:
                            board.write(self.constants[b.name], b.address)
                    board.checkpoint()
                    loaded = stage.index
                for b in stage.takes:
                    board.write(item.data[b.name], b.address)
                start = time.perf_counter()
                res, _ = board.run(timing_only=self.timing_only)
                busy = time.perf_counter() - start
                if res["error_code"]:
                    from .format import ERROR_BY_CODE

                    err = ERROR_BY_CODE.get(res["error_code"])
                    raise FleetError(
                        f"batch {item.batch}, stage {stage.index} ({stage.name}) on board "
                        f"{h.url}: run-time error {err.name if err else 'internal'} (code "
                        f"{res['error_code']}) at offset {res['error_offset']}"
                    )
                gave = {b.name: board.read(b.size, b.address) for b in stage.gives}
                board.rewind()
                with self._lock:
                    h.busy_s += busy
                    h.restarts, h.resent = board.restarts, board.resent
                    self._done(i, item, gave)
                    item = None
        except RemoteError as e:
            with self._lock:
                h.restarts, h.resent = board.restarts, board.resent
                self._lost(i, item, str(e))
            raise
        except FleetError as e:
            with self._lock:
                h.working = False
                self._fail_all(e)


# ---- whole-run arrays to batches and back ------------------------------------------------------


def split_batches(lay: Layout, inputs: Mapping[str, bytes]) -> tuple[list[dict[str, bytes]], int]:
    """A whole run's per-batch inputs (each buffer the images' bytes one after the
    other, all buffers the same number of images) cut into batches, the last one
    padded with zeros; and the number of images."""
    counts = {}
    for b in lay.inputs:
        if b.name not in inputs:
            raise FleetError(f"no data for the input buffer `{b.name}` (give it with --set)")
        per = lay.per_image(b)
        value = inputs[b.name]
        if len(value) % per or not value:
            raise FleetError(
                f"buffer `{b.name}`: {len(value):,} bytes is not a whole number of images "
                f"of {per:,} bytes"
            )
        counts[b.name] = len(value) // per
    if len(set(counts.values())) > 1:
        raise FleetError(
            "the input buffers hold different numbers of images: "
            + ", ".join(f"`{k}` {v}" for k, v in counts.items())
        )
    images = next(iter(counts.values()), 0)
    batches = []
    for k in range(0, images, lay.batch):
        batch = {}
        for b in lay.inputs:
            per = lay.per_image(b)
            chunk = inputs[b.name][k * per : (k + lay.batch) * per]
            batch[b.name] = chunk + bytes(b.size - len(chunk))
        batches.append(batch)
    return batches, images


def join_batches(lay: Layout, outputs: list[dict[str, bytes]], images: int) -> dict[str, bytes]:
    """The batches' outputs as whole-run buffers of ``images`` images (padding dropped)."""
    out = {}
    for b in lay.outputs:
        whole = b"".join(o[b.name] for o in outputs)
        out[b.name] = whole[: images * lay.per_image(b)]
    return out
