"""Invariant 5: every saga is converged (gap 0) or needs attention with a reason; none is
silently stuck."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from orders.events import OrderPlaced
from outbox.models import Event
from saga.audit.check import Check
from saga.models import OrderSaga


def check_sagas(now: datetime, *, strict: bool) -> Check:
    check = Check(5, "every saga converged or needing attention with a reason")
    budget = now - timedelta(seconds=settings.SAGA_BUDGET_SECONDS)
    placed = set(Event.objects.filter(event_type=OrderPlaced.event_type)
                 .values_list("stream_id", flat=True))
    sagas = OrderSaga.objects.values_list("order_id", "state", "gap", "attention_reason",
                                          "started_at", "current_step")
    in_flight = 0
    seen = set()
    for order_id, state, gap, reason, started_at, step in sagas.iterator(chunk_size=5000):
        seen.add(order_id)
        check.checked += 1
        if state == OrderSaga.State.CONVERGED and gap:
            check.violations.append(f"saga {order_id} is converged with a gap of {gap}")
        elif state == OrderSaga.State.NEEDS_ATTENTION and not (reason or "").strip():
            check.violations.append(f"saga {order_id} needs attention but gives no reason")
        elif state in (OrderSaga.State.RUNNING, OrderSaga.State.COMPENSATING):
            if strict or started_at < budget:
                check.violations.append(f"saga {order_id} is still {state} (gap {gap}, step "
                                        f"{step}) and nobody is told why")
            else:
                in_flight += 1
    for order_id in placed - seen:
        check.violations.append(f"order {order_id} has no saga row")
    if in_flight:
        check.notes.append(f"{in_flight} saga(s) in flight within their budget")
    return check
