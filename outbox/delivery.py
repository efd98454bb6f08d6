"""Running a delivery: lock its row, skip it if done, run the handler, mark it done, one commit.

A handler error rolls the handler's work back; the failure is then recorded in its own
transaction with a retry time (capped exponential backoff, full jitter) or, for a
`PermanentError` or once attempts run out, the delivery is dead.
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
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from common.db_conflicts import conflict_sqlstate, jitter
from common.message_context import message_context
from common.sql import fetchall, fetchone
from outbox import registry, relay
from outbox.envelope import EVENT_COLUMNS, Envelope
from outbox.models import Delivery

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


# One statement takes the row lock (skipping a row another worker holds), checks that the
# delivery is still pending (and not stale), marks it done and reads its event. The mark only
# becomes visible if the handler succeeds and the transaction commits; a failure rolls it back.
# done_at is when the successful attempt began (the no-op diagnostic handler's handled-at).
_TAKE_SQL = """
WITH locked AS (
    SELECT id FROM outbox_delivery
    WHERE id = %s AND status = 'pending' AND (%s::integer IS NULL OR attempts = %s::integer)
    FOR UPDATE SKIP LOCKED
){async_commit}
UPDATE outbox_delivery AS d
SET status = 'done', attempts = d.attempts + 1, done_at = clock_timestamp()
FROM locked{also}, outbox_event AS e
WHERE d.id = locked.id AND e.id = d.event_id
RETURNING d.handler, d.attempts - 1, e.id, {event_columns}
"""


def _commit_variants(sql: str) -> dict[bool, str]:
    """The take statement as is, and (for OUTBOX_ASYNC_COMMIT) one that also makes its
    transaction commit without waiting for the WAL flush (SET LOCAL, so only delivery
    transactions): a commit lost in a database crash leaves the delivery pending, and it
    simply runs again. Both return the event's columns as `Envelope.from_row` reads them."""
    event_columns = ", ".join(f"e.{column}" for column in EVENT_COLUMNS)
    return {
        False: sql.format(async_commit="", also="", event_columns=event_columns),
        True: sql.format(
            async_commit=",\nno_wait AS MATERIALIZED (\n"
            "    SELECT set_config('synchronous_commit', 'off', true)\n)",
            also=", no_wait",
            event_columns=event_columns,
        ),
    }


_TAKE = _commit_variants(_TAKE_SQL)


def _take(delivery_id: int, expected_attempts: int | None) -> tuple[Any, ...] | None:
    """Run the take statement (prepared on the server: it runs once per delivery)."""
    return fetchone(_TAKE[settings.OUTBOX_ASYNC_COMMIT],
                    [delivery_id, expected_attempts, expected_attempts])


# The same for a group of deliveries, in one statement: `attempts` -1 means "any".
_TAKE_GROUP_SQL = """
WITH wanted AS (
    SELECT * FROM unnest(%s::bigint[], %s::integer[]) AS w(id, attempts)
), locked AS (
    SELECT d.id FROM outbox_delivery AS d JOIN wanted AS w ON w.id = d.id
    WHERE d.status = 'pending' AND (w.attempts < 0 OR d.attempts = w.attempts)
    FOR UPDATE OF d SKIP LOCKED
){async_commit}
UPDATE outbox_delivery AS d
SET status = 'done', attempts = d.attempts + 1, done_at = clock_timestamp()
FROM locked{also}, outbox_event AS e
WHERE d.id = locked.id AND e.id = d.event_id
RETURNING d.id, d.handler, d.attempts - 1, e.id, {event_columns}
"""
_TAKE_GROUP = _commit_variants(_TAKE_GROUP_SQL)


@dataclass
class GroupRun:
    """What became of a group: how many ran, or which delivery failed it (and how)."""

    ran: int = 0
    rolled_back: bool = False
    failed: tuple[int, int, BaseException, dict[str, str]] | None = None  # id, attempts seen


