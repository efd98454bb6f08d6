"""Fault rates written as `name=number,…` (`OUTBOX_CHAOS`, `PAYMENTS_FAULTS`,
`SHIPPING_FAULTS`), and the random faults a simulated provider injects from them.

The simulated gateway and carrier use the same dice, so a chaos run and a test exercise one
code path: a fault fires with its rate's probability, and `slow_ms` delays an answer by up to
that many milliseconds; past the caller's `timeout` the caller stops waiting, as a client's
read timeout would, and the call fails with the provider's timeout error (outcome unknown).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping


def parse_rates(text: str, *, known: Iterable[str] | None = None,
                what: str = "") -> dict[str, float]:
    """`decline=0.1,slow_ms=200` into numbers. With `known`, a misspelt name is an error (a
    fault that silently never fires would make a chaos run prove nothing)."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, _, value = part.partition("=")
        try:
            rates[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"bad rate {part!r}: expected name=number") from None
    return rates if known is None else known_rates(rates, known, what)


def known_rates(rates: Mapping[str, float], known: Iterable[str],
                what: str = "") -> dict[str, float]:
    """The rates as floats; a name outside `known` is an error."""
    names = frozenset(known)
    unknown = set(rates) - names
    if unknown:
        raise ValueError(f"unknown {what} faults {sorted(unknown)}; known: {sorted(names)}")
    return {name: float(rate) for name, rate in rates.items()}


class SimulatedFaults:
    """The dice of one simulated provider (`what` names its faults' setting in errors). With
    `log`, each fault that fires is logged as `simulated <provider> fault: <name>` (the chaos
    harness counts those lines)."""

    def __init__(self, rates: Mapping[str, float] | None, *, known: Iterable[str], what: str,
                 rng: random.Random | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 log: logging.Logger | None = None, provider: str = "",
                 timeout: float | None = None,
                 timeout_error: Callable[[str], Exception] = TimeoutError) -> None:
        self.rates = known_rates(rates or {}, known, what)
        self.timeout = timeout  # seconds the caller waits for an answer; None waits for ever
        self.timeout_error = timeout_error
        self.provider = provider or what
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.log = log

    def fires(self, fault: str) -> bool:
        """Whether `fault` happens this time (never when its rate is zero or unset)."""
        rate = self.rates.get(fault, 0.0)
        if rate > 0 and self.rng.random() < rate:
            self._announce(fault)
            return True
        return False

    def answer_slowly(self) -> None:
        """Wait up to `slow_ms` milliseconds (uniformly drawn), when that fault is set; an
        answer slower than `timeout` raises `timeout_error` once the timeout has passed."""
        slow_ms = self.rates.get("slow_ms", 0.0)
        if slow_ms > 0:
            self._announce("slow_ms")
            wait = self.rng.uniform(0, slow_ms) / 1000
            if self.timeout is not None and wait > self.timeout:
                self.sleep(self.timeout)
                raise self.timeout_error(
                    f"{self.provider} did not answer within {self.timeout}s")
            self.sleep(wait)

    def _announce(self, fault: str) -> None:
        if self.log is not None:
            self.log.info("simulated %s fault: %s", self.provider, fault)
