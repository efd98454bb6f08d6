"""What `manage.py chaos` and `manage.py loadtest` share on the command line."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


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
