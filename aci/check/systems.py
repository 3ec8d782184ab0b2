"""The checker's part for ``system`` declarations (docs/language.md, "Systems").

``check_systems(ctx, programs)`` checks each system of the unit against its checked
programs and targets and returns the checked :class:`aci.program.System` values: the
boards, links, stages (a program and the boards that run it) and the data flow that
placement implies (:class:`aci.program.Flow`: what the host sends, what moves between
boards, what the host collects). Problems are reported on the context (codes E010,
E011, E020-E027, E034 and E100-E105 of :data:`aci.diagnostics.CODES`); numbers are
evaluated as a target's are (:func:`aci.check.consts.want_int`). A system whose
programs did not check is checked for its own declarations only.
"""

from __future__ import annotations

import math

from .. import ast, units
from .. import format as F
from .. import program as P
from ..diagnostics import Note
from ..span import Span
from .consts import want_int
from .context import Context

HOST = "host"
NAME_BYTES = 15  # a board's name in a bundle: name16, NUL-padded
MAX_BOARDS = 64  # aci.bundle.LIMITS["max_boards"]
MAX_BATCHES = (1 << 32) - 2  # a bundle's batch field, below its "none"

LINK_FIELDS = {"rate": units.RATE, "latency": units.TIME}
SYSTEM_FIELDS = {"batches": units.COUNT, "batch": units.COUNT}  # and `stream`, of names
ITEM_WORDS = {ast.SystemBoard: "board", ast.SystemLink: "link", ast.SystemRun: "run"}


def accesses(prog: P.Program) -> tuple[frozenset, frozenset]:
    """The buffers a program's tasks read and write, by name."""
    reads: set[str] = set()
    writes: set[str] = set()
    for t in P.walk_tasks(prog):
        for port, view in zip(t.core.ports, t.ports, strict=True):
            (writes if port.direction == "out" else reads).add(view.buffer.name)
    return frozenset(reads), frozenset(writes)


def check_systems(ctx: Context, programs: dict[str, P.Program]) -> dict[str, P.System]:
    out = {}
    for name, s in ctx.system_asts.items():
        if name in ctx.program_asts:
            ctx.err(
                "E011",
                f"`{name}` names a program and a system",
                s.name.span,
                Note("the program is declared here", ctx.program_asts[name].name.span),
            )
            continue
        checked = _System(ctx, s, programs).run()
        if checked is not None:
            out[name] = checked
    return out


