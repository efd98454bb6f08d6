"""Appending events with their deliveries, and reading them back (upcast to the current schema)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection
from django.utils import timezone

from common import message_context
from common.sql import fetchall
from outbox import registry, relay
from outbox.contracts import DomainEvent, to_payload
from outbox.envelope import EVENT_COLUMNS, Envelope
from outbox.models import CORRELATION_ID_MAX_LENGTH, Event


class ConcurrencyError(Exception):
    """Another writer appended to the stream first; reload and decide again."""


class NotInTransaction(RuntimeError):
    """`append` shares the caller's transaction; calling it outside one would split state
    from its events."""


@dataclass(frozen=True)
class SnapshotWrite:
    """The aggregate's snapshot row, written by the statement that appends its events (and
    only if every event was appended)."""

    table: str
    state: dict[str, Any]


def fitted_correlation(value: str) -> str:
    """`value`, or when it is longer than its column, a prefix of it and a hash of the whole (a
    64-character sku makes `inventory.Product:<sku>` too long): still unique, still readable."""
    if len(value) <= CORRELATION_ID_MAX_LENGTH:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    return f"{value[: CORRELATION_ID_MAX_LENGTH - len(digest) - 1]}~{digest}"


def append(
    stream_type: str,
    stream_id: str,
    expected_version: int,
    events: Sequence[DomainEvent],
    *,
    correlation_id: str | None = None,
    causation_id: str | None = None,
    actor: str | None = None,
    snapshot: SnapshotWrite | None = None,
) -> list[Event]:
    """Append `events` to a stream at `expected_version`, with one delivery per subscribed
    handler (and the `snapshot`, if given), in one statement inside the caller's transaction.
    Runs the synchronous projectors, and publishes the deliveries once the transaction commits.

    Raises `ConcurrencyError` when another writer already wrote `expected_version + 1`; the
    caller's transaction is left as it was (no database error, so no savepoint is needed).
    """
    if not events:
        return []
    if not connection.in_atomic_block:
        raise NotInTransaction("outbox.append must run inside transaction.atomic()")
    correlation = fitted_correlation(
        correlation_id or message_context.correlation_id.get() or f"{stream_type}:{stream_id}")
    metadata = {
        "correlation_id": correlation,
        "causation_id": causation_id or message_context.causation_id.get(),
        "actor": actor or message_context.actor.get(),
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
    written = _insert(rows, subscribed, due, now, snapshot)
    by_version = {row.version: row for row in rows}
    batch: list[tuple[int, str]] = []
    for kind, row_id, ref, queue in written:
        if kind == "e":
            event_row = by_version[ref]
            event_row.id = row_id
            event_row._state.adding = False
            event_row._state.db = connection.alias
        elif kind == "d":
            batch.append((row_id, queue))
    snapshot_missed = snapshot is not None and not any(kind == "s" for kind, *_ in written)
    if snapshot_missed or any(row.id is None for row in rows):
        _undo([row.id for row in rows if row.id is not None])
        raise ConcurrencyError(
            f"{stream_type}/{stream_id} is past version {expected_version}: "
            "another writer appended first"
        )
    if batch:
        relay.publish_on_commit(sorted(batch))

    for row, ev in zip(rows, events, strict=True):
        projectors = registry.projectors(ev.event_type)
        if projectors:
            env = Envelope.from_model(row, event=ev)
            for project in projectors:
                project(ev, env)
    return rows


_EVENT_COLUMNS = ", ".join(EVENT_COLUMNS)


_EVENT_PLACEHOLDERS = "(%s, %s, %s::integer, %s, %s::integer, %s::jsonb, %s::jsonb, %s, %s)"
# Events per INSERT statement: one round trip for a normal append, bounded for a bulk one.
_INSERT_CHUNK = 1000


def _insert(
    rows: list[Event], subscribed: list[tuple[int, str, str]], due: datetime, now: datetime,
    snapshot: SnapshotWrite | None,
) -> list[tuple[str, int, int, str | None]]:
    """Insert the events, their deliveries and the snapshot in one statement per chunk of
    events (one round trip for a normal append); returns ("e", event id, version, None),
    ("d", delivery id, event id, queue) and ("s", 0, 0, None) rows. A version another writer
    holds already is skipped (ON CONFLICT DO NOTHING), and so are its deliveries and the
    snapshot."""
    written: list[tuple[str, int, int, str | None]] = []
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start : start + _INSERT_CHUNK]
        last = start + _INSERT_CHUNK >= len(rows)
        versions = {row.version for row in chunk}
        subs = [s for s in subscribed if s[0] in versions]
        params: list[Any] = []
        for row in chunk:
            params += [row.stream_type, row.stream_id, row.version, row.event_type,
                       row.schema_version, _json(row.payload), _json(row.metadata),
                       row.correlation_id, row.recorded_at]
        event_values = ", ".join([_EVENT_PLACEHOLDERS] * len(chunk))
        ctes = [f"ev AS (INSERT INTO outbox_event ({_EVENT_COLUMNS}) VALUES {event_values} "
                "ON CONFLICT ON CONSTRAINT event_stream_version_unique DO NOTHING "
                "RETURNING id, version)"]
        selects = ["SELECT 'e', id, version, NULL FROM ev"]
        if subs:
            params += [due, now]
            for version, handler, queue in subs:
                params += [version, handler, queue]
            sub_values = ", ".join(["(%s::integer, %s, %s)"] * len(subs))
            ctes.append(
                "dl AS (INSERT INTO outbox_delivery (event_id, handler, queue, status, attempts, "
                "next_attempt_at, last_error, created_at) "
                "SELECT ev.id, s.handler, s.queue, 'pending', 0, %s, '', %s FROM ev "
                f"JOIN (VALUES {sub_values}) AS s(version, handler, queue) "
                "ON s.version = ev.version RETURNING id, event_id, queue)"
            )
            selects.append("SELECT 'd', id, event_id, queue FROM dl")
        inserted_so_far = sum(1 for kind, *_ in written if kind == "e")
        if snapshot is not None and last and inserted_so_far == start:
            # Written only if every event of the append went in, over the row it was read from
            # (or a row whose events are gone: the events are the truth).
            expected = rows[0].version - 1
            params += [rows[0].stream_id, rows[-1].version, _json(snapshot.state), now,
                       len(chunk), expected]
            ctes.append(
                f"sn AS (INSERT INTO {snapshot.table} AS t (stream_id, version, state, "
                "updated_at) SELECT %s, %s::integer, %s::jsonb, %s "
                "WHERE (SELECT count(*) FROM ev) = %s "
                "ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version, "
                "state = EXCLUDED.state, updated_at = EXCLUDED.updated_at "
                "WHERE t.version = %s::integer RETURNING 1)"
            )
            selects.append("SELECT 's', 0, 0, NULL FROM sn")
        sql = "WITH " + ", ".join(ctes) + " " + " UNION ALL ".join(selects)
        written += fetchall(sql, params)
    return written


def _undo(event_ids: list[int]) -> None:
    """Take back the events of an append that lost a race half-way (some versions went in
    before another writer's): the caller's transaction stays usable."""
    if event_ids:
        fetchall("DELETE FROM outbox_delivery WHERE event_id = ANY(%s)", [event_ids])
        fetchall("DELETE FROM outbox_event WHERE id = ANY(%s)", [event_ids])


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


_READ = (f"SELECT id, {_EVENT_COLUMNS} FROM outbox_event WHERE ")


def read_stream(stream_type: str, stream_id: str) -> list[Envelope]:
    return _envelopes(_READ + "stream_type = %s AND stream_id = %s ORDER BY version",
                      [stream_type, stream_id])


def read_correlated(correlation_id: str, event_types: Sequence[str] | None = None
                    ) -> list[Envelope]:
    """Every event of one saga (all streams sharing the correlation id), or those of
    `event_types`, in global order."""
    if event_types is None:
        return _envelopes(_READ + "correlation_id = %s ORDER BY id", [correlation_id])
    return _envelopes(_READ + "correlation_id = %s AND event_type = ANY(%s) ORDER BY id",
                      [correlation_id, list(event_types)])


def _envelopes(sql: str, params: list[Any]) -> list[Envelope]:
    return [Envelope.from_row(row) for row in fetchall(sql, params)]
