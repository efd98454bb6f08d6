"""Delete the simulated gateway's call log past GATEWAY_CALLS_KEEP_DAYS.

Deleted, not archived: it is only the fake provider's request log (the ledger, which the
money invariant reads, is kept whole). What it also serves, counting attempts per key and
replaying a decline, matters for minutes, not weeks.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from common.retention import delete_in_batches


def forget_gateway_calls(*, older_than: timedelta | None = None,
                         batch: int | None = None) -> int:
    """Delete the calls past retention, in bounded batches; returns how many went."""
    if older_than is None:
        if not settings.GATEWAY_CALLS_KEEP_DAYS:
            return 0
        older_than = timedelta(days=settings.GATEWAY_CALLS_KEEP_DAYS)
    cutoff = timezone.now() - older_than
    return delete_in_batches("payments_gatewaycall", "created_at < %s", [cutoff],
                             batch=batch or settings.RETENTION_BATCH)
