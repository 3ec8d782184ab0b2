"""`acic keygen` and `acic board serve|status`: the board daemon for users
(docs/protocol.md, "Running a board")."""

from __future__ import annotations

import os
import sys

from . import daemon as D
from . import protocol as P


def cmd_keygen(args) -> int:
    pub, sec = D.keygen(args.name)
    print(
        f"wrote {pub} (public: give it to the boards that should admit you, or to the hosts of this board)"
    )
    print(f"wrote {sec} (secret, mode 0600)")
    return 0


def cmd_serve(args) -> int:
    exe = D.daemon_binary()
    argv = [str(exe), "--bind", args.bind]
    if args.insecure_loopback:
        argv.append("--insecure-loopback")
    else:
        if not args.key or not args.authorized_keys:
            raise D.DaemonError(
                "a board needs its key pair (--key NAME, from `acic keygen NAME`) and the hosts "
                "it admits (--authorized-keys FILE)"
            )
        D.read_pair(args.key)  # a clear error now rather than the daemon's
        argv += ["--key", str(args.key), "--authorized-keys", str(args.authorized_keys)]
    if args.pace is not None:
        argv += ["--pace", repr(args.pace)]
    for flag, value in (
        ("--max-message", args.max_message),
        ("--max-memory", args.max_memory),
        ("--max-trace", args.max_trace),
    ):
        if value is not None:
            argv += [flag, str(value)]
    if args.target:
        # Handed over through a pipe (a few hundred bytes: the pipe holds them), so no
        # file is left behind; the daemon reads /dev/fd/N once at start.
        desc = D.target_description(args.target)
        r, w = os.pipe()
        os.write(w, desc)
        os.close(w)
        os.set_inheritable(r, True)
        argv += ["--target", f"/dev/fd/{r}"]
    sys.stdout.flush()
    os.execv(argv[0], argv)  # the daemon takes this process over: signals go straight to it


def cmd_status(args) -> int:
    board_key, keys = _client_keys(args)
    hello = D.request(
        args.url,
        "HELLO",
        board_key=board_key,
        keys=keys,
        timeout=args.timeout,
        major=P.VERSION_MAJOR,
        minor=P.VERSION_MINOR,
        image_major=1,
        client="acic board status",
    )
    st = D.request(args.url, "STATUS", board_key=board_key, keys=keys, timeout=args.timeout)
    h, s = hello.fields, st.fields
    state = {v: k for k, v in P.BOARD_STATES.items()}[s["state"]]
    sync = P.sync_of(s)
    print(
        f"board {args.url}: {h['firmware']}, protocol {h['major']}.{h['minor']}, image format "
        f"{h['image_major']}.{h['image_minor']}, target {h['target'] or 'any'}, epoch {st.epoch:016x}"
    )
    print(
        f"state {state}"
        + (
            f", image {s['image_bytes']} bytes (crc32 {s['image_crc32']:08x})"
            if s["image_bytes"]
            else ""
        )
        + (f", run {s['running_seq']} going on" if s["running_seq"] else "")
        + (f", last run {s['last_seq']}" if s["last_seq"] else "")
    )
    print(
        f"SYNC doorbell {sync['doorbell']} ack {sync['ack']} status {sync['status']} error {sync['error_code']} "
        f"progress {sync['progress']}"
    )
    return 0


def _client_keys(args):
    if args.insecure:
        return None, None
    key = args.key or os.environ.get(D.KEYS_ENV)
    board = args.board_key or os.environ.get(D.BOARD_KEY_ENV)
    if not key or not board:
        raise D.DaemonError(
            f"name this host's key pair (--key NAME or ${D.KEYS_ENV}) and the board's public key "
            f"(--board-key FILE or ${D.BOARD_KEY_ENV})"
        )
    return D.read_public(board), D.read_pair(key)


def _bytes(text: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        v = 0
    if v <= 0:
        import argparse

        raise argparse.ArgumentTypeError(f"a positive byte count, not `{text}`")
    return v


def add_board_parsers(sub) -> None:
    c = sub.add_parser(
        "keygen", help="write a CURVE key pair NAME.key, NAME.key_secret (for boards and hosts)"
    )
    c.add_argument("name", metavar="NAME")
    c.set_defaults(func=cmd_keygen)

    b = sub.add_parser("board", help="run a board daemon, or ask one for its status")
    bsub = b.add_subparsers(dest="board_command", metavar="ACTION", parser_class=type(b))
    bsub.required = True
    c = bsub.add_parser(
        "serve", help="start the board daemon (the firmware on the simulated board, over ZeroMQ)"
    )
    c.add_argument(
        "--bind", default="tcp://*:7070", metavar="ENDPOINT", help="default tcp://*:7070"
    )
    c.add_argument("--key", metavar="NAME", help="the board's key pair (NAME.key_secret)")
    c.add_argument(
        "--authorized-keys", metavar="FILE", help="the public keys of the hosts it admits"
    )
    c.add_argument(
        "--pace",
        type=float,
        metavar="FACTOR",
        help="each run takes its simulated time times FACTOR in wall-clock time",
    )
    c.add_argument(
        "--target",
        metavar="FILE.aci[:NAME]|IMAGE",
        help="the board's target: images for another are refused by name",
    )
    c.add_argument("--max-message", type=_bytes, metavar="BYTES")
    c.add_argument("--max-memory", type=_bytes, metavar="BYTES")
    c.add_argument("--max-trace", type=_bytes, metavar="BYTES")
    c.add_argument(
        "--insecure-loopback", action="store_true", help="tests only: no CURVE, 127.0.0.1 only"
    )
    c.set_defaults(func=cmd_serve)

    c = bsub.add_parser(
        "status", help="ask a board daemon for its versions, target, epoch and SYNC words"
    )
    c.add_argument("url", metavar="URL", help="tcp://HOST:PORT")
    c.add_argument("--key", metavar="NAME", help=f"this host's key pair (default ${D.KEYS_ENV})")
    c.add_argument(
        "--board-key", metavar="FILE", help=f"the board's public key (default ${D.BOARD_KEY_ENV})"
    )
    c.add_argument("--timeout", type=float, default=5.0, metavar="S")
    c.add_argument("--insecure", action="store_true", help="no CURVE (a --insecure-loopback board)")
    c.set_defaults(func=cmd_status)
