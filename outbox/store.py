"""Appending events with their deliveries, and reading them back (upcast to the current schema)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone

from outbox import context, registry, relay
from outbox.contracts import DomainEvent, event_class, from_payload, to_payload
from outbox.models import Delivery, Event


class ConcurrencyError(Exception):
    """Another writer appended to the stream first; reload and decide again."""


class NotInTransaction(RuntimeError):
    """`append` shares the caller's transaction; calling it outside one would split state
    from its events."""


@dataclass(frozen=True)
class Envelope:
    """A stored event as handlers and projectors see it: the typed event plus its metadata."""

    id: int
    stream_type: str
    stream_id: str
    version: int
    event_type: str
    event: Any
    correlation_id: str
    causation_id: str | None
    actor: str | None
    recorded_at: datetime


def envelope(row: Event) -> Envelope:
    """Turn a stored row into an `Envelope`, upcasting an old schema version on the way."""
    cls = event_class(row.event_type)
    payload = row.payload
    if row.schema_version < cls.schema_version:
        payload = registry.upcast(row.event_type, row.schema_version, payload, cls.schema_version)
    meta = row.metadata or {}
    return Envelope(
        id=row.id,
        stream_type=row.stream_type,
        stream_id=row.stream_id,
        version=row.version,
        event_type=row.event_type,
        event=from_payload(cls, payload),
        correlation_id=row.correlation_id,
        causation_id=meta.get("causation_id"),
        actor=meta.get("actor"),
        recorded_at=row.recorded_at,
    )


def append(
    stream_type: str,
    stream_id: str,
    expected_version: int,
    events: Sequence[DomainEvent],
    *,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    actor: str | None = None,
) -> list[Event]:
    """Append `events` to a stream at `expected_version`, with one delivery per subscribed
    handler, inside the caller's transaction. Runs the synchronous projectors, and publishes
    the deliveries once the transaction commits.

    Raises `ConcurrencyError` when another writer already wrote `expected_version + 1`.
    """
    if not events:
        return []
    if not connection.in_atomic_block:
        raise NotInTransaction("outbox.append must run inside transaction.atomic()")
    correlation = correlation_id or context.correlation_id.get() or f"{stream_type}:{stream_id}"
    metadata = {
        "correlation_id": correlation,
        "causation_id": causation_id or context.causation_id.get(),
        "actor": actor or context.actor.get(),
    }
    now = timezone.now()
    rows = [
        Event(
            stream_type=stream_type,
            stream_id=stream_id,
            version=expected_version + i,
            event_type=ev.event_type,
            schema_version=ev.schema_version,
            payload=to_payload(ev),
            metadata=metadata,
            correlation_id=correlation,
            recorded_at=now,
        )
        for i, ev in enumerate(events, start=1)
    ]
    try:
        Event.objects.bulk_create(rows)
    except IntegrityError as exc:
        if "event_stream_version_unique" in str(exc):
            raise ConcurrencyError(
                f"{stream_type}/{stream_id} is past version {expected_version}: "
                "another writer appended first"
            ) from exc
        raise

    # Until the grace has passed, the sweep leaves a new delivery to the on-commit fast path.
    due = now + timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS)
    deliveries = [
        Delivery(event=row, handler=sub.name, queue=sub.queue, next_attempt_at=due, created_at=now)
        for row, ev in zip(rows, events, strict=True)
        for sub in registry.subscriptions(ev.event_type)
    ]
    if deliveries:
        Delivery.objects.bulk_create(deliveries)
        relay.publish_on_commit([(d.id, d.queue) for d in deliveries])

    for row, ev in zip(rows, events, strict=True):
        projectors = registry.projectors(ev.event_type)
        if projectors:
            env = Envelope(
                id=row.id,
                stream_type=stream_type,
                stream_id=stream_id,
                version=row.version,
                event_type=ev.event_type,
                event=ev,
                correlation_id=correlation,
                causation_id=metadata["causation_id"],
                actor=metadata["actor"],
                recorded_at=now,
            )
            for project in projectors:
                project(ev, env)
    return rows


def read_stream(stream_type: str, stream_id: str) -> list[Envelope]:
    rows = Event.objects.filter(stream_type=stream_type, stream_id=stream_id).order_by("version")
    return [envelope(row) for row in rows]


def read_correlated(correlation_id: str) -> list[Envelope]:
    """Every event of one saga (all streams sharing the correlation id), in global order."""
    return [envelope(row) for row in Event.objects.filter(correlation_id=correlation_id)]


def payload_of(ev: DomainEvent) -> dict[str, Any]:
    return to_payload(ev)
