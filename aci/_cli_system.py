"""``acic plan``: the best arrangement of a network on several boards (docs/system.md).

    acic plan FILE.aci --boards N[,N...] [--batch B] [--batches K] [--link-gbps G]
              [--latency-us U] [-D NAME=VALUE] [--program P] [--json] [--perfetto OUT.json]
              [--bundle OUT.acb]

Compiles the single-board program with IMAGES = BATCH = B (one run per batch),
simulates every candidate of :func:`aci.system.candidates` on a system of N boards
(a link from the host to each and between every two, G Gb/s and U us each) over K
batches, and prints the chosen plan, its per-board and per-link use, and every
alternative's throughput; with several numbers of boards, one line per number: the
best plan's throughput and its throughput per board relative to the first (the
sweep over boards). ``--perfetto`` writes the chosen plan's simulated trace
(one track per board and per link direction), ``--bundle`` the chosen plan as a
bundle file (:mod:`aci.bundle`). Exit 0; 1 for a program that does not
compile or cannot be cut; 2 for bad flags.
"""

from __future__ import annotations

import argparse
import json
import sys

from ._cli_args import UsageError, parse_defines


def add_plan_parser(subparsers) -> argparse.ArgumentParser:
    c = subparsers.add_parser("plan", help="choose how to run a network on several boards")
    c.add_argument("file", metavar="FILE.aci")
    c.add_argument(
        "--boards",
        required=True,
        metavar="N[,N...]",
        help="number of boards; several (comma-separated): the best plan for each, as a table",
    )
    c.add_argument(
        "--batch", type=int, default=100, metavar="B", help="images per batch (default 100)"
    )
    c.add_argument(
        "--batches", type=int, metavar="K", help="batches to simulate (default 24 per board)"
    )
    c.add_argument(
        "--link-gbps", type=float, default=10.0, metavar="G", help="every link's rate (default 10)"
    )
    c.add_argument(
        "--latency-us",
        type=float,
        default=20.0,
        metavar="U",
        help="every link's latency (default 20)",
    )
    c.add_argument("--program", metavar="NAME")
    c.add_argument(
        "-D", dest="define", action="append", metavar="NAME=VALUE", help="override a const"
    )
    c.add_argument("--json", action="store_true", help="the plan and its alternatives as JSON")
    c.add_argument("--perfetto", metavar="OUT.json", help="write the chosen plan's simulated trace")
    c.add_argument(
        "-o",
        "--output",
        metavar="OUT.aci",
        help="write the chosen plan as a system program (acic compile makes its bundle)",
    )
    c.add_argument(
        "--bundle",
        metavar="OUT.acb",
        help="write the chosen plan as a bundle: every board's image and the host's steps",
    )
    c.set_defaults(func=cmd_plan)
    return c


def stages_json(plan) -> list[dict]:
    return [
        {
            "name": p.name,
            "windows": [p.first, p.last - 1],
            "boards": list(b),
            "run_ns": p.run_ns,
            "in_bytes_per_batch": p.in_bytes,
            "out_bytes_per_batch": p.out_bytes,
        }
        for p, b in plan.stages
    ]


def report(chosen, alternatives) -> dict:
    return {
        "chosen": {
            "rule": chosen.rule,
            "stages": stages_json(chosen.plan),
            **chosen.result.to_json(),
        },
        "alternatives": [
            {
                "plan": c.result.plan,
                "rule": c.rule,
                "images_per_s": round(c.result.images_per_s, 3),
                "total_ns": c.result.total_ns,
                "boards_used": sum(len(b) for _, b in c.plan.stages),
            }
            for c in alternatives
        ],
    }


def text(rep: dict) -> str:
    from .timing import format_ns

    ch = rep["chosen"]
    lines = [
        f"plan: {ch['plan']} ({ch['rule']}): {ch['images']:,} images in {format_ns(ch['total_ns'])}, "
        f"{ch['images_per_s']:,.1f} images/s"
    ]
    lines += use_lines(ch)
    lines.append("alternatives (images/s):")
    best = rep["alternatives"][0]["images_per_s"]
    for a in rep["alternatives"]:
        lines.append(
            f"  {a['images_per_s']:>12,.1f}  {a['images_per_s'] / best:6.3f}  {a['plan']}  [{a['rule']}]"
        )
    return "\n".join(lines) + "\n"


