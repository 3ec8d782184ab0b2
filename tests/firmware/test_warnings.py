"""Every firmware build compiles with the same strict warnings: the simulator, the
daemon, the sanitizer builds, the fuzz harnesses, the cross and Cortex-R5 builds and
the model libraries. The commands come from make itself (`make -n -B`), so a target
added without $(WARN) fails here."""

import re
import subprocess

from .harness import FIRMWARE

TARGETS = ("all", "fuzz-build", "fuzz-daemon-build", "cross", "r5")
COMPILERS = ("gcc", "clang", "aarch64-linux-gnu-gcc", "arm-none-eabi-gcc")
REQUIRED = ("-std=c11", "-Wall", "-Wextra", "-Wshadow", "-Wconversion", "-Werror")


def compile_commands() -> list[str]:
    out = subprocess.run(
        ["make", "-n", "-B", "-C", str(FIRMWARE), *TARGETS],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # a recipe line continued with a backslash is one command
    text = out.replace("\\\n", " ")
    pattern = re.compile(r"(?:^|[;&|]\s*|\bdo\s+)(%s)\s" % "|".join(map(re.escape, COMPILERS)))
    commands = []
    for line in text.splitlines():
        for m in pattern.finditer(line):
            commands.append(line[m.start(1) :].split(";")[0])
    return commands


def test_every_build_uses_the_strict_warnings():
    commands = compile_commands()
    compilers = {c.split()[0] for c in commands}
    assert compilers == set(COMPILERS), compilers
    for command in commands:
        flags = command.split()
        missing = [f for f in REQUIRED if f not in flags]
        assert not missing, f"{missing} missing from: {command}"
