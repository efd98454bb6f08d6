"""Appending events with their deliveries, and reading them back (upcast to the current schema)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone

from outbox import context, registry, relay
from outbox.contracts import DomainEvent, event_class, from_payload, to_payload
from outbox.models import Event


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
    return envelope_of(
        event_id=row.id, stream_type=row.stream_type, stream_id=row.stream_id,
        version=row.version, event_type=row.event_type, schema_version=row.schema_version,
        payload=row.payload, metadata=row.metadata or {}, correlation_id=row.correlation_id,
        recorded_at=row.recorded_at,
    )


def envelope_of(
    *, event_id: int, stream_type: str, stream_id: str, version: int, event_type: str,
    schema_version: int, payload: dict[str, Any], metadata: dict[str, Any], correlation_id: str,
    recorded_at: datetime,
) -> Envelope:
    """The same from an event's columns (the delivery hot path reads them with raw SQL)."""
    cls = event_class(event_type)
    if schema_version < cls.schema_version:
        payload = registry.upcast(event_type, schema_version, payload, cls.schema_version)
    return Envelope(
        id=event_id,
        stream_type=stream_type,
        stream_id=stream_id,
        version=version,
        event_type=event_type,
        event=from_payload(cls, payload),
        correlation_id=correlation_id,
        causation_id=metadata.get("causation_id"),
        actor=metadata.get("actor"),
        recorded_at=recorded_at,
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
    # Until the grace has passed, the sweep leaves a new delivery to the on-commit fast path.
    due = now + timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS)
    subscribed = [
        (row.version, sub.name, sub.queue)
        for row, ev in zip(rows, events, strict=True)
        for sub in registry.subscriptions(ev.event_type)
    ]
    try:
        written = _insert(rows, subscribed, due, now)
    except IntegrityError as exc:
        if "event_stream_version_unique" in str(exc):
            raise ConcurrencyError(
                f"{stream_type}/{stream_id} is past version {expected_version}: "
                "another writer appended first"
            ) from exc
        raise
    by_version = {row.version: row for row in rows}
    batch: list[tuple[int, str]] = []
    for kind, row_id, ref, queue in written:
        if kind == "e":
            event_row = by_version[ref]
            event_row.id = row_id
            event_row._state.adding = False
            event_row._state.db = connection.alias
        else:
            batch.append((row_id, queue))
    if batch:
        relay.publish_on_commit(sorted(batch))

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


_EVENT_COLUMNS = ("stream_type, stream_id, version, event_type, schema_version, payload, metadata, "
                  "correlation_id, recorded_at")


_EVENT_PLACEHOLDERS = "(%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s)"
# Events per INSERT statement: one round trip for a normal append, bounded for a bulk one.
_INSERT_CHUNK = 1000


def _insert(
    rows: list[Event], subscribed: list[tuple[int, str, str]], due: datetime, now: datetime
) -> list[tuple[str, int, int, str | None]]:
    """Insert the events and their deliveries in one statement per chunk of events (one round
    trip for a normal append); returns ("e", event id, version, None) and ("d", delivery id,
    event id, queue) rows."""
    written: list[tuple[str, int, int, str | None]] = []
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start : start + _INSERT_CHUNK]
        versions = {row.version for row in chunk}
        subs = [s for s in subscribed if s[0] in versions]
        params: list[Any] = []
        for row in chunk:
            params += [row.stream_type, row.stream_id, row.version, row.event_type,
                       row.schema_version, _json(row.payload), _json(row.metadata),
                       row.correlation_id, row.recorded_at]
        event_values = ", ".join([_EVENT_PLACEHOLDERS] * len(chunk))
        sql = (f"WITH ev AS (INSERT INTO outbox_event ({_EVENT_COLUMNS}) VALUES {event_values} "
               "RETURNING id, version)")
        if subs:
            params += [due, now]
            for version, handler, queue in subs:
                params += [version, handler, queue]
            sub_values = ", ".join(["(%s::integer, %s, %s)"] * len(subs))
            sql += (
                ", dl AS (INSERT INTO outbox_delivery (event_id, handler, queue, status, attempts, "
                "next_attempt_at, last_error, created_at) "
                "SELECT ev.id, s.handler, s.queue, 'pending', 0, %s, '', %s FROM ev "
                f"JOIN (VALUES {sub_values}) AS s(version, handler, queue) "
                "ON s.version = ev.version RETURNING id, event_id, queue) "
                "SELECT 'e', id, version, NULL FROM ev "
                "UNION ALL SELECT 'd', id, event_id, queue FROM dl"
            )
        else:
            sql += " SELECT 'e', id, version, NULL FROM ev"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            written += cursor.fetchall()
    return written


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def read_stream(stream_type: str, stream_id: str) -> list[Envelope]:
    rows = Event.objects.filter(stream_type=stream_type, stream_id=stream_id).order_by("version")
    return [envelope(row) for row in rows]


def read_correlated(correlation_id: str) -> list[Envelope]:
    """Every event of one saga (all streams sharing the correlation id), in global order."""
    return [envelope(row) for row in Event.objects.filter(correlation_id=correlation_id)]


def payload_of(ev: DomainEvent) -> dict[str, Any]:
    return to_payload(ev)
