"""Alerts in the log: one WARNING line when a saga turns needs-attention, saying why.

Written once per transition (the reconciler flags a saga only when it was not already
flagged), so a log-based alert fires once per saga, not on every pass. Prometheus rules on
`/metrics` (deploy/prometheus/alerts.yml) watch the same states as numbers.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings

log = logging.getLogger(__name__)


def needs_attention(order_id: str, reason: str, *, started_at: datetime | None = None,
                    now: datetime | None = None) -> None:
    """Log that the saga of `order_id` needs a person; "stuck" when it is in flight past its
    budget."""
    stuck = (started_at is not None and now is not None
             and now - started_at > timedelta(seconds=settings.SAGA_BUDGET_SECONDS))
    log.warning("saga %s %s: %s", order_id, "is stuck" if stuck else "needs attention", reason,
                extra={"order_id": order_id, "alert": "saga_stuck" if stuck
                       else "saga_needs_attention"})
