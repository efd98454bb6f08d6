"""How the orders context reacts to the other contexts' events (see docs/choreography.md).

Each handler runs inside its delivery's transaction and is a join: it reads the order's state
and acts only when the state says the step is due, so duplicates and any arrival order are safe.
"""

from __future__ import annotations

from inventory.events import StockReleased, StockReservationFailed, StockReserved
from orders import projections, services
from orders.domain import OrderAlreadyConfirmed
from orders.events import OrderCancellationRequested, OrderConfirmed, OrderViewRepairRequested
from outbox.delivery import PermanentError
from outbox.envelope import Envelope
from outbox.registry import handles
from payments.events import PaymentCaptured
from shipping.events import ShipmentBooked


@handles(StockReserved, PaymentCaptured, ShipmentBooked, name="orders.advance_order")
def advance_order(event: StockReserved | PaymentCaptured | ShipmentBooked, env: Envelope) -> None:
    try:
        services.advance_order(event.order_id)
    except services.OrderNotFound as exc:
        raise PermanentError(f"{env.event_type} names order {event.order_id}, unknown") from exc


@handles(StockReservationFailed, StockReleased, name="orders.cancel_order")
def cancel_order(event: StockReservationFailed | StockReleased, env: Envelope) -> None:
    try:
        services.cancel_if_pending(event.order_id, reason=event.reason)
    except services.OrderNotFound as exc:
        raise PermanentError(f"{env.event_type} names order {event.order_id}, unknown") from exc


@handles(OrderConfirmed, name="orders.send_confirmation_email")
def send_confirmation_email(event: OrderConfirmed, env: Envelope) -> None:
    try:
        services.send_confirmation_email(event.order_id)
    except services.OrderNotFound as exc:
        raise PermanentError(f"order {event.order_id} has no events") from exc


# --- Commands from the reconciler (saga app) -------------------------------------------------
# Added by the saga's engineer: each command is a thin call into this context's own services,
# idempotent like every handler (a repeated command finds the work done and changes nothing).


@handles(OrderCancellationRequested, name="orders.cancel_on_request")
def cancel_on_request(event: OrderCancellationRequested, env: Envelope) -> None:
    """Cancel before the pivot; past it there is nothing to undo (the saga sees the order
    confirmed and goes forward instead)."""
    try:
        services.cancel_order(event.order_id, reason=event.reason,
                              requested_by=event.requested_by)
    except OrderAlreadyConfirmed:
        return
    except services.OrderNotFound as exc:
        raise PermanentError(f"cancellation asked for unknown order {event.order_id}") from exc


@handles(OrderViewRepairRequested, name="orders.repair_order_view")
def repair_order_view(event: OrderViewRepairRequested, env: Envelope) -> None:
    """Rewrite the order's view row from its stream (the events are the truth)."""
    if not projections.repair_view(event.order_id):
        raise PermanentError(f"order {event.order_id} has no events to rebuild its view from")
