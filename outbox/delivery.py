"""Running a delivery: charge the attempt (committed first, see outbox/claims.py), then lock
its row, skip it if done, run the handler, mark it done, one commit.

A handler error rolls the handler's work back; the failure is then recorded in its own
transaction with a retry time (capped exponential backoff, full jitter) or, for a
`PermanentError` or once attempts run out, the delivery is dead. A `RetryLater` (a provider
outage, outbox/outages.py) is retried with a capped backoff until its deadline, whatever the
attempts.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from common.db_conflicts import conflict_sqlstate, jitter
from common.message_context import message_context
from outbox import claims, registry, relay
from outbox.envelope import Envelope
from outbox.models import Delivery
from outbox.outages import OUTAGE_MARK, RetryLater

log = logging.getLogger(__name__)

# Deliveries one task may run through inline hops before it hands the rest to the broker.
MAX_INLINE = 200
# Runs of one delivery that lost a lock race, in a row, before the loss counts as an attempt.
CONFLICT_RETRIES = 3


class PermanentError(Exception):
    """Raised by a handler for an input that no retry can fix: the delivery goes dead at once."""


class HandlerSwallowedError(RuntimeError):
    """A handler returned normally from a transaction that an error had already doomed."""


class DeliveryResult(StrEnum):
    """What became of one run of a delivery."""

    DONE = "done"
    SKIPPED = "skipped"  # done or dead already, locked by another worker, or not due yet
    RETRY = "retry"
    DEAD = "dead"


def backoff(attempts: int) -> float:
    """Seconds before retry `attempts` (1-based): full jitter under a capped exponential."""
    ceiling = min(
        settings.OUTBOX_BACKOFF_CAP_SECONDS,
        settings.OUTBOX_BACKOFF_BASE_SECONDS * (2 ** (attempts - 1)),
    )
    return random.uniform(0, ceiling)


@dataclass
class GroupRun:
    """What became of a group: how many ran, or which delivery failed it (and how)."""

    ran: int = 0
    rolled_back: bool = False
    failed: tuple[int, int, BaseException, dict[str, str]] | None = None  # id, attempts seen
    error: BaseException | None = None  # a failure outside any handler


def run_group(items: list[tuple[int, int]]) -> GroupRun:
    """Run charged deliveries (id, charged attempt) in one transaction: one statement takes
    them all, the handlers run in delivery order, one commit. `ran` counts those that ran
    (the others were done, dead, charged again by another worker, or held by one).

    If a handler fails, nothing of the group is kept: `failed` names that delivery (the
    caller records the failure against it alone, with its backoff) and the caller runs the
    others again, already charged. A failure outside any handler (the take, the commit) only
    rolls back. A handler's outside effects (a charge, a booking, an e-mail) may thus happen
    in a group that rolls back, exactly as when a commit fails: every handler already finds
    its provider's record by idempotency key on the next run.
    """
    current: tuple[int, int, dict[str, str]] | None = None
    try:
        with transaction.atomic():
            taken = claims.take(items)
            for delivery_id, handler, attempts, *columns in taken:
                env = Envelope.from_row(columns)
                context = _log_context(handler, env)
                current = (delivery_id, attempts, context)
                _handle(handler, env, context)
            current = None
    except Exception as exc:
        _drop_if_broken()
        if current is None:
            if len(items) > 1:
                log.info("a group of %d deliveries rolled back (%s: %s); running them one "
                         "by one", len(items), type(exc).__name__, exc)
            return GroupRun(rolled_back=True, error=exc)
        if conflict_sqlstate(exc) is not None and len(items) > 1:
            # A lock race with another transaction, no fault of the handler's: nothing more is
            # charged, the deliveries run again one by one (each holds one order's locks).
            log.info("a group of %d deliveries lost a lock race (SQLSTATE %s); running them "
                     "one by one", len(items), conflict_sqlstate(exc))
            return GroupRun(rolled_back=True, error=exc)
        delivery_id, attempts_seen, context = current
        return GroupRun(rolled_back=True, failed=(delivery_id, attempts_seen, exc, context))
    return GroupRun(ran=len(taken))


def _drop_if_broken() -> None:
    """After a failure, replace a broken connection; not inside a caller's transaction (a
    test's, or a command's), which closing would end."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def _log_context(handler: str, env: Envelope) -> dict[str, str]:
    """The handler's log lines, and a failure's, carry the event's ids."""
    return {"correlation": env.correlation_id, "causation": str(env.id),
            "by": f"handler:{handler}"}


def _handle(handler: str, env: Envelope, context: dict[str, str]) -> None:
    """Run one handler inside the delivery's (or group's) transaction."""
    sub = registry.subscription(handler, env.event_type)
    with message_context(**context):
        sub.func(env.event, env)
    if connection.needs_rollback:
        # Services join this transaction without savepoints: a handler that swallowed an
        # error raised inside one would otherwise be rolled back without a word, and the
        # delivery run again and again.
        raise HandlerSwallowedError(f"{handler} caught an error that doomed its "
                                    "transaction; let it propagate instead")


