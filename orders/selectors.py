"""The orders context's read-only query surface for the saga and operators.

Typed answers, in bulk by order id (a fixed number of queries for any number of orders). This
is the one module outside the context's writers that knows its snapshot and read-model tables.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orders.domain import Order
from orders.models import CatalogueEntry, OrderSnapshot, OrderView
from orders.projections import VIEW_EVENTS, fold_into_view, read_models_from_events
from outbox.envelope import Envelope
from outbox.models import Event
from outbox.read_model_check import ReadModelComparison, compare_rows

# The view's fields that its events determine (not its bookkeeping).
VIEW_FIELDS = ("customer_id", "status", "reason", "lines", "total", "shipping_address",
               "created_at", "confirmed_at", "cancelled_at")
CHUNK = 5000


@dataclass(frozen=True)
class OrderedLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class OrderState:
    """The Order aggregate as it stands (its snapshot)."""

    order_id: str
    status: str  # "pending", "confirmed", "cancelled" ("" before it is placed)
    total: Decimal
    lines: tuple[OrderedLine, ...]
    payment_token: str  # sealed, as the order holds it; "" for the gateway's default


def orders(order_ids: Collection[str]) -> dict[str, OrderState]:
    """The orders among these ids that exist (one query)."""
    rows = OrderSnapshot.objects.filter(stream_id__in=list(order_ids))
    return {row.stream_id: _state(row) for row in rows}


def every_order() -> dict[str, OrderState]:
    """Every order there is (for the audit)."""
    return {row.stream_id: _state(row) for row in OrderSnapshot.objects.iterator(CHUNK)}


def _state(row: OrderSnapshot) -> OrderState:
    order = Order.restore(row.stream_id, row.version, row.state)
    return OrderState(
        order_id=row.stream_id,
        status=order.status.value if order.status else "",
        total=order.total,
        lines=tuple(OrderedLine(line.sku, line.quantity) for line in order.lines),
        payment_token=order.payment_token or "",
    )


def view_drift(order_ids: Collection[str]) -> dict[str, list[str]]:
    """For each of these orders whose view row disagrees with its events, the fields that
    differ (["missing"] when the row is gone). Two queries."""
    views: dict[str, Any] = {}
    types = [cls.event_type for cls in VIEW_EVENTS]
    for row in Event.objects.filter(stream_type=Order.stream_type, stream_id__in=list(order_ids),
                                    event_type__in=types).order_by("id"):
        views[row.stream_id] = fold_into_view(views.get(row.stream_id),
                                              Envelope.from_model(row).event, row.recorded_at)
    stored = OrderView.objects.in_bulk(list(views))
    drift: dict[str, list[str]] = {}
    for order_id, view in views.items():
        if view is None:
            continue
        row = stored.get(order_id)
        fields = (["missing"] if row is None
                  else [f for f in VIEW_FIELDS if getattr(row, f) != getattr(view, f)])
        if fields:
            drift[order_id] = fields
    return drift


def read_model_drift() -> ReadModelComparison:
    """The order views and the price list against a rebuild from the events (by the same
    projector functions that write them live)."""
    views, entries = read_models_from_events()
    return (compare_rows("order view", views, OrderView.objects.all())
            + compare_rows("order price list entry", entries, CatalogueEntry.objects.all()))
