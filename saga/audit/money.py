"""Invariant 3: money per order, by the gateway's books (read through its port): net captured
is the total when confirmed, 0 when cancelled."""

from __future__ import annotations

from decimal import Decimal

from payments import selectors as payments
from saga.audit.check import Check
from saga.audit.settled import settled_orders

ZERO = Decimal("0")


def check_money() -> Check:
    check = Check(3, "money: the gateway's net per order is its total when confirmed, 0 when "
                     "cancelled")
    for batch in settled_orders():
        money = payments.money_at_provider([o.order_id for o in batch])
        for order in batch:
            wanted = order.total if order.status == "confirmed" else ZERO
            net = money[order.order_id].net
            check.checked += 1
            if net != wanted:
                check.violations.append(f"order {order.order_id} is {order.status}: the "
                                        f"gateway's net is {net:.2f}, it should be "
                                        f"{wanted:.2f}")
    return check