def run_group(items: list[tuple[int, int | None]]) -> GroupRun:
    """Run several deliveries in one transaction: one statement takes them all, the handlers
    run in delivery order, one commit. `ran` counts those that ran (the others were done,
    dead, stale or held by another worker).

    If a handler fails, nothing of the group is kept: `failed` names that delivery (the
    caller records the failure against it alone, with its backoff) and the caller runs the
    others again. A failure outside any handler (the take, the commit) only rolls back.
    A handler's outside effects (a charge, a booking, an e-mail) may thus happen in a group
    that rolls back, exactly as when a commit fails: every handler already finds its
    provider's record by idempotency key on the next run.
    """
    ids = [delivery_id for delivery_id, _ in items]
    expected = [-1 if n is None else n for _, n in items]
    current: tuple[int, int, dict[str, str]] | None = None
    try:
        with transaction.atomic():
            taken = sorted(fetchall(_TAKE_GROUP[settings.OUTBOX_ASYNC_COMMIT], [ids, expected]))
            for delivery_id, handler, attempts_seen, *columns in taken:
                env = Envelope.from_row(columns)
                context = _log_context(handler, env)
                current = (delivery_id, attempts_seen, context)
                _handle(handler, env, context)
            current = None
    except Exception as exc:
        connection.close_if_unusable_or_obsolete()
        if current is None:
            log.info("a group of %d deliveries rolled back (%s: %s); running them one by one",
                     len(items), type(exc).__name__, exc)
            return GroupRun(rolled_back=True)
        if conflict_sqlstate(exc) is not None:
            # A lock race with another transaction, no fault of the handler's: nothing is
            # charged, the deliveries run again one by one (each holds one order's locks).
            log.info("a group of %d deliveries lost a lock race (SQLSTATE %s); running them "
                     "one by one", len(items), conflict_sqlstate(exc))
            return GroupRun(rolled_back=True)
        delivery_id, attempts_seen, context = current
        return GroupRun(rolled_back=True, failed=(delivery_id, attempts_seen, exc, context))
    return GroupRun(ran=len(taken))


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
    """Run one delivery in its own transaction; a transaction that loses a lock race
    (deadlock, serialization failure) runs again at once, up to CONFLICT_RETRIES times, before
    the loss is recorded as a failed attempt (retried with backoff like any transient error).

    `expected_attempts` is the attempt count the message was sent for: a message sent before
    a later attempt ran (a duplicate, a sweep that raced a retry, a broker redelivery) is
    stale and skipped, so a retry's backoff is honoured. The sweep and every retry send the
    current count, so the newest message always runs. None (an old message) skips no check.
    """
    for retry in range(1, CONFLICT_RETRIES + 1):
        result = _run_once(delivery_id, expected_attempts, last_try=retry == CONFLICT_RETRIES)
        if result is not None:
            return result
        time.sleep(jitter(retry))
    raise AssertionError("unreachable")


def _run_once(delivery_id: int, expected_attempts: int | None,
              *, last_try: bool) -> DeliveryResult | None:
    """One run of `run_delivery`; None if it lost a lock race and may run again."""
    attempts_seen = expected_attempts
    context: dict[str, str] = {}
    try:
        with transaction.atomic():
            taken = _take(delivery_id, expected_attempts)
            if taken is None:
                # Done or dead, held by another worker, stale, or gone.
                return DeliveryResult.SKIPPED
            handler, attempts_seen, *columns = taken
            env = Envelope.from_row(columns)
            context = _log_context(handler, env)
            _handle(handler, env, context)
        return DeliveryResult.DONE
    except Exception as exc:
        if not last_try and conflict_sqlstate(exc) is not None:
            log.info("delivery %s lost a lock race (SQLSTATE %s); running it again",
                     delivery_id, conflict_sqlstate(exc))
            return None
        with message_context(**context):
            return record_failure(delivery_id, exc, attempts_seen)


def _run_alone(delivery_id: int, expected_attempts: int | None) -> DeliveryResult:
    try:
        return run_delivery(delivery_id, expected_attempts)
    except Exception:
        # Even recording the failure failed (the database went away?): leave this delivery
        # to the sweep, get a fresh connection, and go on with the batch.
        log.exception("delivery %s could not run or record its failure", delivery_id)
        connection.close_if_unusable_or_obsolete()
        return DeliveryResult.SKIPPED


