"""What `manage.py chaos` and `manage.py loadtest` share on the command line."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.progress import Progress, Silent
from lab.figures import write_json


def comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def customer_tokens(tokens: list[str], clients: int) -> list[str]:
    """One token per client; given tokens are shared round-robin when there are fewer."""
    return [tokens[i % len(tokens)] for i in range(clients)] if tokens else []


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a run like Ctrl-C does: everything it started is stopped on the way
    out. (Outside the main thread, e.g. under a test runner's thread, nothing changes.)"""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def add_report_arguments(parser: CommandParser, output: Path, name: str) -> None:
    """--output, --label and --quiet, as every harness command has them."""
    parser.add_argument("--output", type=Path, default=output,
                        help=f"the JSON report (bench-results/{name}.json)")
    parser.add_argument("--label", default="",
                        help="a note kept in the report (e.g. 'shared machine, busy')")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run_and_report(command: BaseCommand, run: Callable[[Any], dict[str, Any]],
                   summary: Callable[[dict[str, Any]], str], o: dict[str, Any],
                   what: str) -> None:
    """Run (SIGTERM and Ctrl-C stop everything it started), write the JSON report, print
    its summary; a failed run exits with status 1."""
    ui = Silent() if o["quiet"] else Progress()
    try:
        with sigterm_as_interrupt():
            report = run(ui)
    except KeyboardInterrupt:
        raise CommandError("interrupted: everything the run started is stopped",
                           returncode=130) from None
    ui.close()
    write_json(report, o["output"])
    command.stdout.write(summary(report))
    command.stdout.write(f"report: {o['output']}")
    if not report["ok"]:
        raise CommandError(f"{what} failed: " + "; ".join(report["failures"]))
