"""Load an aggregate from its snapshot row (or by folding its events); save new events and
the snapshot in one transaction, fenced by the expected version."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from common.sql import decoded, fetchone
from outbox import store
from outbox.contracts import Aggregate, DomainEvent
from outbox.models import Event, Snapshot


class AggregateRepository[A: Aggregate]:
    def __init__(self, aggregate: type[A], snapshot_model: type[Snapshot]) -> None:
        self.aggregate = aggregate
        self.snapshots = snapshot_model
        self.stream_type = aggregate.stream_type
        self.table = snapshot_model._meta.db_table
        self._select = {
            False: f"SELECT version, state FROM {self.table} WHERE stream_id = %s",
            # The advisory lock (on the stream's name) serialises the first command too, which
            # has no snapshot row to lock yet; one statement, so one round trip.
            True: "WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtextextended("
                  f"%s, 0))) SELECT version, state FROM {self.table}, l WHERE stream_id = %s "
                  f"FOR UPDATE OF {self.table}",
        }

    def get(self, stream_id: str, *, lock: bool = True) -> A | None:
        """The aggregate as of its last saved version, or None if it has no events.

        With `lock`, the stream stays locked until the caller's transaction ends, so concurrent
        commands on one aggregate (its first included) queue up instead of failing on the
        version guard.
        """
        params = [f"{self.stream_type}/{stream_id}", stream_id] if lock else [stream_id]
        row = fetchone(self._select[lock], params)
        if row is not None:
            version, state = row
            return self.aggregate.restore(stream_id, version, decoded(state))
        return self.rebuild(stream_id)

    def rebuild(self, stream_id: str) -> A | None:
        """Fold the aggregate from the event store alone, ignoring the snapshot."""
        envelopes = store.read_stream(self.stream_type, stream_id)
        if not envelopes:
            return None
        return self.aggregate(stream_id).fold(e.event for e in envelopes)

    def save(
        self, aggregate: A, events: Sequence[DomainEvent], **metadata: str | None
    ) -> list[Event]:
        """Append `events` at the aggregate's current version, apply them, write the snapshot:
        one statement. Raises `ConcurrencyError`, leaving the caller's transaction usable
        (the aggregate in memory has moved on: load it again)."""
        if not events:
            return []
        expected = aggregate.version
        # Joins the caller's transaction without a savepoint (a savepoint is two more round
        # trips, and a lost race raises no database error here).
        with transaction.atomic(savepoint=False):
            aggregate.fold(events)
            snapshot = store.SnapshotWrite(self.table, aggregate.snapshot())
            return store.append(self.stream_type, aggregate.id, expected, events,
                                snapshot=snapshot, **metadata)
