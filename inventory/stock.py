"""Stock moves: commutative, guarded updates (`held = held + q WHERE on_hand - held >= q`),
never absolute writes.

Why this is race-free without retries: under READ COMMITTED, a second transaction updating the
same stock row waits for the first one's row lock, then re-evaluates its WHERE against the row
the first one committed. Two orders racing for the last unit: the first holds it, the second's
guard no longer matches, and it fails at once. Rows are always locked in sku order, so two
multi-line reservations cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F

from inventory.domain import Shortage
from inventory.events import ReservedLine
from inventory.models import Stock


class StockInconsistency(RuntimeError):
    """A release or commit found less held than the reservation says: a bug, not a race."""


class _LineShort(Exception):
    def __init__(self, shortage: Shortage) -> None:
        self.shortage = shortage


def _in_lock_order(lines: Iterable[ReservedLine]) -> list[ReservedLine]:
    return sorted(lines, key=lambda line: line.sku)


def hold_all(lines: tuple[ReservedLine, ...]) -> Shortage | None:
    """Hold every line or none; returns the first line (in sku order) that could not be held."""
    try:
        # A savepoint: a short line rolls back the lines this reservation already held.
        with transaction.atomic():
            for line in _in_lock_order(lines):
                held = (
                    Stock.objects.alias(available=F("on_hand") - F("held"))
                    .filter(sku=line.sku, available__gte=line.quantity)
                    .update(held=F("held") + line.quantity)
                )
                if not held:
                    unknown = not Stock.objects.filter(sku=line.sku).exists()
                    raise _LineShort(Shortage(line.sku, unknown=unknown))
    except _LineShort as short:
        return short.shortage
    return None


def release(lines: Iterable[ReservedLine]) -> None:
    """held -= q for every line."""
    for line in _in_lock_order(lines):
        moved = (
            Stock.objects.filter(sku=line.sku, held__gte=line.quantity)
            .update(held=F("held") - line.quantity)
        )
        if not moved:
            raise StockInconsistency(f"cannot release {line.quantity} of {line.sku}: not held")


def commit(lines: Iterable[ReservedLine]) -> None:
    """The held units leave with the order: on_hand -= q, held -= q."""
    for line in _in_lock_order(lines):
        moved = (
            Stock.objects.filter(sku=line.sku, held__gte=line.quantity)
            .update(on_hand=F("on_hand") - line.quantity, held=F("held") - line.quantity)
        )
        if not moved:
            raise StockInconsistency(f"cannot commit {line.quantity} of {line.sku}: not held")


def receive(sku: str, quantity: int) -> None:
    """on_hand += q."""
    if not Stock.objects.filter(sku=sku).update(on_hand=F("on_hand") + quantity):
        raise StockInconsistency(f"product {sku} has no stock row")
