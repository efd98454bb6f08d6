"""Stock moves: commutative, guarded updates (`held = held + q WHERE on_hand - held >= q`),
never absolute writes.

The moves of the semantic lock (hold, release, expire, commit) are the reservation's decision: the
service makes them with its events, so a guard that fails refuses the command (a hold that does
not go through is StockReservationFailed). Goods received are a projector's (inventory.projections).
`moves_of` says what each event moves, for both and for the rebuild.

Why this is race-free without retries: under READ COMMITTED, a second transaction updating the
same stock row waits for the first one's row lock, then re-evaluates its WHERE against the row
the first one committed. Two orders racing for the last unit: the first holds it, the second's
guard no longer matches, and it fails at once. Rows are always locked in sku order, so two
multi-line reservations cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from common.sql import execute, fetchone
from inventory.domain import Shortage
from inventory.events import (
    GoodsReceived,
    ReservationExpired,
    ReservedLine,
    StockCommitted,
    StockReleased,
    StockReserved,
)
from outbox.contracts import DomainEvent


class StockInconsistency(RuntimeError):
    """A move found less held (or on hand) than the events say: a bug, not a race."""


_HOLD = "UPDATE inventory_stock SET held = held + %s WHERE sku = %s AND on_hand - held >= %s"
_UNHOLD = "UPDATE inventory_stock SET held = held - %s WHERE sku = %s AND held >= %s"
# held and on hand by (signed) amounts, guarded so neither held < 0 nor held > on hand.
_MOVE = ("UPDATE inventory_stock SET on_hand = on_hand + %s, held = held + %s "
         "WHERE sku = %s AND held + %s >= 0 AND on_hand + %s >= held + %s")
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


@dataclass(frozen=True)
class StockMove:
    """Units of one product: `on_hand` and `held` change by these signed amounts."""

    sku: str
    on_hand: int = 0
    held: int = 0


def moves_of(event: DomainEvent, *, renewal: bool = False) -> list[StockMove]:
    """The stock moves an event announces (a renewed hold takes nothing new)."""
    match event:
        case GoodsReceived(sku=sku, quantity=quantity):
            return [StockMove(sku, on_hand=quantity)]
        case StockReserved(lines=lines) if not renewal:
            return [StockMove(line.sku, held=line.quantity) for line in lines]
        case StockReleased(lines=lines) | ReservationExpired(lines=lines):
            return [StockMove(line.sku, held=-line.quantity) for line in lines]
        case StockCommitted(lines=lines):
            return [StockMove(line.sku, on_hand=-line.quantity, held=-line.quantity)
                    for line in lines]
    return []


def move_all(moves: Iterable[StockMove]) -> None:
    """Apply the moves, in sku order; raises StockInconsistency if one would break
    0 <= held <= on hand (or the product has no stock row)."""
    for m in sorted(moves, key=lambda m: m.sku):
        if not execute(_MOVE, [m.on_hand, m.held, m.sku, m.held, m.on_hand, m.held]):
            raise StockInconsistency(
                f"cannot move the stock of {m.sku} by {m.on_hand:+} on hand, {m.held:+} held")
