"""Invariant 1: every event has one delivery per subscribed handler; none is lost (dead or
pending long past due), none is done twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from outbox import registry
from outbox.models import Delivery, Event
from saga.audit.check import Check


def check_deliveries(now: datetime) -> Check:
    check = Check(1, "every event has one delivery per subscribed handler, none lost")
    expected = [(event_type, sub.name) for event_type in _event_types()
                for sub in registry.subscriptions(event_type)]
    # Done deliveries older than the retention may have been pruned: look within it.
    horizon = now - timedelta(days=settings.OUTBOX_PRUNE_AFTER_DAYS)
    check.checked = Event.objects.filter(recorded_at__gte=horizon).count()
    if expected:
        values = ", ".join(["(%s, %s)"] * len(expected))
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH expected(event_type, handler) AS (VALUES {values}) "
                "SELECT e.id, e.event_type, x.handler FROM outbox_event e "
                "JOIN expected x ON x.event_type = e.event_type "
                "LEFT JOIN outbox_delivery d ON d.event_id = e.id AND d.handler = x.handler "
                "WHERE d.id IS NULL AND e.recorded_at >= %s ORDER BY e.id",
                [v for pair in expected for v in pair] + [horizon])
            for event_id, event_type, handler in cursor.fetchall():
                check.violations.append(
                    f"event #{event_id} ({event_type}) has no delivery to {handler}")
    known = set(expected)
    for event_type, handler in (Delivery.objects.values_list("event__event_type", "handler")
                                .distinct().order_by()):
        if (event_type, handler) not in known:
            check.violations.append(f"deliveries of {event_type} go to {handler}, which does "
                                    "not subscribe to it")
    for delivery_id, handler, error in Delivery.objects.filter(
            status=Delivery.Status.DEAD).values_list("id", "handler", "last_error"):
        last = (error or "").strip().splitlines()[-1:] or ["no error recorded"]
        check.violations.append(f"delivery #{delivery_id} to {handler} is dead: {last[0][:200]}")
    # Pending past its due time by more than a sweep's lease and grace: nobody is sending it.
    stuck = now - timedelta(seconds=2 * settings.OUTBOX_LEASE_SECONDS
                            + settings.OUTBOX_SWEEP_GRACE_SECONDS + 60)
    for delivery_id, handler in Delivery.objects.filter(
            status=Delivery.Status.PENDING, next_attempt_at__lt=stuck).values_list("id", "handler"):
        check.violations.append(f"delivery #{delivery_id} to {handler} is pending long past due")
    check.notes.append("a delivery is never done twice: one row per (event, handler) is a "
                       "unique constraint, and a done row is never run again")
    return check


def _event_types() -> list[str]:
    return list(Event.objects.values_list("event_type", flat=True).distinct().order_by())
