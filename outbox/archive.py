"""Move events past EVENT_ARCHIVE_AFTER_DAYS out of the event store into `ArchivedEvent`.

Off by default (0): the event store is the record every rebuild and the audit read, so
shrinking it is an operator's choice. When on, only an event no delivery points at any more
is moved (its done deliveries pruned, none pending or dead): nothing still to run loses its
event. Aggregates load from their snapshots, so commands keep working; a rebuild from the
store alone no longer sees archived streams.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from common.retention import move_in_batches

COLUMNS = ("id", "stream_type", "stream_id", "version", "event_type", "schema_version",
           "payload", "metadata", "correlation_id", "recorded_at")
_PAST_RETENTION = ("recorded_at < %s AND NOT EXISTS (SELECT 1 FROM outbox_delivery AS d "
                   "WHERE d.event_id = outbox_event.id)")


def archive_events(*, older_than: timedelta | None = None, batch: int | None = None) -> int:
    """Move the events past retention, in bounded batches; returns how many moved."""
    if older_than is None:
        if not settings.EVENT_ARCHIVE_AFTER_DAYS:
            return 0
        older_than = timedelta(days=settings.EVENT_ARCHIVE_AFTER_DAYS)
    cutoff = timezone.now() - older_than
    return move_in_batches("outbox_event", "outbox_archivedevent", COLUMNS, _PAST_RETENTION,
                           [cutoff], batch=batch or settings.RETENTION_BATCH)
