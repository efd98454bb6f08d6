"""The reconciler: keeps comparing what should be true of every order with what is, and closes
the difference.

A pass claims the sagas that are not converged and whose next check is due (one statement on a
partial index that holds only those rows, so a pass costs in proportion to the drift, not to
the number of orders ever placed), observes their participants in bulk, decides (saga.decisions)
and, saga by saga, records and sends its corrections through the outbox and schedules the next
check with capped exponential backoff. A verification sweep re-checks converged sagas a page
at a time (never-verified first) and reopens any whose participants drifted since.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from saga import alerts, bookkeeping, desired
from saga.corrections import RECONCILER, already_proposed, apply_correction, needs_approval
from saga.decisions import Verdict, decide
from saga.models import OrderSaga, ReconciliationAction
from saga.observation import Observation, observe

log = logging.getLogger(__name__)

# A claimed saga is not claimed again by another pass for this long (a crashed pass's sagas
# come back after it).
LEASE = timedelta(seconds=60)

_CLAIM_SQL = """
WITH due AS MATERIALIZED (
    SELECT order_id FROM saga_ordersaga
    WHERE NOT (state = 'converged') AND next_check_at <= %s
    ORDER BY next_check_at
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
UPDATE saga_ordersaga AS s SET next_check_at = %s
FROM due WHERE s.order_id = due.order_id
RETURNING s.*
"""
_DUE_SQL = """
SELECT * FROM saga_ordersaga WHERE NOT (state = 'converged') AND next_check_at <= %s
ORDER BY next_check_at LIMIT %s
"""


@dataclass
class OrderReconciliation:
    """What one visit of the reconciler found on an order (its verdict) and did about it."""

    order_id: str
    verdict: Verdict
    actions: list[ReconciliationAction] = field(default_factory=list)


@dataclass
class PassReport:
    examined: int = 0
    outcomes: list[OrderReconciliation] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def actions(self) -> list[ReconciliationAction]:
        return [a for o in self.outcomes for a in o.actions]


def run_pass(*, now: datetime | None = None, limit: int | None = None,
             dry_run: bool = False) -> PassReport:
    """One reconciler pass over the due sagas (beat runs it every few seconds)."""
    started = time.monotonic()
    now = now or timezone.now()
    limit = limit or settings.SAGA_RECONCILE_BATCH
    if dry_run:
        sagas = list(OrderSaga.objects.raw(_DUE_SQL, [now, limit]))
    else:
        sagas = list(OrderSaga.objects.raw(_CLAIM_SQL, [now, limit, now + LEASE]))
    report = _reconcile(sagas, now, dry_run=dry_run, actor=RECONCILER)
    report.seconds = time.monotonic() - started
    if not dry_run:
        _count_pass(report, now)
    if report.actions:
        log.info("reconciler pass: %d sagas examined, %d actions in %.3fs", report.examined,
                 len(report.actions), report.seconds)
    return report


_STATS_SQL = """
INSERT INTO saga_reconcilerstats AS s
    (id, passes, seconds_total, last_seconds, last_examined, last_pass_at)
VALUES (1, 1, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET passes = s.passes + 1,
    seconds_total = s.seconds_total + EXCLUDED.seconds_total,
    last_seconds = EXCLUDED.last_seconds, last_examined = EXCLUDED.last_examined,
    last_pass_at = EXCLUDED.last_pass_at
"""


def _count_pass(report: PassReport, now: datetime) -> None:
    """One statement: the cumulative figures /metrics reads (any process, any time)."""
    with connection.cursor() as cursor:
        cursor.execute(_STATS_SQL, [report.seconds, report.seconds, report.examined, now])


def reconcile_order(order_id: str, *, actor: str = RECONCILER, dry_run: bool = False,
                    now: datetime | None = None) -> OrderReconciliation | None:
    """Reconcile one saga now, whatever its state or next check (`manage.py reconcile
    --order`, the admin's "reconcile now"): its step counts as stalled."""
    saga = OrderSaga.objects.filter(order_id=order_id).first()
    if saga is None:
        return None
    report = _reconcile([saga], now or timezone.now(), dry_run=dry_run, actor=actor, force=True)
    return report.outcomes[0]


def _reconcile(sagas: list[OrderSaga], now: datetime, *, dry_run: bool, actor: str,
               force: bool = False) -> PassReport:
    report = PassReport(examined=len(sagas))
    if not sagas:
        return report
    observations, failures = _observe_each(sagas)
    quiet: list[tuple[OrderSaga, dict]] = []
    flagged: list[ReconciliationAction] = []
    for saga in sagas:
        if saga.order_id not in observations:
            continue
        try:
            verdict = decide(saga, observations[saga.order_id], now, force=force)
            outcome = OrderReconciliation(saga.order_id, verdict)
            if dry_run:
                outcome.actions = [apply_correction(saga, c, actor=actor, dry_run=True)
                                   for c in verdict.corrections]
            elif verdict.corrections:
                outcome.actions = _settle(saga, verdict, now, actor)
            else:  # only looked at: written with the others below
                fields, attention = bookkeeping.after_pass(saga, verdict, now, acted=False)
                quiet.append((saga, fields))
                flagged += [attention] if attention else []
        except Exception as exc:  # one saga's fault must not stop the pass
            failures.append((saga, exc))
            continue
        report.outcomes.append(outcome)
    if not dry_run:
        for saga, exc in failures:
            _record_error(saga, exc, now, "reconcile")
    if quiet:
        with transaction.atomic():
            written = bookkeeping.write_many(quiet)
            # Only for rows this pass holds now: a row a worker holds would make the
            # action's foreign key wait for it.
            flagged = [a for a in flagged if a.saga_id in written]
            ReconciliationAction.objects.bulk_create(flagged)
        _alert(flagged, now)
    return report


def _alert(flagged: list[ReconciliationAction], now: datetime) -> None:
    for action in flagged:
        alerts.needs_attention(action.saga.order_id, action.reason,
                               started_at=action.saga.started_at, now=now)


def _settle(claimed: OrderSaga, verdict: Verdict, now: datetime,
            actor: str) -> list[ReconciliationAction]:
    """Carry out one saga's corrections and write its bookkeeping, in one transaction."""
    actions = []
    with transaction.atomic():
        # A saga row a worker holds is moving: leave it to the next pass (its event sets the
        # next check), rather than wait for a lock while holding others (README, "Lock order").
        saga = (OrderSaga.objects.select_for_update(skip_locked=True)
                .filter(order_id=claimed.order_id).first())
        if saga is None:
            return actions
        moved = saga.last_event_id != claimed.last_event_id  # an event landed meanwhile
        for correction in verdict.corrections:
            if needs_approval(correction) and already_proposed(saga, correction):
                continue
            actions.append(apply_correction(saga, correction, actor=actor))
        if any(a.kind == "rebuild_read_model" and a.subject == "saga.OrderSaga"
               for a in actions):
            saga.refresh_from_db()
        if moved:
            return actions  # the projection has the newer word; look again at its deadline
        fields, attention = bookkeeping.after_pass(saga, verdict, now, acted=bool(actions))
        bookkeeping.write_one(saga, fields)
        if attention is not None:
            attention.save()
    _alert([attention] if attention is not None else [], now)
    return actions


def verify_converged(*, limit: int | None = None, now: datetime | None = None) -> list[str]:
    """Re-check a page of converged sagas against their participants (never-verified first);
    reopen those that drifted. Returns the reopened order ids."""
    now = now or timezone.now()
    limit = limit or settings.SAGA_VERIFY_BATCH
    sagas = list(OrderSaga.objects.filter(state=OrderSaga.State.CONVERGED)
                 .order_by(F("verified_at").asc(nulls_first=True))[:limit])
    if not sagas:
        return []
    observations, failures = _observe_each(sagas)
    reopened = []
    for saga in sagas:
        if saga.order_id not in observations:
            continue
        try:
            if _drifted(saga, observations[saga.order_id]):
                reopened.append(saga)
        except Exception as exc:
            failures.append((saga, exc))
    # Every saga of the page counts as verified, the failed ones too (their errors are
    # recorded below), so verification keeps advancing past a saga it cannot read.
    OrderSaga.objects.filter(order_id__in=[s.order_id for s in sagas]).update(verified_at=now)
    for saga in reopened:
        try:
            _reopen(saga, observations[saga.order_id], now)
        except Exception as exc:
            failures.append((saga, exc))
    for saga, exc in failures:
        _record_error(saga, exc, now, "verify")
    failed = {saga.order_id for saga, _ in failures}
    return [s.order_id for s in reopened if s.order_id not in failed]


def _observe_each(
    sagas: list[OrderSaga],
) -> tuple[dict[str, Observation], list[tuple[OrderSaga, BaseException]]]:
    """Observe the sagas in bulk; if that fails, one at a time, so a saga whose records
    cannot be read (an undecodable event, say) costs only itself."""
    try:
        return observe(sagas), []
    except Exception:
        log.warning("observing %d sagas together failed; observing them one by one",
                    len(sagas), exc_info=True)
    observations: dict[str, Observation] = {}
    failures: list[tuple[OrderSaga, BaseException]] = []
    for saga in sagas:
        try:
            observations.update(observe([saga]))
        except Exception as exc:
            failures.append((saga, exc))
    return observations, failures


def _record_error(saga: OrderSaga, exc: BaseException, now: datetime, during: str) -> None:
    """Record a saga that a pass could not handle (an operator sees why in its actions), and
    look at it again only after the longest backoff: it will not mend itself sooner."""
    log.error("%s of saga %s failed: %s: %s", during, saga.order_id, type(exc).__name__, exc,
              exc_info=exc)
    try:
        with transaction.atomic():
            ReconciliationAction.objects.create(
                saga=saga, kind=f"{during}_failed", actor=RECONCILER,
                reason=f"the {during} pass could not handle this saga: "
                       f"{type(exc).__name__}: {exc}"[:2000],
                evidence={"error": "".join(traceback.format_exception(exc))[-4000:]})
            if during == "reconcile":
                OrderSaga.objects.filter(order_id=saga.order_id).update(
                    next_check_at=now + timedelta(seconds=settings.SAGA_BACKOFF_CAP_SECONDS))
    except Exception:
        log.exception("could not record the failure of saga %s", saga.order_id)


def _drifted(saga: OrderSaga, obs: Observation) -> bool:
    return bool(desired.gap(obs.seen(saga)) or obs.saga_drift or obs.view_drift)


def _reopen(saga: OrderSaga, obs: Observation, now: datetime) -> None:
    seen = obs.seen(saga)
    gap = desired.gap(seen)
    drift = desired.differences(seen)
    parts = [f"{name}: {d['observed']} (wanted {d['desired']})" for name, d in drift.items()]
    parts += [f"read model {name} differs ({', '.join(fields)})" for name, fields in
              (("saga", obs.saga_drift), ("order view", obs.view_drift)) if fields]
    with transaction.atomic():
        updated = OrderSaga.objects.filter(
            order_id=saga.order_id, state=OrderSaga.State.CONVERGED).update(
            state=(OrderSaga.State.COMPENSATING if saga.desired_outcome == "cancelled"
                   else OrderSaga.State.RUNNING),
            gap=max(gap, 1), next_check_at=now, checks=0, step_retries=0, observed_gap=None,
            converged_at=None)
        if updated:
            ReconciliationAction.objects.create(
                saga=saga, kind="drift_found", actor=RECONCILER,
                reason="a converged saga no longer matches its participants: " + "; ".join(parts),
                evidence={"observed": {k: v["observed"] for k, v in drift.items()},
                          "desired": {k: v["desired"] for k, v in drift.items()},
                          "read_models": {"saga": obs.saga_drift, "order_view": obs.view_drift}},
                causing_event_ids=[saga.last_event_id] if saga.last_event_id else [])
