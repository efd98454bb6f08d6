"""Transient failures of an outside provider (an outage): a handler raises `RetryLater`, and the
outbox retries the delivery with backoff capped at `OUTBOX_RETRY_LATER_CAP_SECONDS` until the
given time, without counting those attempts toward `OUTBOX_MAX_ATTEMPTS`.

Why a deadline on the exception rather than a per-handler retry count: an outage is measured in
time, not in attempts (three minutes are three minutes at any backoff), and the one who knows
how long a step may wait is the handler's context (the saga's budget, from when the step
started), not the outbox. Each retry is still charged, so a worker-killing delivery cannot hide
behind it (outbox/claims.py), and its `last_error` begins with `OUTAGE_MARK`, which is how the
reconciler tells a step waiting out an outage from a stalled one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

OUTAGE_MARK = "waiting out a provider outage until "
# The reason of a forward step's delivery made dead because the outage outlasted its budget.
OUTAGE_SPENT = "provider outage outlasted the step's budget"


class RetryLater(Exception):
    """Retry this delivery (capped backoff, attempts not counted against the limit) until
    `until`; past it, the failure counts like any other."""

    def __init__(self, reason: str, *, until: datetime) -> None:
        super().__init__(reason)
        self.until = until


def retry_within_budget(exc: BaseException, *, started: datetime,
                        budget_seconds: float) -> RetryLater | None:
    """A `RetryLater` for a transient failure while the budget that began at `started` lasts,
    or None once it is spent (the caller then gives up or lets the failure count)."""
    until = started + timedelta(seconds=budget_seconds)
    if timezone.now() >= until:
        return None
    return RetryLater(f"{type(exc).__name__}: {exc}", until=until)
