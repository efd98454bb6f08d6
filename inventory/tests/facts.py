"""Inventory's test catalogue, and the orders its tests place (the shared helpers in
`tests.support` append them and run inventory's deliveries)."""

from __future__ import annotations

from decimal import Decimal

from inventory import services
from inventory.models import Stock
from orders.events import OrderPlaced
from outbox.contracts import DomainEvent
from tests.support.delivery import stream_events
from tests.support.facts import order_placed


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
    return order_placed(order_id, [(sku, quantity, "10.00") for sku, quantity in lines],
                        customer="inventory-customer")


def reservation_events(order_id: str) -> list[DomainEvent]:
    return stream_events("inventory.Reservation", order_id)
