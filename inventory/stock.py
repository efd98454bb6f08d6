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

from common.sql import execute, fetchone
from inventory.domain import Shortage
from inventory.events import ReservedLine


class StockInconsistency(RuntimeError):
    """A release or commit found less held than the reservation says: a bug, not a race."""


_HOLD = "UPDATE inventory_stock SET held = held + %s WHERE sku = %s AND on_hand - held >= %s"
_UNHOLD = "UPDATE inventory_stock SET held = held - %s WHERE sku = %s AND held >= %s"
_COMMIT = ("UPDATE inventory_stock SET on_hand = on_hand - %s, held = held - %s "
           "WHERE sku = %s AND held >= %s")
_RECEIVE = "UPDATE inventory_stock SET on_hand = on_hand + %s WHERE sku = %s"
_EXISTS = "SELECT 1 FROM inventory_stock WHERE sku = %s"


def _in_lock_order(lines: Iterable[ReservedLine]) -> list[ReservedLine]:
    return sorted(lines, key=lambda line: line.sku)


def hold_all(lines: tuple[ReservedLine, ...]) -> Shortage | None:
    """Hold every line or none; returns the first line (in sku order) that could not be held."""
    held: list[ReservedLine] = []
    for line in _in_lock_order(lines):
        if not execute(_HOLD, [line.quantity, line.sku, line.quantity]):
            # Give back what this reservation took already (cheaper than a savepoint per
            # reservation, and the row locks stay ours until the transaction ends anyway).
            for taken in held:
                execute(_UNHOLD, [taken.quantity, taken.sku, taken.quantity])
            return Shortage(line.sku, unknown=fetchone(_EXISTS, [line.sku]) is None)
        held.append(line)
    return None


def release(lines: Iterable[ReservedLine]) -> None:
    """held -= q for every line."""
    for line in _in_lock_order(lines):
        if not execute(_UNHOLD, [line.quantity, line.sku, line.quantity]):
            raise StockInconsistency(f"cannot release {line.quantity} of {line.sku}: not held")


def commit(lines: Iterable[ReservedLine]) -> None:
    """The held units leave with the order: on_hand -= q, held -= q."""
    for line in _in_lock_order(lines):
        if not execute(_COMMIT, [line.quantity, line.quantity, line.sku, line.quantity]):
            raise StockInconsistency(f"cannot commit {line.quantity} of {line.sku}: not held")


def receive(sku: str, quantity: int) -> None:
    """on_hand += q."""
    if not execute(_RECEIVE, [quantity, sku]):
        raise StockInconsistency(f"product {sku} has no stock row")
