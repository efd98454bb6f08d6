"""Dead deliveries: list and replay them once the cause is fixed."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from outbox import relay
from outbox.models import Delivery


def _grace() -> timedelta:
    return timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS)


def dead(
    *,
    handler: str | None = None,
    event_type: str | None = None,
    older_than: timedelta | None = None,
) -> QuerySet[Delivery]:
    """Dead deliveries, oldest first, optionally of one handler, one event type, or created
    more than `older_than` ago."""
    query = Delivery.objects.filter(status=Delivery.Status.DEAD).select_related("event")
    if handler:
        query = query.filter(handler=handler)
    if event_type:
        query = query.filter(event__event_type=event_type)
    if older_than is not None:
        query = query.filter(created_at__lt=timezone.now() - older_than)
    return query.order_by("id")


def replay(deliveries: QuerySet[Delivery]) -> int:
    """Put dead deliveries back to pending with fresh attempts and send them after commit.
    The last error stays until the next attempt overwrites it."""
    with transaction.atomic():
        rows = list(
            deliveries.filter(status=Delivery.Status.DEAD)
            .order_by("id")  # oldest first, and locks always taken in one order
            .select_for_update(of=("self",))
            .values_list("id", "queue")
        )
        ids = [delivery_id for delivery_id, _ in rows]
        Delivery.objects.filter(id__in=ids).update(
            status=Delivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now() + _grace()
        )
        relay.publish_on_commit(rows)
    return len(rows)
