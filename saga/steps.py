"""Where an order's saga is: the step it waits for, and which handler takes that step.

Forward, the saga reserves, charges, books, confirms (the pivot) and commits the stock (the
e-mail that follows is the orders context's own once-only step, recorded but not waited for).
Going back, it undoes what was done (cancel the booking, refund, release) and cancels the
order. The step is the first one of the path whose work is not yet seen.
"""

from __future__ import annotations

from orders.events import OrderStatus
from saga.desired import DesiredOutcome, Observed, Shipment, Stock, desired_outcome

DONE = "done"

# Steps before the pivot: a stalled one may still be compensated by cancelling the order.
BEFORE_PIVOT = frozenset({"reserve_stock", "charge_payment", "book_shipment", "confirm_order"})


def current_step(seen: Observed) -> str:
    if desired_outcome(seen.order_status, seen.step_failed) == DesiredOutcome.FULFILLED:
        return _forward_step(seen)
    return _backward_step(seen)


def _forward_step(seen: Observed) -> str:
    # An expired hold of an order going forward is asked for again, as the choreography leaves
    # it (no context reacts to ReservationExpired; the reconciler re-requests the hold). A
    # released one never gets here: a release is a compensation, the order heads for cancelled.
    if seen.stock == Stock.NONE or (
        seen.stock == Stock.EXPIRED and seen.order_status == OrderStatus.PENDING
    ):
        return "reserve_stock"
    if seen.charged <= 0:
        return "charge_payment"
    if seen.shipment != Shipment.BOOKED:
        return "book_shipment"
    if seen.order_status == OrderStatus.PENDING:
        return "confirm_order"
    if seen.stock == Stock.HELD:
        return "commit_stock"
    return DONE


def _backward_step(seen: Observed) -> str:
    if seen.live_shipments > 0:
        return "cancel_shipment"
    if seen.net > 0:
        return "refund_payment"
    if seen.stock == Stock.HELD:
        return "release_stock"
    if seen.order_status == OrderStatus.PENDING:
        return "cancel_order"
    return DONE
