"""The other contexts' events as shipping's tests announce them: appended to the stream their
context would write, with their deliveries; then shipping's deliveries are run the way a worker
runs them (`outbox.delivery.run_delivery`: lock, handler, done, one transaction)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from orders.events import OrderLine, OrderPlaced, ShippingAddress
from outbox import relay, store
from outbox.contracts import DomainEvent
from outbox.delivery import DeliveryResult, run_delivery
from outbox.models import Delivery, Event
from payments.events import PaymentCaptured

STREAM_OF_CONTEXT = {"orders": "orders.Order", "payments": "payments.Payment"}
BOOK, CANCEL = "shipping.book_shipment", "shipping.cancel_shipment"


def placed(order_id: str, postal_code: str = "N1 9GU") -> OrderPlaced:
    # The orders context's read model of an order refers to a real user.
    customer, _ = User.objects.get_or_create(username="shipping-customer")
    return OrderPlaced(
        order_id=order_id, customer_id=str(customer.pk),
        lines=(OrderLine("SKU-1", 1, Decimal("12.50")),), total=Decimal("12.50"),
        shipping_address=ShippingAddress("Ada", "1 Analytical Way", "London", postal_code, "GB"),
        payment_token="tok_ok")


def captured(order_id: str) -> PaymentCaptured:
    return PaymentCaptured(order_id=order_id, amount=Decimal("12.50"), charge_id="ch_1")


def publish(event: DomainEvent, stream_type: str | None = None) -> Event:
    """Append one event to its own context's stream for its order, or to `stream_type` (the
    reconciler's commands go to `saga.Corrections`). The sweep, not the broker, would send
    its deliveries."""
    stream_type = stream_type or STREAM_OF_CONTEXT[event.event_type.split(".", 1)[0]]
    order_id = event.order_id  # type: ignore[attr-defined]
    with transaction.atomic(), relay.suppressed():
        version = Event.objects.filter(stream_type=stream_type, stream_id=order_id).count()
        [row] = store.append(stream_type, order_id, version, [event], correlation_id=order_id)
    return row


def deliver(row: Event, handler: str) -> DeliveryResult:
    delivery = Delivery.objects.get(event=row, handler=handler)
    Delivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())  # due now
    return run_delivery(delivery.id)


def announce(event: DomainEvent, handler: str) -> DeliveryResult:
    return deliver(publish(event), handler)


def shipment_events(order_id: str) -> list[DomainEvent]:
    return [e.event for e in store.read_stream("shipping.Shipment", order_id)]
