"""The import graph of the aci package: no cycles, and no module imports one of a
higher layer. Every import counts, those inside functions too.

The layers, bottom up (a module may import its own layer and those below; the
compiler's stages also only earlier stages). A new module goes in one of them; one
that is not listed counts as a driver (the top layer), which nothing listed below may
import.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "aci"

LAYERS = [
    # 0. facts and helpers every stage shares: formats, units, the timing record
    # and formulas, spans and diagnostics, affine offsets and overlaps, files
    [
        "span",
        "format",
        "units",
        "timing",
        "affine",
        "overlap",
        "resources",
        "diagnostics",
        "_io",
        "protocol",
        "service",
    ],
    # 1. the representations passed between stages
    ["ast", "program", "image", "buffers"],
    # 2. the compiler's stages in pipeline order (aci.pipeline), then the image's
    #    other readers; ordered: each imports only modules before it
    [
        "_grammar",
        "_lalr",
        "_parser",
        "parse",
        "check.values",
        "check.context",
        "check.consts",
        "check.limits",
        "check.declarations",
        "check.memory",
        "check.usage",
        "check.races",
        "check.tasks",
        "check.hierarchy",
        "check.systems",
        "check",
        "place",
        "pipelining",
        "schedule",
        "deps",
        "waits",
        "lower",
        "encode",
        "decode",
        "asm",
        "machine",
    ],
    # 3. the balancer: its cost model runs schedule, waits, lower and the machine;
    #    its task-granular split (CP-SAT, imported lazily)
    ["phases", "balance"],
    # 4. the engines, the board and its core models, traces and reports, the board
    #    daemon; the importers of trained networks (to programs and parameter files)
    [
        "cores",
        "cores.bits",
        "cores.bnn",
        "cores.bnndata",
        "cores.test_core",
        "models",
        "board",
        "engine",
        "run",
        "firmware_sim",
        "trace",
        "report",
        "daemon",
        "client",
        "imports",
        "imports.network",
        "imports.binarynet",
        "imports.bnnfpga",
        "imports.qonnx",
    ],
    # 5. what drives the rest: the pipeline, the command line, tests, tools
    [
        "pipeline",
        "system",
        "bundle",
        "fleet",
        "serve",
        "testing",
        "pytest_plugin",
        "explore",
        "demo",
        "imports.digits",
        "_generate",
        "_generate_grammar",
        "_cli_args",
        "_cli_run",
        "_cli_explore",
        "_cli_import",
        "_cli_board",
        "_cli_system",
        "_cli_fleet",
        "_cli_serve",
        "cli",
        "__main__",
        "",
    ],
]
ORDERED = 2


def modules() -> dict[str, Path]:
    out = {}
    for p in sorted(ROOT.rglob("*.py")):
        parts = p.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def imports(name: str, path: Path, known) -> set[str]:
    """The aci modules a module imports (``from . import x`` names module x)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    if name == "":
        package = []
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] + (
                    node.module.split(".") if node.module else []
                )
            elif node.module and (node.module == "aci" or node.module.startswith("aci.")):
                base = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                target = ".".join(base + [alias.name])
                found.add(target if target in known else ".".join(base))
        elif isinstance(node, ast.Import):
            found |= {a.name[4:] for a in node.names if a.name.startswith("aci.")}
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, mods) for name, path in mods.items()}


def test_layers_name_modules():
    placed = [m for layer in LAYERS for m in layer]
    assert len(placed) == len(set(placed))
    assert not sorted(set(placed) - set(modules())), "a listed module no longer exists"


def test_no_import_goes_up():
    layer = {m: len(LAYERS) - 1 for m in modules()} | {
        m: k for k, mods in enumerate(LAYERS) for m in mods
    }
    order = {m: k for k, m in enumerate(LAYERS[ORDERED])}
    bad = []
    for name, deps in graph().items():
        for dep in deps:
            if layer[dep] > layer[name] or (
                layer[dep] == layer[name] == ORDERED and order[dep] > order[name]
            ):
                bad.append(f"aci.{name} imports aci.{dep}")
    assert not bad, bad


def test_no_cycles():
    g = graph()
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(g[m]):
            assert state.get(d) != 1, "import cycle: " + " -> ".join(path[path.index(d) :] + [m, d])
            if d not in state:
                visit(d, path + [m])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [])


def test_the_graph_is_read():
    """The checks above see real edges (a guard against a parser that finds none)."""
    g = graph()
    assert (
        {"program", "diagnostics"} <= g["check"]
        and "waits" in g["pipeline"]
        and "check" in g["pipeline"]
    )
    assert "cores.bits" in g["cores.bnn"] and "deps" in g["waits"]
