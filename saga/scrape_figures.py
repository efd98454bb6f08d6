"""The aggregates behind `/metrics`, counted by beat, not by the scrape.

`/metrics` needs no token by default, so whoever can reach it could make every web process
count whole tables as often as they like. Instead the beat job `saga.refresh_metrics` (every
`SAGA_METRICS_REFRESH_SECONDS`) counts once and keeps the result in one `ScrapeFigures` row;
a scrape reads that row and ages the "oldest" figures by the time since.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from saga.convergence import figures
from saga.models import ReconciliationAction, ScrapeFigures

# Undo steps of the saga, by the event that announces them.
COMPENSATION_EVENTS = {
    "inventory.StockReleased": "release_stock",
    "payments.PaymentRefunded": "refund_payment",
    "shipping.ShipmentCancelled": "cancel_shipment",
    "orders.OrderCancelled": "cancel_order",
}


def refresh(now: datetime | None = None) -> ScrapeFigures:
    """Count everything `/metrics` shows and keep it (one upsert)."""
    now = now or timezone.now()
    current = figures(now)
    with connection.cursor() as cursor:  # index-only on (event_type, id)
        cursor.execute("SELECT event_type, count(*) FROM outbox_event "
                       "WHERE event_type = ANY(%s) GROUP BY event_type",
                       [list(COMPENSATION_EVENTS)])
        seen = dict(cursor.fetchall())
    corrections = (ReconciliationAction.objects.values_list("kind", "status")
                   .annotate(n=Count("id")).order_by("kind", "status"))
    counted: dict[str, Any] = {
        "sagas": current.by_state,
        "gap_total": current.total_gap,
        "oldest_in_flight_seconds": current.oldest_in_flight_seconds,
        "compensations": {kind: seen.get(event_type, 0)
                          for event_type, kind in COMPENSATION_EVENTS.items()},
        "corrections": [[kind, status, n] for kind, status, n in corrections],
        "dead_deliveries": current.dead_deliveries,
        "pending_deliveries": current.outbox_pending,
        "oldest_pending_seconds": current.oldest_pending_seconds,
    }
    row, _ = ScrapeFigures.objects.update_or_create(
        id=1, defaults={"refreshed_at": now, "figures": counted})
    return row


def latest() -> ScrapeFigures | None:
    return ScrapeFigures.objects.filter(id=1).first()
