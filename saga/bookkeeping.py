"""What a reconciler pass writes on a saga: its state, its gap as observed, and when to look
at it next (capped exponential backoff). Sagas the pass only looked at are written together,
in one statement, so a pass over many quiet sagas costs a handful of queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from saga import desired
from saga.corrections import RECONCILER
from saga.decisions import Verdict
from saga.models import OrderSaga, ReconciliationAction

# The columns a pass writes, with their SQL types (for the VALUES list of `write_many`).
COLUMNS = {"observed_gap": "smallint", "checks": "integer", "gap": "smallint",
           "state": "varchar", "attention_reason": "text", "next_check_at": "timestamptz",
           "step_retries": "smallint", "converged_at": "timestamptz"}


def backoff(checks: int, *, needs_attention: bool = False) -> timedelta:
    """The wait before the next check of a saga checked `checks` times without moving. A saga
    that needs a person waits for one: its visits thin out to a far longer cap."""
    base = settings.SAGA_BACKOFF_BASE_SECONDS
    cap = (settings.SAGA_ATTENTION_BACKOFF_CAP_SECONDS if needs_attention
           else settings.SAGA_BACKOFF_CAP_SECONDS)
    return timedelta(seconds=min(cap, base * 2 ** min(checks, 30)))


def after_pass(saga: OrderSaga, verdict: Verdict, now: datetime, *,
               acted: bool) -> tuple[dict[str, Any], ReconciliationAction | None]:
    """The saga's bookkeeping after this pass, and the record of it needing a person (if
    it just began to)."""
    fields: dict[str, Any] = {f: getattr(saga, f) for f in COLUMNS}
    fields.update(observed_gap=verdict.gap, checks=saga.checks + 1)
    projected_gap = desired.gap(saga.observed())
    if verdict.converged and projected_gap == 0 and not acted:
        fields.update(state=OrderSaga.State.CONVERGED, gap=0, attention_reason="",
                      next_check_at=None, observed_gap=None, checks=0,
                      converged_at=saga.converged_at or now)
        return fields, None
    flagged = None
    fields["gap"] = max(verdict.gap, projected_gap)
    if verdict.attention:
        fields.update(state=OrderSaga.State.NEEDS_ATTENTION,
                      attention_reason=verdict.attention[:2000])
        if saga.state != OrderSaga.State.NEEDS_ATTENTION:
            flagged = ReconciliationAction(
                saga=saga, kind="needs_attention", reason=verdict.attention, actor=RECONCILER,
                evidence=verdict.corrections[0].evidence if verdict.corrections else {},
                causing_event_ids=[saga.last_event_id] if saga.last_event_id else [])
    elif saga.state == OrderSaga.State.CONVERGED:
        fields["state"] = (OrderSaga.State.COMPENSATING
                           if saga.desired_outcome == desired.DesiredOutcome.CANCELLED
                           else OrderSaga.State.RUNNING)
    wait = backoff(saga.checks, needs_attention=fields["state"] == OrderSaga.State.NEEDS_ATTENTION)
    if verdict.retried_step:  # give the retry a whole step deadline to show its effect
        fields["step_retries"] = saga.step_retries + 1
        wait = max(wait, timedelta(seconds=settings.SAGA_STEP_DEADLINE_SECONDS))
    fields["next_check_at"] = now + wait
    return fields, flagged


def write_one(saga: OrderSaga, fields: dict[str, Any]) -> None:
    OrderSaga.objects.filter(order_id=saga.order_id).update(**fields)


def write_many(rows: list[tuple[OrderSaga, dict[str, Any]]]) -> set[str]:
    """One UPDATE for many sagas, each only if no event moved it since it was read (the
    projection then has the newer word, and set its next check itself); returns the order ids
    of the sagas written."""
    if not rows:
        return set()
    names = list(COLUMNS)
    one = "(%s, %s::bigint, " + ", ".join(f"%s::{COLUMNS[n]}" for n in names) + ")"
    params: list[Any] = [[saga.order_id for saga, _ in rows]]
    for saga, fields in rows:
        params += [saga.order_id, saga.last_event_id, *(fields[n] for n in names)]
    sets = ", ".join(f"{n} = v.{n}" for n in names)
    with connection.cursor() as cursor:
        # Rows a worker holds are skipped, not waited for (README, "Lock order"): that
        # worker's event writes the saga's next check itself.
        cursor.execute(
            "WITH free AS MATERIALIZED (SELECT order_id FROM saga_ordersaga WHERE order_id"
            " = ANY(%s) ORDER BY order_id FOR UPDATE SKIP LOCKED)"
            f" UPDATE saga_ordersaga AS s SET {sets} FROM (VALUES {', '.join([one] * len(rows))})"
            f" AS v(order_id, last_event_id, {', '.join(names)}), free"
            " WHERE s.order_id = v.order_id AND free.order_id = v.order_id"
            " AND s.last_event_id IS NOT DISTINCT FROM v.last_event_id RETURNING s.order_id",
            params)
        return {order_id for (order_id,) in cursor.fetchall()}
