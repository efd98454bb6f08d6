"""Long commands show a progress bar with the percentage and the time left on a terminal, and
plain lines (no carriage returns, no bar) when their output goes to a log or a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Ten steps of one phase, reported on stderr as a command does; every=0 prints each plain line.
SCRIPT = """
import time
from common.progress import Progress
ui = Progress(every=0)
ui.say("starting")
for done in range(1, 11):
    time.sleep(0.02)
    ui.update("replaying", done, 10, unit="events", note="backlog 3")
ui.close()
ui.say("finished")
"""


def _run(stderr: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=ROOT, stderr=stderr,
                            stdout=subprocess.DEVNULL)


def test_on_a_terminal_a_bar_shows_the_percentage_and_the_time_left():
    primary, secondary = pty.openpty()
    # A terminal 100 columns wide (a fresh pty has no size, and a bar needs one).
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = _run(secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert proc.wait(timeout=30) == 0
    shown = b"".join(chunks).decode(errors="replace")

    assert "\r" in shown  # the bar redraws its own line
    assert re.search(r"replaying: +100%\|[^|]*\| 10/10", shown), shown
    assert re.search(r"\d\d:\d\d<\d\d:\d\d", shown), shown  # elapsed<left
    assert "backlog 3" in shown and "starting" in shown and "finished" in shown


def test_without_a_terminal_plain_lines_give_the_percentage_and_the_time_left():
    proc = _run(subprocess.PIPE)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    lines = err.decode().splitlines()

    assert "\r" not in err.decode() and "|" not in err.decode()
    assert lines[0] == "starting" and lines[-1] == "finished"
    assert lines[1].startswith("replaying: 1/10 events (10%, ")
    assert any(re.fullmatch(r"replaying: \d+/10 events \(\d+%, \d\d:\d\d left, "
                            r"\d\d:\d\d elapsed\); backlog 3", line) for line in lines), lines
    assert lines[-2].startswith("replaying: 10/10 events (100%")