class _System:
    def __init__(self, ctx: Context, s: ast.System, programs: dict[str, P.Program]):
        self.ctx, self.s, self.programs = ctx, s, programs
        self.program_names = set(ctx.program_asts)
        self.targets = ctx.target_asts
        self.ok = True

    def fail(self, code: str, message: str, span: Span | None, *notes: Note) -> None:
        self.ok = False
        self.ctx.err(code, message, span, *notes)

    def want_int(self, e: ast.Expr, what: str, dims) -> int | None:
        return want_int(self.ctx, e, {}, what, dims)

    def items(self, cls):
        """The items of one kind whose first word is right (E027 for the others)."""
        word = ITEM_WORDS.get(cls)
        for item in self.s.items:
            if not isinstance(item, cls):
                continue
            if word is not None and item.word.name != word:
                self.fail(
                    "E027",
                    f"unknown system item `{item.word.name}` (items: board, link, run, stream, "
                    + ", ".join(SYSTEM_FIELDS)
                    + ")",
                    item.word.span,
                )
                continue
            yield item

    def run(self) -> P.System | None:
        s = self.s
        boards = self.boards()
        links = self.links(boards)
        fields = self.fields()
        stages = self.stages(boards)
        streams = self.streams()
        if not any(isinstance(i, ast.SystemRun) for i in s.items):
            self.fail(
                "E026",
                f"system `{s.name.name}` runs no program: add `run PROGRAM on BOARD`",
                s.name.span,
            )
        if not self.ok:
            return None
        progs = [self.programs.get(st.program) for st in stages]
        if any(p is None for p in progs):
            return None  # a program with errors: already reported
        flows = self.flows(stages, progs, streams, links, fields["batches"])
        if not self.ok:
            return None
        return P.System(
            s.name.name,
            tuple(boards.values()),
            tuple(links.values()),
            tuple(stages),
            tuple(sorted(streams)),
            fields["batches"],
            fields["batch"],
            tuple(flows),
            s.span,
        )

    # ---- declarations ----------------------------------------------------------------

    def boards(self) -> dict[str, P.SystemBoard]:
        out: dict[str, P.SystemBoard] = {}
        for item in self.items(ast.SystemBoard):
            name = item.name.name
            if name == HOST:
                self.fail(
                    "E011",
                    "`host` names the host in a system: a board cannot take it",
                    item.name.span,
                )
                continue
            if name in out:
                self.fail(
                    "E011",
                    f"board `{name}` is declared twice",
                    item.name.span,
                    Note("first declared here", out[name].span),
                )
                continue
            if len(name.encode()) > NAME_BYTES:
                self.fail(
                    "E034",
                    f"board name `{name}` is {len(name.encode())} bytes; a bundle holds {NAME_BYTES}",
                    item.name.span,
                )
                continue
            target = item.target.name
            if target not in self.targets:
                self.fail("E010", f"unknown target `{target}`", item.target.span)
                continue
            out[name] = P.SystemBoard(name, target, item.span)
        if len(out) > MAX_BOARDS:
            self.fail(
                "E024",
                f"a system has at most {MAX_BOARDS} boards, not {len(out)}",
                self.s.name.span,
            )
        return out

    def end(self, ident: ast.Ident, boards) -> str | None:
        if ident.name == HOST or ident.name in boards:
            return ident.name
        self.fail(
            "E010",
            f"unknown board `{ident.name}` (boards: {', '.join(boards) or 'none'}, and `host`)",
            ident.span,
        )
        return None

    def links(self, boards) -> dict[frozenset, P.SystemLink]:
        out: dict[frozenset, P.SystemLink] = {}
        for item in self.items(ast.SystemLink):
            a, b = self.end(item.a, boards), self.end(item.b, boards)
            values = self.named_values(item.fields, LINK_FIELDS, "link", item.span)
            if a is None or b is None or values is None:
                continue
            if a == b:
                self.fail("E102", f"a link joins `{a}` to itself", item.span)
                continue
            key = frozenset((a, b))
            if key in out:
                self.fail(
                    "E102",
                    f"two links join `{a}` and `{b}`",
                    item.span,
                    Note("the first is here", out[key].span),
                )
                continue
            out[key] = P.SystemLink(a, b, values["rate"], values["latency"], item.span)
        return out

    def named_values(
        self, items, fields: dict, what: str, span: Span, optional=None
    ) -> dict | None:
        values: dict[str, int] = {}
        seen: dict[str, Span] = {}
        ok = True
        for f in items:
            name = f.name.name
            if name not in fields:
                self.fail(
                    "E027",
                    f"unknown {what} field `{name}` (fields: "
                    + ("board, link, run, stream, " if what == "system" else "")
                    + f"{', '.join(fields)})",
                    f.name.span,
                )
                ok = False
                continue
            if name in seen:
                self.fail(
                    "E026",
                    f"`{name}` is given twice",
                    f.name.span,
                    Note("first given here", seen[name]),
                )
                ok = False
                continue
            seen[name] = f.span
            v = self.want_int(f.value, f"`{name}`", (fields[name],))
            if v is None:
                ok = False
                self.ok = False
            elif fields[name] == units.RATE and not 1 <= v <= F.LIMITS["max_rate"]:
                self.fail(
                    "E024",
                    f"`{name}` must be positive and at most {F.LIMITS['max_rate']} bits/s",
                    f.value.span,
                )
                ok = False
            elif fields[name] == units.TIME and not 0 <= v <= F.LIMITS["max_time_ns"]:
                self.fail(
                    "E024", f"`{name}` must be 0 to {F.LIMITS['max_time_ns']} ns", f.value.span
                )
                ok = False
            elif fields[name] == units.COUNT and not 1 <= v <= MAX_BATCHES:
                self.fail("E024", f"`{name}` must be 1 to {MAX_BATCHES}", f.value.span)
                ok = False
            else:
                values[name] = v
        values = {**(optional or {}), **values}
        missing = [f for f in fields if f not in values]
        if missing and ok:
            self.fail("E026", f"the {what} lacks " + ", ".join(f"`{m}`" for m in missing), span)
            return None
        return values if ok and not missing else None

    def fields(self) -> dict[str, int]:
        items = []
        for f in self.s.items:
            if not isinstance(f, ast.SystemField) or f.name.name == "stream":
                continue
            if f.name.name in SYSTEM_FIELDS and len(f.values) != 1:
                self.fail("E025", f"`{f.name.name}` takes one number", f.values[1].span)
                continue
            items.append(ast.Resource(name=f.name, value=f.values[0], span=f.span))
        defaults = {"batches": 1, "batch": 1}
        values = self.named_values(items, SYSTEM_FIELDS, "system", self.s.name.span, defaults)
        return values or defaults

    def stages(self, boards) -> list[P.Stage]:
        out: list[P.Stage] = []
        runs: dict[str, ast.SystemRun] = {}
        board_of: dict[str, Span] = {}
        for item in self.items(ast.SystemRun):
            name = item.program.name
            if name not in self.program_names:
                self.fail("E010", f"unknown program `{name}`", item.program.span)
                continue
            if name in runs:
                self.fail(
                    "E011",
                    f"program `{name}` runs twice",
                    item.program.span,
                    Note("first run here", runs[name].span),
                )
                continue
            runs[name] = item
            on = []
            for ident in item.boards:
                b = self.end(ident, boards)
                if b is None:
                    continue
                if b == HOST:
                    self.fail("E010", "a program runs on a board, not on the host", ident.span)
                    continue
                if b in board_of:
                    self.fail(
                        "E103",
                        f"board `{b}` runs two programs",
                        ident.span,
                        Note("its first `run` is here", board_of[b]),
                    )
                    continue
                board_of[b] = ident.span
                prog = self.programs.get(name)
                if prog is not None and prog.target.name != boards[b].target:
                    self.fail(
                        "E100",
                        f"program `{name}` is built for target `{prog.target.name}`, but board `{b}` is a `{boards[b].target}`",
                        ident.span,
                        Note("the board is declared here", boards[b].span),
                    )
                    continue
                on.append(b)
            if on:
                out.append(P.Stage(name, tuple(on), item.span))
        return out

    def streams(self) -> dict[str, Span]:
        out: dict[str, Span] = {}
        for item in self.s.items:
            if isinstance(item, ast.SystemField) and item.name.name == "stream":
                for e in item.values:
                    if isinstance(e, ast.Name):
                        out.setdefault(e.name, e.span)
                    else:
                        self.fail("E025", "`stream` takes the names of buffers", e.span)
        return out

    # ---- the data flow ------------------------------------------------------------------

    def linked(self, a: str, b: str, links) -> bool:
        return frozenset((a, b)) in links

    def need_link(self, a: str, b: str, links, why: str, span: Span, *notes: Note) -> bool:
        if self.linked(a, b, links):
            return True
        self.fail("E101", f"no link joins `{a}` and `{b}`: {why}", span, *notes)
        return False

    def flows(self, stages, progs, streams, links, batches) -> list[P.Flow]:
        rw = [accesses(p) for p in progs]
        roles: dict[str, P.Buffer] = {}
        for p in progs:
            for b in p.buffers:
                roles.setdefault(b.name, b)
        used = set().union(*(r | w for r, w in rw))
        for name, span in streams.items():
            buf = roles.get(name)
            if buf is None or name not in used:
                self.fail(
                    "E105",
                    f"`{name}` is streamed, but no program of the system uses a buffer of that name",
                    span,
                )
            elif buf.role == "scratch":
                self.fail(
                    "E105",
                    f"`{name}` is streamed, but it is a scratch buffer: only inputs and outputs go to and from the host",
                    span,
                )
        out: list[P.Flow] = []
        for s, stage in enumerate(stages):
            for b in stage.boards:
                self.need_link(
                    HOST,
                    b,
                    links,
                    f"board `{b}` runs `{stage.program}`, and its image is loaded over such a link",
                    stage.span,
                )
            reads, writes = rw[s]
            for name in sorted(reads):
                writer = next((t for t in range(s - 1, -1, -1) if name in rw[t][1]), None)
                buf = roles[name]
                if writer is not None:
                    w = stages[writer]
                    pairs = {
                        (w.boards[k % len(w.boards)], stage.boards[k % len(stage.boards)])
                        for k in range(min(batches, math.lcm(len(w.boards), len(stage.boards))))
                    }
                    for a, b in sorted(pairs):
                        self.need_link(
                            a,
                            b,
                            links,
                            f"`{stage.program}` on `{b}` reads `{name}`, which `{w.program}` writes on `{a}`",
                            stage.span,
                            Note(f"`{w.program}` runs here", w.span),
                        )
                    out.append(P.Flow("transfer", name, writer, s, True))
                elif buf.role == "input":
                    if name in streams:
                        out.append(P.Flow("send", name, -1, s, True))
                    elif buf.init is None:
                        out.append(P.Flow("send", name, -1, s, False))
                elif name not in writes:
                    self.fail(
                        "E104",
                        f"`{stage.program}` reads `{name}` on {_boards(stage.boards)}, which does not hold it: "
                        f"no earlier stage writes it and it is not an input",
                        stage.span,
                        Note(f"`{name}` is declared here", buf.span),
                    )
        for name in sorted(b for b, buf in roles.items() if buf.role == "output"):
            writer = next((t for t in range(len(stages) - 1, -1, -1) if name in rw[t][1]), None)
            if writer is not None:
                out.append(P.Flow("collect", name, writer, -1, True))
        return out


def _boards(names) -> str:
    return ", ".join(f"`{b}`" for b in names)
