"""The other contexts' events as payments' tests announce them: appended to the stream their
context would write, with their deliveries, exactly as that context would."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction

from common.sealing import seal
from inventory.events import ReservedLine, StockReserved
from orders.events import OrderCancelled, OrderLine, OrderPlaced, ShippingAddress
from outbox import store
from outbox.contracts import DomainEvent
from outbox.models import Event
from shipping.events import ShipmentFailed

TOTAL = Decimal("32.25")
STREAMS = {OrderPlaced: "orders.Order", OrderCancelled: "orders.Order",
           StockReserved: "inventory.Reservation", ShipmentFailed: "shipping.Shipment"}


def placed(order_id: str, token: str = "tok_ok") -> OrderPlaced:
    # The orders context's read model of an order refers to a real user.
    customer, _ = User.objects.get_or_create(username="payments-customer")
    return OrderPlaced(
        order_id=order_id, customer_id=str(customer.pk),
        lines=(OrderLine("SKU-1", 2, Decimal("12.50")), OrderLine("SKU-2", 1, Decimal("7.25"))),
        total=TOTAL,
        shipping_address=ShippingAddress("Ada", "1 Analytical Way", "London", "N1 9GU", "GB"),
        payment_token=seal(token))  # as the orders context seals it


def held(order_id: str) -> StockReserved:
    return StockReserved(order_id, (ReservedLine("SKU-1", 2), ReservedLine("SKU-2", 1)),
                         "2030-01-01T00:00:00+00:00")


def publish(*events: DomainEvent) -> list[Event]:
    """Append each event to its own context's stream for the order, in one transaction."""
    rows: list[Event] = []
    with transaction.atomic():
        for event in events:
            stream_type = STREAMS[type(event)]
            order_id = event.order_id  # type: ignore[attr-defined]
            version = Event.objects.filter(stream_type=stream_type, stream_id=order_id).count()
            rows += store.append(stream_type, order_id, version, [event], correlation_id=order_id)
    return rows
