"""The facts payments' tests announce (the shared helpers in `tests.support` append them and
run payments' deliveries)."""

from __future__ import annotations

from decimal import Decimal

from common.sealing import seal
from inventory.events import ReservedLine, StockReserved
from orders.events import OrderPlaced
from tests.support.facts import order_placed

TOTAL = Decimal("32.25")


def placed(order_id: str, token: str = "tok_ok") -> OrderPlaced:
    return order_placed(order_id, [("SKU-1", 2, "12.50"), ("SKU-2", 1, "7.25")],
                        customer="payments-customer",
                        payment_token=seal(token))  # as the orders context seals it


def held(order_id: str) -> StockReserved:
    return StockReserved(order_id, (ReservedLine("SKU-1", 2), ReservedLine("SKU-2", 1)),
                         "2030-01-01T00:00:00+00:00")
