"""Invariant 2: stock per product: on hand + shipped = received, 0 <= held <= on hand, and
held = what the reservations, folded from their events, hold."""

from __future__ import annotations

from inventory import selectors as inventory
from saga.audit.check import Check


def check_stock() -> Check:
    check = Check(2, "stock: on hand + shipped = received, 0 <= held = reserved <= on hand")
    for stock in inventory.stock_figures():
        sku = stock.sku
        check.checked += 1
        if stock.on_hand + stock.shipped != stock.received:
            check.violations.append(
                f"{sku}: on hand {stock.on_hand} + shipped {stock.shipped} != received "
                f"{stock.received}")
        if not 0 <= stock.held <= stock.on_hand:
            check.violations.append(f"{sku}: held {stock.held} is outside 0..on hand "
                                    f"{stock.on_hand} (available {stock.available})")
        if stock.held != stock.held_by_reservations:
            check.violations.append(f"{sku}: held {stock.held} but the reservations hold "
                                    f"{stock.held_by_reservations}")
    return check
