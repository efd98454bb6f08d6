"""The facts the contexts announce, built as those contexts build them."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import User

from orders.events import OrderLine, OrderPlaced, ShippingAddress


def order_placed(
    order_id: str, lines: Sequence[tuple[str, int, str]] = (("SKU-1", 2, "12.50"),), *,
    customer: str = "customer", postal_code: str = "N1 9GU", payment_token: str = "tok_ok",
) -> OrderPlaced:
    """An order of `lines` (sku, quantity, unit price) by the user named `customer` (the
    orders context's read model of an order refers to a real user), totalled as orders does."""
    user, _ = User.objects.get_or_create(username=customer)
    order_lines = tuple(OrderLine(sku, quantity, Decimal(price)) for sku, quantity, price in lines)
    return OrderPlaced(
        order_id=order_id, customer_id=str(user.pk), lines=order_lines,
        total=sum((line.unit_price * line.quantity for line in order_lines), Decimal("0")),
        shipping_address=ShippingAddress("Ada", "1 Analytical Way", "London", postal_code, "GB"),
        payment_token=payment_token)
