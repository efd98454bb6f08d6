"""How a long command says how far it is: on a terminal, a progress bar (tqdm) with the
percentage and the time left; elsewhere (logs, CI, a pipe), a plain line every few seconds with
the same figures. Used by rebuild_read_models, audit and the lab's commands."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm


class Progress:
    """`update(label, done, total)` reports a phase (a new label starts a new bar); `say(text)`
    prints a line of its own; `close()` ends the bar. `tty` overrides the stream's own answer."""

    def __init__(self, stream: TextIO | None = None, *, every: float = 5.0,
                 tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = every
        self._bar: tqdm | None = None
        self._label: str | None = None
        self._began = 0.0
        self._first_done = 0.0
        self._last_line = 0.0

    def update(self, label: str, done: float | None = None, total: float | None = None, *,
               note: str = "", unit: str = "") -> None:
        """Phase `label` has `done` of `total` (either may be unknown); `note` adds detail."""
        if label != self._label:
            self._start(label, done, total, unit)
        if self.tty:
            self._draw(done, total, note)
        elif (time.monotonic() - self._last_line >= self.every
              or (total is not None and done == total)):
            self._line(label, done, total, note, unit)  # first, every few seconds, and last

    def counter(self, label: str, unit: str = "") -> Callable[..., None]:
        """A `progress(done, total)` callback (the form rebuilds and audits call) for `label`."""
        def report(done: int, total: int | None = None, *_: object) -> None:
            self.update(label, done, total, unit=unit)
        return report

    def say(self, text: str) -> None:
        """A line of its own, above the bar on a terminal."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()
        self._last_line = 0.0

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._label = None

    def _start(self, label: str, done: float | None, total: float | None, unit: str) -> None:
        self.close()
        self._label = label
        self._began = time.monotonic()
        self._first_done = done or 0.0
        self._last_line = 0.0
        if self.tty:
            self._bar = tqdm(total=total, desc=label, unit=f" {unit}" if unit else "it",
                             file=self.stream, dynamic_ncols=True, leave=True, mininterval=0.2)

    def _draw(self, done: float | None, total: float | None, note: str) -> None:
        bar = self._bar
        assert bar is not None
        if total is not None and bar.total != total:
            bar.total = total
        if done is not None:
            bar.n = done
        bar.set_postfix_str(note, refresh=False)
        bar.refresh()

    def _line(self, label: str, done: float | None, total: float | None, note: str,
              unit: str) -> None:
        elapsed = time.monotonic() - self._began
        count, figures = "", []
        if done is not None:
            of = f"/{_number(total)}" if total else ""
            count = f" {_number(done)}{of}{f' {unit}' if unit else ''}"
            if total:
                figures.append(f"{100 * done / total:.0f}%")
                rate = (done - self._first_done) / elapsed if elapsed > 0 else 0.0
                if rate > 0:
                    figures.append(f"{tqdm.format_interval((total - done) / rate)} left")
        figures.append(f"{tqdm.format_interval(elapsed)} elapsed")
        self.stream.write(f"{label}:{count} ({', '.join(figures)})"
                          f"{f'; {note}' if note else ''}\n")
        self.stream.flush()
        self._last_line = time.monotonic()


class Silent(Progress):
    """Reports nothing (--quiet)."""

    def update(self, label: str, done: float | None = None, total: float | None = None, *,
               note: str = "", unit: str = "") -> None:
        pass

    def say(self, text: str) -> None:
        pass


def _number(value: float) -> str:
    return f"{value:.0f}" if isinstance(value, float) else str(value)
