"""The image format's limits as the checker applies them to a program.

``field_max`` and ``name_max`` read a field's capacity from aci.format (the one
definition). ``image_limits(scope, body, cores)`` bounds a whole program before any
later stage runs: E082 (no core), E084 (too many operations), E085 (too large an
image).
"""

from __future__ import annotations

from .. import format as F
from .. import program as P
from ..format import LIMITS
from .context import Scope


def field_max(struct: F.Struct, name: str) -> int:
    """The largest value an unsigned field of the image format holds."""
    t = next(f.type for f in struct.fields if f.name == name)
    return (1 << 8 * F.FIELD_TYPES[t][1]) - 1


def name_max(struct: F.Struct, name: str = "name") -> int:
    """The longest name (bytes) a NUL-padded name field of the image format keeps."""
    t = next(f.type for f in struct.fields if f.name == name)
    return F.FIELD_TYPES[t][1] - 1


def image_limits(sc: Scope, body: list, cores: tuple[P.Core, ...]) -> None:
    """E082 (no core), E084 (too many operations), E085 (too large an image).

    Both counts are upper bounds of what compiling gives, whatever the scheduler and
    the balancer choose: every window counts a reconfiguration per slot its tasks may
    use besides its own requests, a window the balancer may split counts its loop once
    per slot, and a task counts a wait per other slot."""
    name = sc.program.name
    if not cores:
        sc.err(
            "E082",
            f"program `{name.name}` runs no task and loads no core: an image needs at least one "
            "core",
            name.span,
        )
        return
    slots = sc.target.slots
    insn = F.INSN_HEADER.size
    waits = min(LIMITS["max_waits"], slots - 1) * F.WAIT.size
    files: set[str] = set()
    totals = {"ops": 0, "bytes": 0, "insns": 0, "params": 0}

    def node(n, levels: int, mult: int) -> tuple[int, int, int]:
        """(operations, bytes, instructions) of one instance of n."""
        files.add(n.span.file)
        if isinstance(n, P.Task):
            totals["params"] += 4 * len(n.params)
            return (
                mult,
                insn
                + F.BY_NAME["TASK"].fields.size
                + len(n.ports) * (F.PORT.size + 8 * levels)
                # one wait per other slot, at most
                + waits,
                1,
            )
        inner = [node(b, levels + 1, mult * n.var.count) for b in n.body]  # a Loop
        return (
            sum(x[0] for x in inner),
            insn + F.BY_NAME["LOOP"].fields.size + sum(x[1] for x in inner),
            1 + sum(x[2] for x in inner),
        )

    def window(w: P.Window, levels: int, mult: int) -> tuple[int, int, int]:
        files.add(w.span.file)
        ops, size, count = 0, insn, 1
        tasks = [t for p in w.parsecs for t in P.walk_tasks(p)]
        split = (
            len(w.parsecs) == 1
            and len(w.parsecs[0].threads) == 1
            and len(w.parsecs[0].threads[0].body) == 1
            and isinstance(w.parsecs[0].threads[0].body[0], P.Loop)
        )
        copies = slots if split else 1
        reconfs = len(w.reconfigure) + min(slots, len(tasks) * copies)
        ops += mult * reconfs
        size += reconfs * (insn + F.BY_NAME["RECONF"].fields.size)
        count += reconfs
        for p in w.parsecs:
            files.add(p.span.file)
            size += insn * copies if split else insn
            count += 1
            for th in p.threads:
                files.add(th.span.file)
                parts = [node(b, levels, mult) for b in th.body]
                ops += sum(x[0] for x in parts)
                size += (insn + sum(x[1] for x in parts)) * copies
                count += (1 + sum(x[2] for x in parts)) * copies
        return ops, size, count

    for n in body:
        if isinstance(n, P.Repeat):
            files.add(n.span.file)
            parts = [window(w, 1, n.var.count) for w in n.windows]
            sizes = (insn + F.BY_NAME["REPEAT"].fields.size, 1)
        else:
            parts, sizes = [window(n, 0, 1)], (0, 0)
        totals["ops"] += sum(x[0] for x in parts)
        totals["bytes"] += sizes[0] + sum(x[1] for x in parts)
        totals["insns"] += sizes[1] + sum(x[2] for x in parts)
    if totals["ops"] > LIMITS["max_operations"]:
        sc.err(
            "E084",
            f"program `{name.name}` may run {totals['ops']} operations (tasks and reconfigurations, "
            f"loops unrolled), over the image format's limit of {LIMITS['max_operations']}",
            name.span,
        )
    size = (
        F.HEADER.size
        + 6 * F.SECTION_ENTRY.size
        + F.TARGET.size
        + len(sc.target.memories) * F.MEMORY.size
        + F.CORES.size
        + len(cores) * F.CORE.size
        + F.SYNC.size
        + totals["params"]
        + totals["bytes"]
        + F.SYMBOLS.size
        + len(sc.buffers) * F.BUFFER.size
        + len(files) * F.FILE.size
        + totals["insns"] * F.LINE.size
        + 6 * 7
    )
    what = None
    if size > LIMITS["max_image_bytes"]:
        what = f"its image may take {size} bytes, over the image format's limit of {LIMITS['max_image_bytes']}"
    elif len(sc.buffers) > field_max(F.SYMBOLS, "buffer_count"):
        what = (
            f"its image would name {len(sc.buffers)} buffers, over the image format's limit of "
            f"{field_max(F.SYMBOLS, 'buffer_count')}"
        )
    elif len(files) > field_max(F.SYMBOLS, "file_count"):
        what = (
            f"its image would name {len(files)} source files, over the image format's limit of "
            f"{field_max(F.SYMBOLS, 'file_count')}"
        )
    if what:
        sc.err("E085", f"program `{name.name}` is too large: {what}", name.span)
