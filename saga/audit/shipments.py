"""Invariant 4: shipments per order, by the carrier's books (read through its port): one live
booking per confirmed order, none per cancelled order."""

from __future__ import annotations

from saga.audit.check import Check
from saga.audit.settled import settled_orders
from shipping import selectors as shipping


def check_shipments() -> Check:
    check = Check(4, "shipments: one live booking per confirmed order, none per cancelled")
    for batch in settled_orders():
        bookings = shipping.bookings_at_carrier([o.order_id for o in batch])
        for order in batch:
            wanted = 1 if order.status == "confirmed" else 0
            live = sum(b.live for b in bookings[order.order_id])
            check.checked += 1
            if live != wanted:
                check.violations.append(f"order {order.order_id} is {order.status} with {live} "
                                        f"live shipment(s) at the carrier, it should have "
                                        f"{wanted}")
    return check
