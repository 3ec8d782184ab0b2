"""What the commands' arguments share, below every command module (so that none of
them imports aci.cli, which imports them all): the usage error, ``-D`` parsing and the
``-I`` option."""

from __future__ import annotations


class UsageError(Exception):
    """Malformed flags: the CLI prints the message and the usage, and exits 2."""


def parse_defines(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, eq, value = item.partition("=")
        if not eq or not name.isidentifier() or not value:
            raise UsageError(f"-D expects NAME=VALUE, got `{item}`")
        out[name] = value
    return out


def add_include(c) -> None:
    """``-I DIR`` on a command that reads sources (aci.parse.set_include_dirs takes them)."""
    c.add_argument(
        "-I",
        dest="include",
        action="append",
        default=[],
        metavar="DIR",
        help="search DIR for imports (before ACIC_PATH and the shipped library); repeatable",
    )
