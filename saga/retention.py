"""Move decided reconciliation actions older than RECONCILIATION_ACTIONS_KEEP_DAYS into
`ArchivedAction`: they are the audit trail of what the reconciler and operators did, so they
are kept (archived, not deleted); proposed ones wait for a decision and always stay."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from common.retention import move_in_batches

COLUMNS = ("id", "saga_id", "kind", "subject", "reason", "evidence", "causing_event_ids",
           "actor", "status", "command", "command_event_id", "created_at", "decided_by",
           "decided_at")


def archive_actions(*, older_than: timedelta | None = None, batch: int | None = None) -> int:
    """Move the decided actions past retention, in bounded batches; returns how many moved."""
    if older_than is None:
        if not settings.RECONCILIATION_ACTIONS_KEEP_DAYS:
            return 0
        older_than = timedelta(days=settings.RECONCILIATION_ACTIONS_KEEP_DAYS)
    cutoff = timezone.now() - older_than
    return move_in_batches("saga_reconciliationaction", "saga_archivedaction", COLUMNS,
                           "created_at < %s AND status <> 'proposed'", [cutoff],
                           batch=batch or settings.RETENTION_BATCH)
