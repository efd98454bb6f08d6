"""The inventory context's read-only query surface for the saga and operators.

Typed answers, in bulk by order id (a fixed number of queries for any number of orders). This
is the one module outside the context's writers that knows its snapshot and stock tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from inventory import domain
from inventory.events import GoodsReceived, StockCommitted
from inventory.models import Product, Reservation, ReservationSnapshot, Stock
from inventory.projections import read_models_from_events
from outbox.models import Event
from outbox.read_model_check import ReadModelComparison, compare_rows


@dataclass(frozen=True)
class Hold:
    """An order's reservation as inventory holds it."""

    order_id: str
    status: str  # "held", "committed", "released", "expired", "failed", "cancelled"
    expires_at: datetime | None


@dataclass(frozen=True)
class StockFigures:
    """One product's stock row beside what the event store says moved."""

    sku: str
    on_hand: int
    held: int
    received: int  # every GoodsReceived
    shipped: int  # every StockCommitted line
    held_by_reservations: int  # what the reservations, folded from their events, hold

    @property
    def available(self) -> int:
        return self.on_hand - self.held


@dataclass(frozen=True)
class StockRowDrift:
    """A product's stock row that disagrees with what its events say it should hold."""

    sku: str
    on_hand: int
    held: int
    rebuilt_on_hand: int | None  # None: no product events at all
    rebuilt_held: int | None

    @property
    def rebuild_is_sound(self) -> bool:
        """The events themselves keep 0 <= held <= on hand (so a rewrite from them helps)."""
        return (self.rebuilt_on_hand is not None and self.rebuilt_held is not None
                and 0 <= self.rebuilt_held <= self.rebuilt_on_hand)


def stock_row_drift() -> list[StockRowDrift]:
    """Every stock row that differs from a rebuild from the events (for the audit)."""
    _, rebuilt, _ = read_models_from_events()
    by_sku = {stock.sku_id: stock for stock in rebuilt}
    drift = []
    for stock in Stock.objects.order_by("sku"):
        fresh = by_sku.get(stock.sku_id)
        if fresh is None or (fresh.on_hand, fresh.held) != (stock.on_hand, stock.held):
            drift.append(StockRowDrift(
                stock.sku_id, stock.on_hand, stock.held,
                fresh.on_hand if fresh else None, fresh.held if fresh else None))
    return drift


def holds(order_ids: Collection[str]) -> dict[str, Hold]:
    """The reservations of these orders that exist (one query)."""
    found = {}
    for row in ReservationSnapshot.objects.filter(stream_id__in=list(order_ids)):
        reservation = domain.Reservation.restore(row.stream_id, row.version, row.state)
        expires_at = reservation.expires_at
        found[row.stream_id] = Hold(
            order_id=row.stream_id, status=str(reservation.status),
            expires_at=datetime.fromisoformat(expires_at) if expires_at else None)
    return found


def stock_figures() -> list[StockFigures]:
    """Every product's stock with the moves its events record (for the audit)."""
    received: dict[str, int] = defaultdict(int)
    for payload in Event.objects.filter(event_type=GoodsReceived.event_type).values_list(
            "payload", flat=True):
        received[payload["sku"]] += int(payload["quantity"])
    shipped = _sum_lines(StockCommitted.event_type)
    _, rebuilt, _ = read_models_from_events()
    held_by_reservations = {s.sku_id: s.held for s in rebuilt}
    return [StockFigures(sku=stock.sku_id, on_hand=stock.on_hand, held=stock.held,
                         received=received.get(stock.sku_id, 0),
                         shipped=shipped.get(stock.sku_id, 0),
                         held_by_reservations=held_by_reservations.get(stock.sku_id, 0))
            for stock in Stock.objects.all()]


def _sum_lines(event_type: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT line->>'sku', sum((line->>'quantity')::bigint) FROM outbox_event, "
            "jsonb_array_elements(payload->'lines') AS line WHERE event_type = %s GROUP BY 1",
            [event_type])
        return {sku: int(n) for sku, n in cursor.fetchall()}


def read_model_drift() -> ReadModelComparison:
    """The catalogue, stock and reservation rows against a rebuild from the events."""
    products, stocks, reservations = read_models_from_events()
    return (compare_rows("inventory product", products, Product.objects.all())
            + compare_rows("inventory stock", stocks, Stock.objects.all())
            + compare_rows("inventory reservation", reservations, Reservation.objects.all()))
