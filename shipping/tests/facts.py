"""The facts shipping's tests announce (the shared helpers in `tests.support` append them and
run shipping's deliveries)."""

from __future__ import annotations

from decimal import Decimal

from orders.events import OrderPlaced
from outbox.contracts import DomainEvent
from payments.events import PaymentCaptured
from tests.support.delivery import stream_events
from tests.support.facts import order_placed

BOOK, CANCEL = "shipping.book_shipment", "shipping.cancel_shipment"


def placed(order_id: str, postal_code: str = "N1 9GU") -> OrderPlaced:
    return order_placed(order_id, [("SKU-1", 1, "12.50")], customer="shipping-customer",
                        postal_code=postal_code)


def captured(order_id: str) -> PaymentCaptured:
    return PaymentCaptured(order_id=order_id, amount=Decimal("12.50"), charge_id="ch_1")


def shipment_events(order_id: str) -> list[DomainEvent]:
    return stream_events("shipping.Shipment", order_id)
