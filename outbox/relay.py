"""Getting deliveries to the workers.

Fast path: when the appending transaction commits, its new deliveries are sent to Celery at
once (no extra database round trip). Inside a worker, the deliveries created by the handler it
just ran are run by the same task instead ("cheap hops"): they are rows like any other, so if
the worker dies, the sweep sends them. Slow path: the beat-scheduled sweep claims deliveries
still pending past their next-attempt time with FOR UPDATE SKIP LOCKED, leases them, commits,
and only then talks to the broker.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from celery import current_app
from django.conf import settings
from django.db import connection, transaction

from common.faults import parse_rates

log = logging.getLogger(__name__)

# The task that runs deliveries (outbox/tasks.py), sent by name: the relay is below the
# delivery code it triggers and imports none of it.
DELIVER_TASK = "outbox.deliver"

Batch = list[tuple[int, str]]  # (delivery id, queue)

# Set while a worker runs a delivery task: new deliveries for queues it serves land here.
_inline_sink: ContextVar[list[int] | None] = ContextVar("outbox_inline_sink", default=None)
# The queues this worker process consumes (set at worker start-up, see outbox/tasks.py).
served_queues: set[str] = set()


# Set by `suppressed()`: appends register no on-commit send (bulk loads, crash simulations).
_suppressed: ContextVar[bool] = ContextVar("outbox_relay_suppressed", default=False)


@contextmanager
def suppressed() -> Iterator[None]:
    """Leave the deliveries appended inside the block to the sweep instead of sending them on
    commit: for bulk loads that should not flood the broker, and to simulate a crash between
    commit and send. The rows are committed as usual; the sweep sends them once due."""
    token = _suppressed.set(True)
    try:
        yield
    finally:
        _suppressed.reset(token)


def publish_on_commit(batch: Batch) -> None:
    if _suppressed.get():
        return
    # robust: whatever goes wrong while sending is logged, never raised into the request whose
    # transaction has already committed (the sweep sends what was not sent).
    transaction.on_commit(lambda: publish(batch), robust=True)


def publish(batch: Batch) -> None:
    """Send new (or replayed, attempts 0) deliveries to their queues now, or hand them to the
    running task."""
    sink = _inline_sink.get()
    remote: Batch = []
    for delivery_id, queue in batch:
        if sink is not None and queue in served_queues:
            sink.append(delivery_id)
        else:
            remote.append((delivery_id, queue))
    if remote:
        send(remote)


def send(
    batch: Iterable[tuple[int, str]],
    *,
    countdown: float | None = None,
    attempts: Mapping[int, int] | int = 0,
) -> int:
    """One Celery task per queue per chunk of `OUTBOX_BATCH_SIZE` deliveries.

    `attempts` is the attempt count each delivery is sent for (one number for all, or per id):
    the task skips a delivery whose count has moved on since, as a stale duplicate.
    A broker failure is logged, not raised: the rows are committed and the sweep resends them.
    """
    by_queue: dict[str, list[int]] = defaultdict(list)
    for delivery_id, queue in batch:
        by_queue[queue].append(delivery_id)
    chaos = chaos_settings() if settings.OUTBOX_CHAOS else {}
    sent = 0
    size = settings.OUTBOX_BATCH_SIZE
    for queue, ids in by_queue.items():
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            counts = (
                [attempts] * len(chunk) if isinstance(attempts, int)
                else [attempts[i] for i in chunk]
            )
            delay = countdown
            if chaos.get("delay_ms"):
                delay = (delay or 0) + random.uniform(0, chaos["delay_ms"] / 1000)
                log.info("outbox chaos: delivery batch delayed by %.3fs", delay)
            copies = 2 if random.random() < chaos.get("duplicate", 0.0) else 1
            if copies > 1:
                log.info("outbox chaos: delivery batch duplicated")
            for _ in range(copies):
                try:
                    current_app.send_task(DELIVER_TASK, args=[chunk, counts], queue=queue,
                                          countdown=delay)
                    sent += len(chunk)
                except Exception:
                    log.warning("broker unavailable; the sweep will resend %d deliveries",
                                len(chunk), exc_info=True)
    return sent


@contextmanager
def inline_hops(*, enabled: bool = True) -> Iterator[list[int]]:
    """Collect, instead of sending, the deliveries committed while the block runs."""
    sink: list[int] = []
    if not enabled:
        yield sink
        return
    token = _inline_sink.set(sink)
    try:
        yield sink
    finally:
        _inline_sink.reset(token)


# A materialized CTE: the locked, limited selection is evaluated exactly once, so the UPDATE
# can never lease more rows than the limit or rows another sweeper holds.
_CLAIM_SQL = """
WITH due AS MATERIALIZED (
    SELECT id FROM outbox_delivery
    WHERE status = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
UPDATE outbox_delivery AS d SET next_attempt_at = now() + make_interval(secs => %s)
FROM due WHERE d.id = due.id
RETURNING d.id, d.queue, d.attempts
"""


def claim_due(limit: int, lease_seconds: float | None = None) -> list[tuple[int, str, int]]:
    """Lease up to `limit` due deliveries, as (id, queue, attempts): one statement, committed
    before anything is sent, so no lock is held during broker I/O and a concurrent sweeper
    skips what this one took."""
    lease = settings.OUTBOX_LEASE_SECONDS if lease_seconds is None else lease_seconds
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [limit, lease])
        return [(row[0], row[1], row[2]) for row in cursor.fetchall()]


def lease_for(queued_before: int, claimed: int) -> float:
    """The lease of a chunk the sweep sends behind `queued_before` others of the same sweep:
    long enough for the workers to drain everything ahead of it and itself, so a backlog's
    drain does not make the next sweeps send it all again."""
    drain = (queued_before + claimed) / max(settings.OUTBOX_DRAIN_PER_SECOND, 1.0)
    return settings.OUTBOX_LEASE_SECONDS + drain


def sweep(
    *, max_deliveries: int = 50_000, sender: Callable[[Batch], object] | None = None
) -> int:
    """Resend every delivery still pending past its next-attempt time; returns how many.

    `sender` replaces the broker (it receives each claimed batch of (id, queue)); by default
    each batch goes to Celery, sent for the attempt count it was claimed at.
    """
    total = 0
    claim_size = settings.OUTBOX_BATCH_SIZE * 10
    while total < max_deliveries:
        limit = min(claim_size, max_deliveries - total)
        claimed = claim_due(limit, lease_for(total, limit))
        if not claimed:
            break
        batch = [(delivery_id, queue) for delivery_id, queue, _ in claimed]
        if sender is not None:
            sender(batch)
        else:
            send(batch, attempts={delivery_id: n for delivery_id, _, n in claimed})
        total += len(claimed)
        if len(claimed) < claim_size:
            break
    if total:
        log.info("outbox sweep resent %d deliveries", total)
    return total


def chaos_settings() -> dict[str, float]:
    """Parse OUTBOX_CHAOS (`duplicate=0.1,delay_ms=50`) into numbers."""
    return parse_rates(settings.OUTBOX_CHAOS)
