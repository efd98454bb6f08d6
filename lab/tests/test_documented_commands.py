"""Every lab command README and docs/harness.md show runs as written on a fresh clone: no
secret, no DEBUG, no settings module in the environment; `--help` stands for the run itself
(settings load, the app is installed, the command is found, its options parse)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "harness.md"]
LAB_COMMANDS = {"bench", "chaos", "loadtest", "bench_outbox", "bench_reconciler"}
# A shell command line (not prose): optional VAR=value words, a python, manage.py, the command.
COMMAND_LINE = re.compile(
    r"^\s*(?P<run>(?:[A-Z_]+=\S*\s+)*\S*python\S*\s+manage\.py\s+(?P<command>\w+))\b")
# What a developer's fresh shell does not have (the test run sets some of them itself).
NOT_IN_A_FRESH_SHELL = ("DJANGO_SECRET_KEY", "DJANGO_DEBUG", "DJANGO_ALLOW_DEV_SECRET",
                        "DJANGO_SETTINGS_MODULE", "SAGA_TEST_APPS")


def documented() -> dict[str, str]:
    """The first documented command line of each lab command, cut after the command's name."""
    found: dict[str, str] = {}
    for document in DOCUMENTS:
        for line in document.read_text().splitlines():
            match = COMMAND_LINE.match(line)
            if match and match["command"] in LAB_COMMANDS:
                found.setdefault(match["command"], match["run"])
    return found


def test_every_lab_command_is_documented_as_a_command_line():
    assert set(documented()) == LAB_COMMANDS


@pytest.mark.parametrize("command", sorted(LAB_COMMANDS))
def test_the_documented_command_runs_as_written(command):
    line = documented()[command]
    if not (ROOT / ".venv" / "bin" / "python").exists():  # a checkout with its venv elsewhere
        line = line.replace(".venv/bin/python", sys.executable)
    env = {k: v for k, v in os.environ.items() if k not in NOT_IN_A_FRESH_SHELL}

    result = subprocess.run(["bash", "-c", f"{line} --help"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr[-2000:]
    assert f"manage.py {command}" in result.stdout
