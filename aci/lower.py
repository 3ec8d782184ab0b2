"""Stage 8, lower: a checked, scheduled program to an instruction-level Image.

Buffers become addresses, each port's view an address at the first iteration plus a
stride per enclosing counted level (the REPEAT, then the LOOPs from the outside in:
the coefficients of the affine analysis), parameter blocks are deduplicated into
PARAM, cycle counts come from the checker's evaluation of the core's expression,
and every instruction remembers its source line. A dataflow image takes each task's
waits from the program (``Task.waits``, set by :func:`aci.waits.waits`); a strict
image carries none. Raises nothing on a program the checker accepted and placement
placed; ValueError (a bug in the caller) for a program not placed (aci.place), or a
dataflow image of a program without its waits.
"""

from __future__ import annotations

from . import image as I
from . import program as P


def _resources(c: P.Core) -> tuple[int, int, int, int]:
    """The CORES record's lut, ff, bram, dsp (0: not declared)."""
    lut, ff, bram, dsp = (c.resources.get(r, 0) for r in P.RESOURCES)
    return lut, ff, bram, dsp


def _word(v: int) -> int:
    return v & 0xFFFF_FFFF


class _Lowering:
    def __init__(self, prog: P.Program, dataflow: bool):
        self.prog = prog
        self.dataflow = dataflow
        self.params: list[int] = []
        self.blocks: dict[tuple[int, ...], int] = {}
        self.files: list[str] = []

    def source(self, span) -> I.Source:
        if span.file not in self.files:
            self.files.append(span.file)
        return I.Source(self.files.index(span.file), span.line)

    def block(self, words: tuple[int, ...]) -> int:
        if words not in self.blocks:
            self.blocks[words] = len(self.params)
            self.params.extend(words)
        return self.blocks[words]

    def task(self, t: P.Task, levels: tuple) -> I.Task:
        words = tuple(_word(v) for _, v in t.params)
        ports = []
        for r in t.ports:
            addr = r.address()
            first = addr.const + sum(c * v.start for v, c in addr.coeffs)
            ports.append(I.Port(first, r.length, tuple(addr.coeff(v) for v in levels)))
        waits: tuple[I.Wait, ...] = ()
        if t.slot is None:
            raise ValueError(f"lower: `{self.prog.name}` needs its slots (aci.schedule) first")
        if self.dataflow:
            if t.waits is None:
                raise ValueError(
                    f"lower: a dataflow image of `{self.prog.name}` needs its waits "
                    "(aci.waits.waits) first"
                )
            waits = tuple(I.Wait(s, lag) for s, lag in t.waits)
        return I.Task(
            t.slot,
            t.core.id,
            tuple(ports),
            self.block(words),
            len(words),
            t.cycles,
            waits,
            self.source(t.span),
        )

    def body(self, node, levels):
        if isinstance(node, P.Task):
            return self.task(node, levels)
        if isinstance(node, P.Loop):
            lv = levels + (node.var,)
            return I.Loop(
                node.var.count, tuple(self.body(b, lv) for b in node.body), self.source(node.span)
            )
        raise AssertionError(node)

    def window(self, w: P.Window, levels) -> I.Window:
        recs = tuple(I.Reconf(r.slot, r.core.id, self.source(r.span)) for r in w.reconfigure)
        parsecs = tuple(
            I.Parsec(
                tuple(
                    I.Thread(tuple(self.body(b, levels) for b in th.body), self.source(th.span))
                    for th in p.threads
                ),
                self.source(p.span),
            )
            for p in w.parsecs
        )
        return I.Window(recs, parsecs, self.source(w.span))

    def run(self, symbols: bool) -> I.Image:
        prog = self.prog
        body: list[I.Window | I.Repeat] = []
        for node in prog.body:
            if isinstance(node, P.Window):
                body.append(self.window(node, ()))
            else:
                body.append(
                    I.Repeat(
                        node.var.count,
                        tuple(self.window(w, (node.var,)) for w in node.windows),
                        self.source(node.span),
                    )
                )
        t = prog.target
        target = I.TargetInfo(
            t.slots, t.timing, tuple(I.MemoryInfo(m.name, m.base, m.size) for m in t.memories)
        )
        bits = {b.core: b for b in prog.bitstreams}
        cores = tuple(
            I.CoreInfo(
                c.id,
                c.name,
                tuple(p.direction for p in c.ports),
                len(c.params),
                c.bitstream_size,
                bits[c.name].placed_at,
                _resources(c),
            )
            for c in prog.cores
        )
        syms = None
        if symbols:
            mem_index = {m.name: k for k, m in enumerate(t.memories)}
            bufs = tuple(
                I.BufferSymbol(
                    b.name, b.elem, b.role, b.shape, mem_index[b.memory], b.placed_at, b.size
                )
                for b in prog.buffers
            )
            syms = I.Symbols(bufs, tuple(self.files))
        init = tuple(
            I.InitChunk(b.placed_at, b.init)
            for b in sorted(prog.buffers, key=lambda b: b.placed_at)
            if b.init is not None
        )
        return I.Image(
            target, cores, tuple(self.params), tuple(body), self.dataflow, syms, init=init
        )


def lower(prog: P.Program, mode: str = "strict", symbols: bool = True) -> I.Image:
    if any(b.address is None for b in prog.buffers + prog.bitstreams):
        raise ValueError(f"lower: `{prog.name}` needs its addresses (aci.place.place) first")
    return _Lowering(prog, mode == "dataflow").run(symbols)