def run_delivery(delivery_id: int, expected_attempts: int | None = None) -> DeliveryResult:
    """Charge one delivery's attempt (committed), then run it in its own transaction; a
    transaction that loses a lock race (deadlock, serialization failure) runs again at once, up
    to CONFLICT_RETRIES times, before the loss is recorded as a failed attempt.

    `expected_attempts` is the attempt count the message was sent for: a message sent before
    a later attempt was charged (a duplicate, a sweep that raced a retry, a broker redelivery
    after a worker died) is stale and skipped, so a retry's backoff and a lost worker's lease
    are honoured. The sweep and every retry send the current count, so the newest message
    always runs. None (an old message) skips no check.
    """
    return _run_alone(delivery_id, expected_attempts)[0]


def _run_alone(
    delivery_id: int, expected_attempts: int | None
) -> tuple[DeliveryResult, BaseException | None]:
    try:
        charge = claims.charge([(delivery_id, expected_attempts)], alone=True)
    except Exception:
        # The database went away? Leave this delivery to the sweep, get a fresh connection.
        log.exception("delivery %s could not be charged", delivery_id)
        _drop_if_broken()
        return DeliveryResult.SKIPPED, None
    if charge.dead:
        return DeliveryResult.DEAD, None
    if delivery_id not in charge.charged:
        return DeliveryResult.SKIPPED, None  # done or dead, held by another worker, stale, or gone
    return _finish_alone(delivery_id, charge.charged[delivery_id])


def _finish_alone(delivery_id: int, attempts: int) -> tuple[DeliveryResult, BaseException | None]:
    """Run one charged delivery in its own transaction (again at once if it loses a lock
    race, up to CONFLICT_RETRIES times); record its failure if it fails."""
    for retry in range(1, CONFLICT_RETRIES + 1):
        result = run_group([(delivery_id, attempts)])
        lost = result.failed[2] if result.failed is not None else result.error
        if retry == CONFLICT_RETRIES or lost is None or conflict_sqlstate(lost) is None:
            break
        log.info("delivery %s lost a lock race (SQLSTATE %s); running it again",
                 delivery_id, conflict_sqlstate(lost))
        time.sleep(jitter(retry))
    if not result.rolled_back:
        return (DeliveryResult.DONE if result.ran else DeliveryResult.SKIPPED), None
    if result.failed is not None:
        _, _, exc, context = result.failed
    else:
        exc, context = result.error or RuntimeError("rolled back"), {}
    with message_context(**context):
        return _record_alone(delivery_id, exc, attempts), exc


def _record_alone(delivery_id: int, exc: BaseException, attempts_seen: int) -> DeliveryResult:
    try:
        return record_failure(delivery_id, exc, attempts_seen)
    except Exception:
        log.exception("the failure of delivery %s could not be recorded", delivery_id)
        _drop_if_broken()
        return DeliveryResult.SKIPPED


def record_failure(
    delivery_id: int, exc: BaseException, attempts_seen: int | None = None
) -> DeliveryResult:
    """Schedule the next attempt of a failed one (already counted by its charge), or make
    the delivery dead. Nothing is recorded if another run has charged the delivery again
    since `attempts_seen`. A `RetryLater` before its deadline is never dead: it waits out
    the outage with a backoff capped at OUTBOX_RETRY_LATER_CAP_SECONDS."""
    waiting = isinstance(exc, RetryLater) and timezone.now() < exc.until
    error = "".join(traceback.format_exception(exc))[-3500:]
    if waiting:
        error = f"{OUTAGE_MARK}{exc.until.isoformat()}: {exc}\n{error}"
    with transaction.atomic():
        row = Delivery.objects.select_for_update().filter(id=delivery_id).first()
        if row is None or row.status != Delivery.Status.PENDING:
            return DeliveryResult.SKIPPED
        if attempts_seen is not None and row.attempts != attempts_seen:
            return DeliveryResult.SKIPPED
        row.last_error = error
        if isinstance(exc, PermanentError) or (
                row.attempts >= settings.OUTBOX_MAX_ATTEMPTS and not waiting):
            row.status = Delivery.Status.DEAD
            row.save(update_fields=["last_error", "status"])
            log.error("delivery %s to %s is dead after %d attempts: %s",
                      row.id, row.handler, row.attempts, exc)
            return DeliveryResult.DEAD
        delay = backoff(row.attempts)
        if waiting:
            delay = min(delay, random.uniform(0, settings.OUTBOX_RETRY_LATER_CAP_SECONDS))
        row.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        row.save(update_fields=["last_error", "next_attempt_at"])
        log.warning("delivery %s to %s failed (attempt %d), retry in %.3fs: %s",
                    row.id, row.handler, row.attempts, delay, exc)
        queue, attempts = row.queue, row.attempts
    # Short waits ride a delayed message; long ones are left to the sweep (a delayed message
    # held past the broker's visibility timeout would be redelivered anyway).
    if delay <= 60:
        relay.send([(delivery_id, queue)], countdown=delay, attempts=attempts)
    return DeliveryResult.RETRY


