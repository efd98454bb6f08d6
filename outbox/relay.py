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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import connection, transaction

log = logging.getLogger(__name__)

Batch = list[tuple[int, str]]  # (delivery id, queue)

# Set while a worker runs a delivery task: new deliveries for queues it serves land here.
_inline_sink: ContextVar[list[int] | None] = ContextVar("outbox_inline_sink", default=None)
# The queues this worker process consumes (set at worker start-up, see outbox/tasks.py).
served_queues: set[str] = set()


def publish_on_commit(batch: Batch) -> None:
    transaction.on_commit(lambda: publish(batch))


def publish(batch: Batch) -> None:
    """Send deliveries to their queues now (or hand them to the running task)."""
    sink = _inline_sink.get()
    remote: Batch = []
    for delivery_id, queue in batch:
        if sink is not None and queue in served_queues:
            sink.append(delivery_id)
        else:
            remote.append((delivery_id, queue))
    if remote:
        send(remote)


def send(batch: Iterable[tuple[int, str]], *, countdown: float | None = None) -> int:
    """One Celery task per queue per chunk of `OUTBOX_BATCH_SIZE` deliveries.

    A broker failure is logged, not raised: the rows are committed and the sweep resends them.
    """
    from outbox.tasks import deliver  # tasks imports this module

    by_queue: dict[str, list[int]] = defaultdict(list)
    for delivery_id, queue in batch:
        by_queue[queue].append(delivery_id)
    chaos = chaos_settings()
    sent = 0
    size = settings.OUTBOX_BATCH_SIZE
    for queue, ids in by_queue.items():
        for start in range(0, len(ids), size):
            chunk = ids[start : start + size]
            delay = countdown
            if chaos.get("delay_ms"):
                delay = (delay or 0) + random.uniform(0, chaos["delay_ms"] / 1000)
            copies = 2 if random.random() < chaos.get("duplicate", 0.0) else 1
            for _ in range(copies):
                try:
                    deliver.apply_async(args=[chunk], queue=queue, countdown=delay)
                    sent += len(chunk)
                except Exception:
                    log.warning("broker unavailable; the sweep will resend %d deliveries", len(chunk),
                                exc_info=True)
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


_CLAIM_SQL = """
UPDATE outbox_delivery SET next_attempt_at = now() + make_interval(secs => %s)
WHERE id IN (
    SELECT id FROM outbox_delivery
    WHERE status = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
RETURNING id, queue
"""


def claim_due(limit: int) -> Batch:
    """Lease up to `limit` due deliveries: one statement, committed before anything is sent,
    so no lock is held during broker I/O and a concurrent sweeper skips what this one took."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, [settings.OUTBOX_LEASE_SECONDS, limit])
        return [(row[0], row[1]) for row in cursor.fetchall()]


def sweep(
    *, max_deliveries: int = 50_000, sender: Callable[[Batch], object] | None = None
) -> int:
    """Resend every delivery still pending past its next-attempt time; returns how many."""
    total = 0
    claim_size = settings.OUTBOX_BATCH_SIZE * 10
    while total < max_deliveries:
        batch = claim_due(min(claim_size, max_deliveries - total))
        if not batch:
            break
        (sender or send)(batch)
        total += len(batch)
        if len(batch) < claim_size:
            break
    if total:
        log.info("outbox sweep resent %d deliveries", total)
    return total


def chaos_settings() -> dict[str, float]:
    """Parse OUTBOX_CHAOS (`duplicate=0.1,delay_ms=50`) into numbers."""
    return parse_rates(settings.OUTBOX_CHAOS)


def parse_rates(text: str) -> dict[str, float]:
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, _, value = part.partition("=")
        try:
            rates[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"bad rate {part!r}: expected name=number") from None
    return rates
