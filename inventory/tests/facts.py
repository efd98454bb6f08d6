"""The other contexts' events as inventory's tests announce them: appended to the stream their
context would write, with their deliveries; then inventory's deliveries are run the way a
worker runs them (`outbox.delivery.run_delivery`: lock, handler, done, one transaction)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from inventory import services
from inventory.models import Stock
from orders.events import OrderLine, OrderPlaced, ShippingAddress
from outbox import relay, store
from outbox.contracts import DomainEvent
from outbox.delivery import DeliveryResult, run_delivery
from outbox.models import Delivery, Event

STREAM_OF_CONTEXT = {"orders": "orders.Order", "payments": "payments.Payment",
                     "inventory": "inventory.Reservation", "shipping": "shipping.Shipment"}


def stocked(*products: tuple[str, int]) -> None:
    """Products in the catalogue at 10.00 each, with `quantity` units on hand."""
    for sku, quantity in products:
        services.add_product(sku, f"Product {sku}", Decimal("10.00"))
        if quantity:
            services.receive_goods(sku, quantity)


def stock_of(sku: str) -> tuple[int, int]:
    row = Stock.objects.get(sku=sku)
    return row.on_hand, row.held


def placed(order_id: str, *lines: tuple[str, int]) -> OrderPlaced:
    # The orders context's read model of an order refers to a real user.
    customer, _ = User.objects.get_or_create(username="inventory-customer")
    order_lines = tuple(OrderLine(sku, q, Decimal("10.00")) for sku, q in lines)
    return OrderPlaced(
        order_id=order_id, customer_id=str(customer.pk), lines=order_lines,
        total=sum((line.unit_price * line.quantity for line in order_lines), Decimal("0")),
        shipping_address=ShippingAddress("Ada", "1 Analytical Way", "London", "N1 9GU", "GB"),
        payment_token="tok_ok")


def publish(event: DomainEvent, stream_type: str | None = None) -> Event:
    """Append one event to its own context's stream for its order, or to `stream_type` (the
    reconciler's commands go to `saga.Corrections`). The sweep, not the broker, would send
    its deliveries: nothing leaves for Redis."""
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
    """Publish the event and run its delivery to `handler`."""
    return deliver(publish(event), handler)


def reservation_events(order_id: str) -> list[DomainEvent]:
    return [e.event for e in store.read_stream("inventory.Reservation", order_id)]
