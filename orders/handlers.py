"""How the orders context reacts to the other contexts' events (see docs/choreography.md).

Each handler runs inside its delivery's transaction and is a join: it reads the order's state
and acts only when the state says the step is due, so duplicates and any arrival order are safe.
"""

from __future__ import annotations

from inventory.events import StockReleased, StockReservationFailed, StockReserved
from orders import services
from orders.events import OrderConfirmed
from outbox.delivery import PermanentError
from outbox.registry import handles
from outbox.store import Envelope
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
