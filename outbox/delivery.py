"""Running a delivery: lock its row, skip it if done, run the handler, mark it done, one commit.

A handler error rolls the handler's work back; the failure is then recorded in its own
transaction with a retry time (capped exponential backoff, full jitter) or, for a
`PermanentError` or once attempts run out, the delivery is dead.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections import deque
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from outbox import registry, relay
from outbox.context import message_context
from outbox.models import Delivery
from outbox.store import envelope

log = logging.getLogger(__name__)

# Deliveries one task may run through inline hops before it hands the rest to the broker.
MAX_INLINE = 200
# A retry message may arrive a little before its row says it is due.
DUE_TOLERANCE = timedelta(milliseconds=200)


class PermanentError(Exception):
    """Raised by a handler for an input that no retry can fix: the delivery goes dead at once."""


class Outcome(StrEnum):
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


def run_delivery(delivery_id: int) -> Outcome:
    try:
        with transaction.atomic():
            row = (
                Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("event")
                .filter(id=delivery_id)
                .first()
            )
            if row is None or row.status != Delivery.Status.PENDING:
                return Outcome.SKIPPED
            if row.attempts and row.next_attempt_at > timezone.now() + DUE_TOLERANCE:
                return Outcome.SKIPPED  # an early duplicate of a retry: honour the backoff
            env = envelope(row.event)
            sub = registry.subscription(row.handler, row.event.event_type)
            with message_context(
                correlation=env.correlation_id, causation=str(env.id), by=f"handler:{row.handler}"
            ):
                sub.func(env.event, env)
            Delivery.objects.filter(id=row.id).update(
                status=Delivery.Status.DONE, attempts=F("attempts") + 1, done_at=timezone.now()
            )
        return Outcome.DONE
    except Exception as exc:
        return record_failure(delivery_id, exc)


def record_failure(delivery_id: int, exc: BaseException) -> Outcome:
    error = "".join(traceback.format_exception(exc))[-4000:]
    with transaction.atomic():
        row = Delivery.objects.select_for_update().filter(id=delivery_id).first()
        if row is None or row.status != Delivery.Status.PENDING:
            return Outcome.SKIPPED
        row.attempts += 1
        row.last_error = error
        if isinstance(exc, PermanentError) or row.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            row.status = Delivery.Status.DEAD
            row.save(update_fields=["attempts", "last_error", "status"])
            log.error("delivery %s to %s is dead after %d attempts: %s",
                      row.id, row.handler, row.attempts, exc)
            return Outcome.DEAD
        delay = backoff(row.attempts)
        row.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        row.save(update_fields=["attempts", "last_error", "next_attempt_at"])
        log.warning("delivery %s to %s failed (attempt %d), retry in %.2fs: %s",
                    row.id, row.handler, row.attempts, delay, exc)
        queue = row.queue
    # Short waits ride a delayed message; long ones are left to the sweep (a delayed message
    # held past the broker's visibility timeout would be redelivered anyway).
    if delay <= 60:
        relay.send([(delivery_id, queue)], countdown=delay)
    return Outcome.RETRY


def run_batch(delivery_ids: list[int]) -> dict[Outcome, int]:
    """Run deliveries in order, each in its own transaction, following inline hops."""
    counts: dict[Outcome, int] = dict.fromkeys(Outcome, 0)
    todo = deque(delivery_ids)
    budget = len(delivery_ids) + MAX_INLINE
    with relay.inline_hops(enabled=settings.OUTBOX_INLINE_HOPS) as hops:
        while todo and budget > 0:
            counts[run_delivery(todo.popleft())] += 1
            budget -= 1
            todo.extend(hops)
            hops.clear()
    if todo:
        # Past the budget: hand the rest to the broker (one query reads their queues).
        relay.send(list(Delivery.objects.filter(id__in=list(todo)).values_list("id", "queue")))
    return counts
