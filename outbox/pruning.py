"""Keep the hot delivery table small: delete done deliveries older than the retention."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

_DELETE_SQL = """
DELETE FROM outbox_delivery WHERE id IN (
    SELECT id FROM outbox_delivery
    WHERE status = 'done' AND done_at < %s
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
"""


def prune_done_deliveries(
    *, older_than: timedelta | None = None, batch: int | None = None, max_batches: int = 1000
) -> int:
    """Delete done deliveries finished before the retention, in bounded batches (each its own
    short transaction, so the job never holds many locks or one long transaction)."""
    age = older_than if older_than is not None else timedelta(days=settings.OUTBOX_PRUNE_AFTER_DAYS)
    cutoff = timezone.now() - age
    size = batch or settings.OUTBOX_PRUNE_BATCH
    total = 0
    for _ in range(max_batches):
        with connection.cursor() as cursor:
            cursor.execute(_DELETE_SQL, [cutoff, size])
            deleted = cursor.rowcount
        total += deleted
        if deleted < size:
            break
    return total