def _record_alone(delivery_id: int, exc: BaseException, attempts_seen: int) -> DeliveryResult:
    try:
        return record_failure(delivery_id, exc, attempts_seen)
    except Exception:
        log.exception("the failure of delivery %s could not be recorded", delivery_id)
        connection.close_if_unusable_or_obsolete()
        return DeliveryResult.SKIPPED


def record_failure(
    delivery_id: int, exc: BaseException, attempts_seen: int | None = None
) -> DeliveryResult:
    """Count the failed attempt and schedule the next one, or make the delivery dead.
    Nothing is recorded if another run has moved the delivery on since `attempts_seen`."""
    error = "".join(traceback.format_exception(exc))[-4000:]
    with transaction.atomic():
        row = Delivery.objects.select_for_update().filter(id=delivery_id).first()
        if row is None or row.status != Delivery.Status.PENDING:
            return DeliveryResult.SKIPPED
        if attempts_seen is not None and row.attempts != attempts_seen:
            return DeliveryResult.SKIPPED
        row.attempts += 1
        row.last_error = error
        if isinstance(exc, PermanentError) or row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            row.status = Delivery.Status.DEAD
            row.save(update_fields=["attempts", "last_error", "status"])
            log.error("delivery %s to %s is dead after %d attempts: %s",
                      row.id, row.handler, row.attempts, exc)
            return DeliveryResult.DEAD
        delay = backoff(row.attempts)
        row.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        row.save(update_fields=["attempts", "last_error", "next_attempt_at"])
        log.warning("delivery %s to %s failed (attempt %d), retry in %.3fs: %s",
                    row.id, row.handler, row.attempts, delay, exc)
        queue, attempts = row.queue, row.attempts
    # Short waits ride a delayed message; long ones are left to the sweep (a delayed message
    # held past the broker's visibility timeout would be redelivered anyway).
    if delay <= 60:
        relay.send([(delivery_id, queue)], countdown=delay, attempts=attempts)
    return DeliveryResult.RETRY


def run_batch(
    delivery_ids: list[int], attempts: list[int] | None = None
) -> dict[DeliveryResult, int]:
    """Run deliveries in order, following inline hops: up to OUTBOX_GROUP_SIZE of them in one
    transaction (`run_group`), each in its own if the group fails.

    `attempts[i]` is the attempt count `delivery_ids[i]` was sent for (see `run_delivery`);
    the deliveries found by inline hops are new, so they are run for attempt 0.
    """
    counts: dict[DeliveryResult, int] = dict.fromkeys(DeliveryResult, 0)
    expected = attempts if attempts is not None else [None] * len(delivery_ids)
    todo: deque[tuple[int, int | None]] = deque(zip(delivery_ids, expected, strict=True))
    budget = len(delivery_ids) + MAX_INLINE
    group_size = max(1, settings.OUTBOX_GROUP_SIZE)
    with relay.inline_hops(enabled=settings.OUTBOX_INLINE_HOPS) as hops:
        while todo and budget > 0:
            group = [todo.popleft() for _ in range(min(group_size, len(todo), budget))]
            if len(group) == 1:
                counts[_run_alone(*group[0])] += 1
                budget -= 1
            else:
                result = run_group(group)
                if result.failed is not None:
                    # The failing delivery's attempt is counted (and backed off) as if it ran
                    # alone; the others run again, first.
                    failed_id, attempts_seen, exc, context = result.failed
                    with message_context(**context):
                        counts[_record_alone(failed_id, exc, attempts_seen)] += 1
                    todo.extendleft(reversed([i for i in group if i[0] != failed_id]))
                    budget -= 1
                elif result.rolled_back:
                    for delivery_id, expected_attempts in group:
                        counts[_run_alone(delivery_id, expected_attempts)] += 1
                    budget -= len(group)
                else:
                    counts[DeliveryResult.DONE] += result.ran
                    counts[DeliveryResult.SKIPPED] += len(group) - result.ran
                    budget -= len(group)
            todo.extend((delivery_id, 0) for delivery_id in hops)
            hops.clear()
    if todo:
        # Past the budget: hand the rest to the broker (one query reads their queues).
        rows = Delivery.objects.filter(id__in=[i for i, _ in todo]).values_list(
            "id", "queue", "attempts"
        )
        relay.send([(i, q) for i, q, _ in rows], attempts={i: n for i, _, n in rows})
    return counts