def use_lines(ch: dict) -> list[str]:
    """Each stage, then each board's and each link direction's use, as text."""
    from .timing import format_ns

    lines = []
    for s in ch["stages"]:
        lines.append(
            f"  {s['name']} on {', '.join(s['boards'])}: "
            f"{format_ns(s['run_ns'])} per batch, {s['in_bytes_per_batch']:,} bytes in, "
            f"{s['out_bytes_per_batch']:,} bytes out"
        )
    lines.append("boards:")
    for b, u in ch["boards"].items():
        lines.append(
            f"  {b}: {u['count']} runs, busy {format_ns(u['busy_ns'])} "
            f"({100 * u['busy_ns'] / ch['total_ns']:.1f}%)"
        )
    lines.append("links:")
    for k, u in ch["links"].items():
        lines.append(
            f"  {k}: {u['count']} transfers, {u['nbytes']:,} bytes, busy {format_ns(u['busy_ns'])} "
            f"({100 * u['busy_ns'] / ch['total_ns']:.1f}%)"
        )
    return lines


def schedule_system(args, plan) -> int:
    """``acic schedule`` of a system: its plan simulated, per stage, board and link."""
    from .system import simulate
    from .timing import format_ns

    result = simulate(plan)
    rep = {"system": plan.name, "stages": stages_json(plan), **result.to_json()}
    if args.json:
        sys.stdout.write(json.dumps(rep, indent=1) + "\n")
        return 0
    lines = [
        f"system {plan.name}: {plan.batches} batches of {plan.batch} images "
        f"({rep['images']:,} images) in {format_ns(rep['total_ns'])}, "
        f"{rep['images_per_s']:,.1f} images/s",
        "stages:",
        *use_lines(rep),
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def sweep(args, by_boards: dict) -> int:
    """``--boards 1,2,4``: the best plan per number of boards (``acic explore`` over boards)."""
    rows = [
        {
            "boards": n,
            "plan": c[0].result.plan,
            "rule": c[0].rule,
            "images_per_s": round(c[0].result.images_per_s, 3),
            "total_ns": c[0].result.total_ns,
            "candidates": len(c),
        }
        for n, c in by_boards.items()
    ]
    one = rows[0]["images_per_s"] / rows[0]["boards"]
    if args.json:
        sys.stdout.write(json.dumps({"file": args.file, "rows": rows}, indent=1) + "\n")
        return 0
    lines = [f"{'boards':>6}  {'images/s':>12}  {'per board':>10}  plan"]
    for r in rows:
        lines.append(
            f"{r['boards']:>6}  {r['images_per_s']:>12,.1f}  {r['images_per_s'] / r['boards'] / one:>10.3f}  "
            f"{r['plan']}  [{r['rule']}, best of {r['candidates']}]"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_plan(args) -> int:
    from ._io import check_output, write_atomic
    from .system import System, candidates, network, simulate, to_perfetto

    try:
        counts = [int(n) for n in args.boards.split(",")]
    except ValueError:
        raise UsageError(
            f"--boards expects a number or a comma-separated list, got `{args.boards}`"
        ) from None
    if min(counts) < 1 or args.batch < 1 or (args.batches is not None and args.batches < 1):
        raise UsageError("--boards, --batch and --batches must be at least 1")
    if len(counts) > 1 and (args.perfetto or args.bundle or args.output):
        raise UsageError("--perfetto, --bundle and -o take one number of boards")
    if args.link_gbps <= 0 or args.latency_us < 0:
        raise UsageError("--link-gbps must be positive and --latency-us not negative")
    for out in (args.perfetto, args.bundle, args.output):
        if out:
            check_output(out)
    net = network(args.file, args.batch, parse_defines(args.define), args.program)

    def best(n):
        system = System.uniform(
            n, round(args.link_gbps * 1e9), round(args.latency_us * 1000), net.target
        )
        return candidates(net, system, args.batches or 24 * n)

    if len(counts) > 1 or getattr(args, "sweep", False):
        return sweep(args, {n: best(n) for n in counts})
    cands = best(counts[0])
    rep = report(cands[0], cands)
    if args.perfetto:
        events: list[dict] = []
        simulate(cands[0].plan, events.append)
        write_atomic(args.perfetto, json.dumps(to_perfetto(events)))
    if args.output:
        from .system import system_source

        write_atomic(args.output, system_source(net, cands[0].plan, args.output, args.program))
        sys.stderr.write(
            f"wrote {args.output}: acic compile {args.output} "
            f"-D IMAGES={args.batch} -D BATCH={args.batch} makes its bundle\n"
        )
    if args.bundle:
        from . import bundle

        size = bundle.write(cands[0].plan, args.bundle)
        sys.stderr.write(f"wrote {args.bundle}: {size} bytes\n")
    sys.stdout.write(json.dumps(rep, indent=1) + "\n" if args.json else text(rep))
    return 0