# (delivery id, attempts the message was sent for or charged, whether already charged)
_Item = tuple[int, int | None, bool]


def run_batch(
    delivery_ids: list[int], attempts: list[int] | None = None
) -> dict[DeliveryResult, int]:
    """Run deliveries in order, following inline hops: up to OUTBOX_GROUP_SIZE of them
    charged by one statement and run in one transaction (`run_group`); a group that fails
    is run again without the failed one, each delivery charged once.

    `attempts[i]` is the attempt count `delivery_ids[i]` was sent for (see `run_delivery`);
    the deliveries found by inline hops are new, so they are run for attempt 0. A soft time
    limit (a hung handler) fails its delivery like an error and hands the rest of the batch
    back to the broker, before the hard limit kills the worker.
    """
    counts: dict[DeliveryResult, int] = dict.fromkeys(DeliveryResult, 0)
    expected = attempts if attempts is not None else [None] * len(delivery_ids)
    todo: deque[_Item] = deque((i, n, False) for i, n in zip(delivery_ids, expected, strict=True))
    budget = len(delivery_ids) + MAX_INLINE
    group_size = max(1, settings.OUTBOX_GROUP_SIZE)
    with relay.inline_hops(enabled=settings.OUTBOX_INLINE_HOPS) as hops:
        while todo and budget > 0:
            group = [todo.popleft() for _ in range(min(group_size, len(todo), budget))]
            budget -= len(group)
            error, requeued = _run_items(group, counts)
            todo.extendleft(reversed(requeued))
            budget += len(requeued)
            todo.extend((delivery_id, 0, False) for delivery_id in hops)
            hops.clear()
            if isinstance(error, SoftTimeLimitExceeded):
                break
    if todo:
        # Past the budget or the time limit: hand the rest to the broker (one query reads
        # their queues and counts).
        rows = Delivery.objects.filter(id__in=[i for i, _, _ in todo]).values_list(
            "id", "queue", "attempts"
        )
        relay.send([(i, q) for i, q, _ in rows], attempts={i: n for i, _, n in rows})
    return counts


def _run_items(
    group: list[_Item], counts: dict[DeliveryResult, int]
) -> tuple[BaseException | None, list[_Item]]:
    """Charge the group's new deliveries and run them with the already charged ones; returns
    the error that failed a delivery (if any) and the deliveries to run again first."""
    charged = [(i, n) for i, n, was_charged in group if was_charged and n is not None]
    fresh = [(i, n) for i, n, was_charged in group if not was_charged]
    if fresh:
        try:
            charge = claims.charge(fresh, alone=len(group) == 1)
        except Exception:
            log.exception("%d deliveries could not be charged; left to the sweep", len(fresh))
            _drop_if_broken()
            counts[DeliveryResult.SKIPPED] += len(fresh)
            return None, []
        counts[DeliveryResult.DEAD] += len(charge.dead)
        counts[DeliveryResult.SKIPPED] += (len(fresh) - len(charge.charged) - len(charge.dead)
                                    - len(charge.suspects))
        # A suspect's last attempt lost its worker: it is charged and run alone, so if it
        # kills this worker too, the rest of the group has already been kept.
        sent_for = dict(fresh)
        for suspect in charge.suspects:
            outcome, error = _run_alone(suspect, sent_for[suspect])
            counts[outcome] += 1
            if isinstance(error, SoftTimeLimitExceeded):
                pending = [(i, n, True) for i, n in charged]
                return error, pending + [(i, charge.charged[i], True) for i, _ in fresh
                                         if i in charge.charged]
        charged += [(i, charge.charged[i]) for i, _ in fresh if i in charge.charged]
    if not charged:
        return None, []
    if len(charged) == 1:
        outcome, error = _finish_alone(*charged[0])
        counts[outcome] += 1
        return error, []
    result = run_group(charged)
    if result.failed is not None:
        # The failing delivery's attempt is recorded (and backed off) as if it ran alone;
        # the others run again, first, without a new charge.
        failed_id, attempts_seen, exc, context = result.failed
        with message_context(**context):
            counts[_record_alone(failed_id, exc, attempts_seen)] += 1
        return exc, [(i, n, True) for i, n in charged if i != failed_id]
    if result.rolled_back:
        for delivery_id, attempts in charged:
            outcome, error = _finish_alone(delivery_id, attempts)
            counts[outcome] += 1
        return None, []
    counts[DeliveryResult.DONE] += result.ran
    counts[DeliveryResult.SKIPPED] += len(charged) - result.ran
    return None, []
