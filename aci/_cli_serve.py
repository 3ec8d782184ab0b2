"""``acic serve NET.aci --boards URL,...``: the inference service (docs/serve.md).

Plans the network over the boards as ``acic run --boards`` does, starts a
:class:`aci.fleet.Fleet` on them and serves classification requests on ``--bind``
(:class:`aci.serve.Service`) until interrupted (SIGINT, SIGTERM). Prints the address
it serves on (one line on stdout), then on stderr a status line every
``--status-interval`` seconds: requests served, errors, what waits, and each board's
health; a line for each board lost or back.
"""

from __future__ import annotations

import argparse
import sys

from ._cli_args import UsageError, add_include


def add_serve_parser(subparsers) -> argparse.ArgumentParser:
    c = subparsers.add_parser("serve", help="serve classification requests on several boards")
    c.add_argument("file", metavar="BUNDLE.acb|NET.aci")
    c.add_argument(
        "--boards", required=True, metavar="URL[,URL...]", help="the board daemons to run on"
    )
    c.add_argument(
        "--board-key",
        metavar="FILE[,FILE...]",
        help="the boards' public key files: one for all, or one each (default: $ACIC_BOARD_KEY)",
    )
    c.add_argument(
        "--key",
        metavar="NAME",
        help="the service's key pair (NAME.key, NAME.key_secret): its identity to the boards "
        "and to applications (default: $ACIC_KEY)",
    )
    c.add_argument(
        "--authorized-keys",
        required=True,
        metavar="FILE",
        help="the applications' public keys the service admits, one per line",
    )
    c.add_argument(
        "--bind",
        default="tcp://127.0.0.1:7071",
        metavar="ENDPOINT",
        help="where applications connect (default tcp://127.0.0.1:7071; port * picks one)",
    )
    c.add_argument("--batch", type=int, metavar="B", help="images per batch (default 100)")
    c.add_argument("--cuts", metavar="W[,W...]", help="split the network before these windows")
    c.add_argument("--replicas", metavar="R[,R...]", help="boards per stage")
    c.add_argument("--program", metavar="NAME")
    c.add_argument(
        "-D", dest="define", action="append", metavar="NAME=VALUE", help="override a const"
    )
    add_include(c)
    c.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="BUF=FILE",
        help="a constant of the network (weights, thresholds): .npy or raw bytes; repeatable",
    )
    c.add_argument(
        "--scores-type",
        metavar="ELEM",
        help="(a bundle) the element type of its output's scores, which a bundle does not "
        "record (default i32, the BNN's)",
    )
    c.add_argument(
        "--timing-only",
        action="store_true",
        help="the boards simulate time only: answers carry no computed scores",
    )
    c.add_argument(
        "--board-timeout", metavar="SECONDS", help="seconds to wait for a board's reply (default 2)"
    )
    c.add_argument(
        "--board-patience",
        metavar="SECONDS",
        help="seconds without an answer before a board is lost (default 10)",
    )
    c.add_argument(
        "--rejoin",
        metavar="SECONDS",
        help="how often a lost board is asked whether it is back (default 5)",
    )
    c.add_argument(
        "--request-timeout",
        metavar="SECONDS",
        help="a request not answered in this time gets ERROR timeout (default 60)",
    )
    c.add_argument(
        "--status-interval",
        metavar="SECONDS",
        help="seconds between status lines on stderr (default 2)",
    )
    c.set_defaults(func=cmd_serve)
    return c


def cmd_serve(args) -> int:
    from ._cli_fleet import (
        _bundle,
        _read_per_batch,
        board_keys,
        host_keys,
        load_network,
        make_plan,
        parse_urls,
        seconds,
    )
    from .buffers import read_buffer_file
    from .fleet import Fleet, FleetError
    from .serve import Service

    urls = parse_urls(args.boards)
    server_keys = board_keys(urls, args.board_key)
    keys = host_keys(args.key)
    timeout = seconds(args.board_timeout, "--board-timeout", 2.0)
    patience = seconds(args.board_patience, "--board-patience", 10.0)
    rejoin = seconds(args.rejoin, "--rejoin", 5.0)
    request_timeout = seconds(args.request_timeout, "--request-timeout", 60.0)
    interval = seconds(args.status_interval, "--status-interval", 2.0)
    constants = {}
    bundled = _bundle(args)
    if bundled is not None:
        plan, lay = bundled
        syms = {b.name: b for b in lay.constants}
        lay = _typed_scores(lay, args.scores_type or "i32")
    else:
        if args.scores_type:
            raise UsageError("--scores-type is for a bundle; a network source has its types")
        net = load_network(args)
        syms = {b.name: b for b in net.image.symbols.buffers}
        plan, lay = make_plan(args, net, urls)
    const = {b.name for b in lay.constants}
    for item in args.set:
        name, eq, path = item.partition("=")
        if not eq or not name or not path:
            raise UsageError(f"--set expects BUF=FILE, got `{item}`")
        if name not in const:
            raise FleetError(
                f"--set {name}: the service takes the network's constants "
                f"({', '.join(sorted(const)) or 'none'}); images come from requests"
            )
        b = syms[name]
        if bundled is not None:
            constants[name] = _read_per_batch(b, path, False)
        else:
            constants[name] = read_buffer_file(path, name, b.elem, b.shape)

    def event(ev):
        from ._cli_fleet import _event_text

        if ev["ev"] in ("board_down", "board_back", "stage_moved"):
            sys.stderr.write("acic serve: " + _event_text(ev) + "\n")
            sys.stderr.flush()

    fleet = Fleet(
        lay,
        zip(urls, server_keys, strict=True),
        keys,
        constants,
        timeout,
        patience,
        timing_only=args.timing_only,
        rejoin=rejoin,
        on_event=event,
    )
    try:
        service = Service(
            fleet,
            lay,
            args.bind,
            keys,
            args.authorized_keys,
            request_timeout,
            {"plan": plan.name, "file": args.file},
        )

        def on_event(ev: dict) -> None:
            event(ev)
            service.wake()

        fleet.on_event = on_event
        print(
            f"acic serve: {args.file} ({plan.name}, batches of {lay.batch}) on {len(urls)} "
            f"boards, serving on {service.url}",
            flush=True,
        )
        service.serve(sys.stderr, interval)
    finally:
        fleet.close()
    return 0


def _typed_scores(lay, elem: str):
    """A bundle's layout with its one output read as ``elem`` (a bundle records bytes)."""
    import attrs

    from . import record
    from .buffers import ELEMENT_DTYPES

    if elem not in ELEMENT_DTYPES or elem == "bits":
        raise UsageError(
            f"--scores-type takes one of {', '.join(e for e in ELEMENT_DTYPES if e != 'bits')}"
        )
    if len(lay.outputs) != 1:
        return lay  # the service refuses it, naming its outputs
    out = lay.outputs[0]
    size = ELEMENT_DTYPES[elem].itemsize
    per = out.size // lay.batch
    if per % size:
        raise UsageError(
            f"--scores-type {elem}: an image's {per} output bytes are not whole {elem}s"
        )
    typed = record.evolve(out, elem=elem, shape=(lay.batch, per // size))  # an image record
    return attrs.evolve(lay, outputs=(typed,))
