"""What the database says about a run's orders: saga states, backlog, end-to-end latencies,
convergence times, the reconciler's corrections. Set-based queries, cheap enough to poll."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count

from orders.models import OrderView
from outbox.models import Delivery
from saga.models import OrderSaga, ReconciliationAction

SETTLED = (OrderSaga.State.CONVERGED, OrderSaga.State.NEEDS_ATTENTION)
IN_FLIGHT = (OrderSaga.State.RUNNING, OrderSaga.State.COMPENSATING)


@dataclass(frozen=True)
class Backlog:
    pending_deliveries: int
    dead_deliveries: int
    in_flight_sagas: int


def backlog() -> Backlog:
    """The whole database's backlog, in one round trip."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM outbox_delivery WHERE status = 'pending'), "
            "(SELECT count(*) FROM outbox_delivery WHERE status = 'dead'), "
            "(SELECT count(*) FROM saga_ordersaga WHERE state IN ('running', 'compensating'))")
        pending, dead, in_flight = cursor.fetchone()
    return Backlog(pending, dead, in_flight)


def saga_states(order_ids: list[str]) -> Counter[str]:
    """The orders' sagas by state; an order with no saga row yet counts as "missing"."""
    states: Counter[str] = Counter(dict(
        OrderSaga.objects.filter(order_id__in=order_ids).values_list("state")
        .annotate(n=Count("order_id")).order_by()))
    missing = len(order_ids) - sum(states.values())
    if missing:
        states["missing"] = missing
    return states


def order_statuses(order_ids: list[str]) -> Counter[str]:
    return Counter(dict(OrderView.objects.filter(id__in=order_ids).values_list("status")
                        .annotate(n=Count("id")).order_by()))


def unsettled(order_ids: list[str]) -> list[str]:
    """The orders whose saga is neither converged nor waiting for a person (or has no row)."""
    settled = set(OrderSaga.objects.filter(order_id__in=order_ids, state__in=SETTLED)
                  .values_list("order_id", flat=True))
    return [order_id for order_id in order_ids if order_id not in settled]


def wait_until_settled(order_ids: list[str], timeout: float,
                       progress: Callable[[int, Backlog, float], None] | None = None) -> float:
    """Poll until every saga is settled and no delivery is pending, or `timeout` passes;
    returns the seconds waited."""
    started = time.monotonic()
    while True:
        left = len(unsettled(order_ids))
        queue = backlog()
        waited = time.monotonic() - started
        if progress:
            progress(left, queue, waited)
        if (left == 0 and queue.pending_deliveries == 0) or waited > timeout:
            return waited
        time.sleep(0.5)


def converged_after(order_ids: list[str], moment: datetime) -> list[float]:
    """Seconds from `moment` until each of the orders' sagas converged (those converged)."""
    return [max(0.0, (at - moment).total_seconds()) for at in OrderSaga.objects.filter(
        order_id__in=order_ids, state=OrderSaga.State.CONVERGED, converged_at__isnull=False)
        .values_list("converged_at", flat=True)]


def needing_attention(order_ids: list[str], limit: int = 20) -> list[dict[str, str]]:
    return [{"order_id": order_id, "reason": reason} for order_id, reason in
            OrderSaga.objects.filter(order_id__in=order_ids,
                                     state=OrderSaga.State.NEEDS_ATTENTION)
            .values_list("order_id", "attention_reason")[:limit]]


def placed_to_confirmed(order_ids: list[str]) -> dict[str, float]:
    """Per confirmed order: seconds from OrderPlaced to OrderConfirmed, as the event store
    recorded them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stream_id, min(recorded_at) FILTER (WHERE event_type = 'orders.OrderPlaced'), "
            "min(recorded_at) FILTER (WHERE event_type = 'orders.OrderConfirmed') "
            "FROM outbox_event WHERE stream_type = 'orders.Order' AND stream_id = ANY(%s) "
            "AND event_type IN ('orders.OrderPlaced', 'orders.OrderConfirmed') "
            "GROUP BY stream_id", [order_ids])
        return {order_id: (confirmed - placed).total_seconds()
                for order_id, placed, confirmed in cursor.fetchall()
                if placed is not None and confirmed is not None}


def event_span(order_ids: list[str]) -> tuple[datetime | None, datetime | None]:
    """When the first of the orders was placed and the last one confirmed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(recorded_at) FILTER (WHERE event_type = 'orders.OrderPlaced'), "
            "max(recorded_at) FILTER (WHERE event_type = 'orders.OrderConfirmed') "
            "FROM outbox_event WHERE stream_type = 'orders.Order' AND stream_id = ANY(%s)",
            [order_ids])
        return cursor.fetchone()


def corrections(order_ids: list[str]) -> dict[str, dict[str, int]]:
    """The reconciler's actions on the orders' sagas: {kind: {status: count}}."""
    by_kind: dict[str, dict[str, int]] = {}
    for kind, status, n in (ReconciliationAction.objects.filter(saga_id__in=order_ids)
                            .values_list("kind", "status").annotate(n=Count("id")).order_by()):
        by_kind.setdefault(kind, {})[status] = n
    return dict(sorted(by_kind.items()))


def dead_deliveries(limit: int = 20) -> list[dict[str, object]]:
    return [{"id": i, "handler": handler, "error": (error or "").strip().splitlines()[-1:]}
            for i, handler, error in Delivery.objects.filter(status=Delivery.Status.DEAD)
            .values_list("id", "handler", "last_error")[:limit]]
