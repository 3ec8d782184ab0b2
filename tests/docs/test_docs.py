"""The repository explains itself (issue 12.5): docs/cli.md documents every command
and option of the parser, `acic --version` exists, and nothing in the repository
refers to a file outside it or to a page of docs/ that does not exist."""

import argparse
import re
import subprocess
from pathlib import Path

import aci
from aci.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
CLI_DOC = (
    (ROOT / "docs" / "cli.md").read_text(encoding="utf-8").replace("\\|", "|")
)  # table cells escape |


def commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def section(name: str) -> str:
    m = re.search(rf"^## acic {name}\n(.*?)(?=^## |\Z)", CLI_DOC, re.S | re.M)
    assert m, f"docs/cli.md has no section `## acic {name}`"
    return m.group(1)


def test_every_command_and_option_is_documented():
    missing = []

    def check(name: str, parser: argparse.ArgumentParser, text: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            words = action.option_strings or [action.metavar or action.dest]
            missing.extend(f"acic {name} {w}" for w in words if f"`{w}" not in text)
            for choice in action.choices or ():
                if choice not in text:
                    missing.append(f"acic {name} {words[0]} {choice}")
            if isinstance(action, argparse._SubParsersAction):  # `acic board serve ...`
                for sub, subparser in action.choices.items():
                    check(f"{name} {sub}", subparser, text)

    for name, parser in commands().items():
        check(name, parser, section(name))
    assert not missing, "docs/cli.md does not document: " + ", ".join(missing)


def test_every_documented_command_exists():
    documented = re.findall(r"^## acic (\S+)", CLI_DOC, re.M)
    assert sorted(documented) == sorted(commands()), documented


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    assert capsys.readouterr().out == f"acic {aci.__version__}\n"
    assert "`--version`" in CLI_DOC


def tracked_text_files():
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in names:
        path = ROOT / name
        if path.suffix in (".acx", ".bin", ".npy", ".png", ".svg") or not path.is_file():
            continue
        try:
            yield name, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue


# Built from pieces so that this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            r"\.\./" + "shared",
            "/work/" + "shared",
            r"\bspec/[A-Z]+\.md",
            r"(?<![\w/])" + "MACHINE" + r"\.md",
            r"(?<![\w/])" + "BNN" + r"\.md",
            r"(?<![\w/])" + "LANGUAGE" + r"\.md",
            r"(?<![\w/])" + "STYLE" + r"\.md",
            r"\bseeds/",
        ]
    )
)
DOC_REF = re.compile(r"\bdocs/([\w-]+\.md)")


def test_nothing_refers_outside_the_repository():
    bad = [
        f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
        for name, text in tracked_text_files()
        for m in OUTSIDE.finditer(text)
    ]
    assert not bad, "references to files outside the repository:\n" + "\n".join(bad)


def test_every_docs_page_named_exists():
    bad = [
        f"{name}: docs/{m.group(1)}"
        for name, text in tracked_text_files()
        for m in DOC_REF.finditer(text)
        if not (ROOT / "docs" / m.group(1)).is_file()
    ]
    assert not bad, "references to pages docs/ does not have:\n" + "\n".join(bad)


def test_cli_doc_is_linked_from_the_readme():
    assert "docs/cli.md" in (ROOT / "README.md").read_text(encoding="utf-8")
