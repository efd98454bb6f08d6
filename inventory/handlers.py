"""Inventory's reactions to the saga's events (docs/choreography.md).

Each one records what it learned on the order's reservation and acts when the reservation's
state says so; a duplicate or a late event changes nothing.
"""

from __future__ import annotations

from inventory import domain, services
from inventory.events import (
    StockReleaseRequested,
    StockReservationRequested,
    StockRowRepairRequested,
)
from orders.events import OrderCancelled, OrderConfirmed, OrderPlaced
from outbox.delivery import PermanentError
from outbox.envelope import Envelope
from outbox.registry import handles
from payments.events import PaymentDeclined, PaymentRefunded


@handles(OrderPlaced, name="inventory.reserve_stock")
def reserve_stock(event: OrderPlaced, envelope: Envelope) -> None:
    """Hold every line or none → StockReserved | StockReservationFailed("out of stock: SKU-7")."""
    services.reserve_stock(event.order_id, event.lines)


@handles(PaymentDeclined, PaymentRefunded, OrderCancelled, name="inventory.release_stock")
def release_stock(
    event: PaymentDeclined | PaymentRefunded | OrderCancelled, envelope: Envelope
) -> None:
    """Compensation: release the hold → StockReleased(reason). A refund that corrects a
    duplicate charge (compensation=False) leaves the stock alone."""
    if isinstance(event, PaymentRefunded) and not event.compensation:
        return
    services.release_stock(event.order_id, event.reason)


@handles(OrderConfirmed, name="inventory.commit_stock")
def commit_stock(event: OrderConfirmed, envelope: Envelope) -> None:
    """Past the pivot the held units leave: on hand -= q, held -= q → StockCommitted."""
    try:
        services.commit_stock(event.order_id)
    except domain.ReservationNotHeld as exc:
        # No retry brings a released hold back: the dead delivery and the reconciler show it.
        raise PermanentError(str(exc)) from exc


# --- Commands from the reconciler (saga app) -------------------------------------------------
# Added by the saga's engineer: each command is a thin call into this context's own services,
# idempotent like every handler (a repeated command finds the work done and changes nothing).


@handles(StockReleaseRequested, name="inventory.release_on_request")
def release_on_request(event: StockReleaseRequested, envelope: Envelope) -> None:
    """Release a hold left on a cancelled order → StockReleased (released already: no-op)."""
    services.release_stock(event.order_id, event.reason)


@handles(StockReservationRequested, name="inventory.reserve_on_request")
def reserve_on_request(event: StockReservationRequested, envelope: Envelope) -> None:
    """Hold the lines of an order going forward whose hold is missing; an expired hold is
    renewed, an existing one left alone."""
    services.reserve_stock(event.order_id, event.lines)


@handles(StockRowRepairRequested, name="inventory.repair_stock_row")
def repair_stock_row(event: StockRowRepairRequested, envelope: Envelope) -> None:
    """Rewrite a stock row the audit found disagreeing with its events → StockRowRepaired;
    a row that agrees by now is left alone."""
    services.repair_stock_row(event.sku, event.reason, actor=envelope.actor)
