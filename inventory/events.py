"""Events the inventory context publishes (its public contract)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from outbox.contracts import event


@dataclass(frozen=True)
class ReservedLine:
    sku: str
    quantity: int


@event("inventory.ProductAdded", version=1, terminal=True)
@dataclass(frozen=True)
class ProductAdded:
    sku: str
    name: str
    price: Decimal


@event("inventory.GoodsReceived", version=1, terminal=True)
@dataclass(frozen=True)
class GoodsReceived:
    sku: str
    quantity: int


@event("inventory.StockReserved", version=1)
@dataclass(frozen=True)
class StockReserved:
    """Every line of the order is held (semantic lock) until `expires_at` (ISO 8601)."""

    order_id: str
    lines: tuple[ReservedLine, ...]
    expires_at: str


@event("inventory.StockReservationFailed", version=1)
@dataclass(frozen=True)
class StockReservationFailed:
    order_id: str
    reason: str  # readable by a customer: "out of stock: SKU-7"


@event("inventory.StockReleased", version=1)
@dataclass(frozen=True)
class StockReleased:
    order_id: str
    lines: tuple[ReservedLine, ...]
    reason: str


@event("inventory.ReservationExpired", version=1, terminal=True)
@dataclass(frozen=True)
class ReservationExpired:
    """The hold outlived `expires_at` and its units went back to stock (held -= q).

    Not a StockReleased: a release is a compensation (a step failed, the order is cancelled),
    while an expiry is no failure of the order, whose saga asks for the hold again if it is
    still going forward. No context reacts to it (the reconciler re-requests the hold)."""

    order_id: str
    lines: tuple[ReservedLine, ...]
    expires_at: str
    reason: str  # "hold expired"


@event("inventory.StockCommitted", version=1, terminal=True)
@dataclass(frozen=True)
class StockCommitted:
    """The held units left the warehouse with the order: on hand -= q, held -= q."""

    order_id: str
    lines: tuple[ReservedLine, ...]


# What a reservation learns from the other contexts, recorded on its own stream so its state can
# always be rebuilt from the event store alone. No other context reacts to it (terminal).


@event("inventory.OrderCancellationNoted", version=1, terminal=True)
@dataclass(frozen=True)
class OrderCancellationNoted:
    """The order was cancelled before any stock was held for it: it never will be."""

    order_id: str
    reason: str


# --- Commands the reconciler (saga app) sends through the outbox ---------------------------
# Contexts never import the saga, so the commands they accept are part of their own contract;
# the handlers are in inventory/handlers.py, under the same heading.


@event("inventory.StockReleaseRequested", version=1)
@dataclass(frozen=True)
class StockReleaseRequested:
    """Release the order's hold (a cancelled order's hold left behind)."""

    order_id: str
    reason: str


@event("inventory.StockReservationRequested", version=1)
@dataclass(frozen=True)
class StockReservationRequested:
    """Hold the order's lines again (a hold missing or expired on an order going forward)."""

    order_id: str
    lines: tuple[ReservedLine, ...]


@event("inventory.StockRowRepairRequested", version=1)
@dataclass(frozen=True)
class StockRowRepairRequested:
    """Rewrite one product's stock row from its events: the audit found it disagreeing with
    them (invariant 2). Re-checked when handled: a row that agrees by then is left alone."""

    sku: str
    reason: str


@event("inventory.StockRowRepaired", version=1, terminal=True)
@dataclass(frozen=True)
class StockRowRepaired:
    """A product's stock row was rewritten from its events (on the product's stream, with
    what the row said before: the evidence)."""

    sku: str
    on_hand_before: int
    held_before: int
    on_hand: int
    held: int
    reason: str
