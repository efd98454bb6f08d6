"""Every invariant, in order (the audit command, the tests and the chaos runs call this).

1. every event has one delivery per subscribed handler, none lost (dead or stuck);
2. stock per product: on hand + shipped = received, held = what reservations hold, 0 <= held
   <= on hand;
3. money per order, by the gateway's books: net = total when confirmed, 0 when cancelled;
4. shipments per order, by the carrier's books: one live when confirmed, none when cancelled;
5. every saga converged (gap 0) or needing attention with a reason, none silently stuck;
6. the read models equal a rebuild from the event store.

Each check returns a `Check` with every violation (the report shows the first few).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

from saga.audit.check import Check
from saga.audit.deliveries import check_deliveries
from saga.audit.money import check_money
from saga.audit.read_models import check_read_models
from saga.audit.sagas import check_sagas
from saga.audit.shipments import check_shipments
from saga.audit.stock import check_stock


def run_audit(*, strict: bool = False, now: datetime | None = None,
              progress: Callable[[int, int], object] | None = None) -> list[Check]:
    """Every invariant, in order. `strict`: a saga still in flight is a violation too (for a
    system at rest, e.g. after a chaos run has drained). `progress(done, total)` after each."""
    at = now or timezone.now()
    steps: list[Callable[[], Check]] = [
        lambda: check_deliveries(at), check_stock, check_money, check_shipments,
        lambda: check_sagas(at, strict=strict), check_read_models]
    checks = []
    for step in steps:
        checks.append(step())
        if progress:
            progress(len(checks), len(steps))
    return checks
