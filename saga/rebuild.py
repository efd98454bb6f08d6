"""Rebuild the coordination state from the event store, all of it or one order's.

The projected columns are recomputed by the same fold the live projector uses; the
reconciler's bookkeeping on an existing row (attention, backoff, its command stream) is kept.
Each batch locks its rows first, so an event committed meanwhile is folded on top afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction

from outbox.envelope import Envelope
from outbox.models import Event
from saga.models import OrderSaga
from saga.projections import COMMAND_EVENTS, FACT_EVENTS, PROJECTED_FIELDS, apply, new_saga

Progress = Callable[[int, int], None]
ORDER_PLACED = "orders.OrderPlaced"
SAGA_EVENTS = (*FACT_EVENTS, *COMMAND_EVENTS)
BATCH = 500


def fold_events(rows: Iterable[Event]) -> dict[str, OrderSaga]:
    """Fresh, unsaved saga rows folded from these events (in global order), by order id."""
    fresh: dict[str, OrderSaga] = {}
    for row in rows:
        env = Envelope.from_model(row)
        if not isinstance(env.event, SAGA_EVENTS) or env.event.order_id != row.correlation_id:
            continue  # not an event the saga projects (the same ones the live projectors see)
        order_id = env.event.order_id
        if order_id not in fresh:
            fresh[order_id] = new_saga(order_id, env.recorded_at)
        apply(fresh[order_id], env.event, env)
    return fresh


def fold_orders(order_ids: Iterable[str]) -> dict[str, OrderSaga]:
    """Fresh, unsaved saga rows folded from the events of these orders alone."""
    rows = Event.objects.filter(correlation_id__in=list(order_ids)).order_by("id")
    return fold_events(rows.iterator(chunk_size=2000))


def _merge(existing: OrderSaga, fresh: OrderSaga) -> None:
    for field in PROJECTED_FIELDS:
        setattr(existing, field, getattr(fresh, field))
    if fresh.state == OrderSaga.State.CONVERGED:
        existing.state = fresh.state
        existing.attention_reason = ""
        existing.next_check_at = None
        existing.observed_gap = None
    elif existing.state == OrderSaga.State.CONVERGED:
        # Its events say it is not done after all: put it back in front of the reconciler.
        existing.state = fresh.state
        existing.next_check_at = fresh.next_check_at
    elif existing.state != OrderSaga.State.NEEDS_ATTENTION:
        existing.state = fresh.state
        existing.next_check_at = existing.next_check_at or fresh.next_check_at


def rebuild_orders(order_ids: list[str]) -> int:
    """Rebuild these orders' saga rows in one transaction; returns how many were written."""
    with transaction.atomic():
        existing = {s.order_id: s for s in
                    OrderSaga.objects.select_for_update().filter(order_id__in=order_ids)}
        fresh = fold_orders(order_ids)
        updates, inserts = [], []
        for order_id, saga in fresh.items():
            if order_id in existing:
                _merge(existing[order_id], saga)
                updates.append(existing[order_id])
            else:
                inserts.append(saga)
        if updates:
            OrderSaga.objects.bulk_update(
                updates, [*PROJECTED_FIELDS, "state", "attention_reason", "next_check_at",
                          "observed_gap"])
        if inserts:
            OrderSaga.objects.bulk_create(inserts, ignore_conflicts=True)
    return len(fresh)


def rebuild_saga(order_id: str) -> OrderSaga | None:
    rebuild_orders([order_id])
    return OrderSaga.objects.filter(order_id=order_id).first()


def rebuild_read_models(progress: Progress | None = None) -> int:
    """Rebuild every order's saga row from the event store, a batch of orders at a time.
    Calls `progress(done, total)` after each batch; returns the number of sagas rebuilt."""
    placed = Event.objects.filter(event_type=ORDER_PLACED)
    total = placed.count()
    done = 0
    last_id = 0
    while True:
        batch = list(placed.filter(id__gt=last_id).order_by("id")
                     .values_list("id", "stream_id")[:BATCH])
        if not batch:
            break
        last_id = batch[-1][0]
        done += rebuild_orders([stream_id for _, stream_id in batch])
        if progress:
            progress(done, total)
    return done
