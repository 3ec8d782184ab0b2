"""`acic COMMAND` builds only that command's parser (aci.cli.COMMANDS): it must be the
same parser as the one `acic --help` builds with every command."""

import argparse

import pytest

from aci import cli


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_table_names_every_command_in_order():
    assert list(subparsers(cli.build_parser())) == list(cli.COMMANDS)


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_a_command_alone_has_the_same_parser(command):
    alone = subparsers(cli.build_parser(command))
    assert command in alone
    full = subparsers(cli.build_parser())[command]
    assert alone[command].format_help() == full.format_help()
    assert alone[command].get_default("func") is full.get_default("func")


def test_a_mistyped_command_still_lists_every_command(capsys):
    assert cli.main(["compil", "x.aci"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "invalid choice: 'compil'" in err and all(c in err for c in cli.COMMANDS)
