"""Load an aggregate from its snapshot row (or by folding its events); save new events and
the snapshot in one transaction, fenced by the expected version."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils.timezone import now

from outbox import store
from outbox.contracts import Aggregate, DomainEvent
from outbox.models import Event, Snapshot


class AggregateRepository[A: Aggregate]:
    def __init__(self, aggregate: type[A], snapshot_model: type[Snapshot]) -> None:
        self.aggregate = aggregate
        self.snapshots = snapshot_model
        self.stream_type = aggregate.stream_type

    def get(self, stream_id: str, *, lock: bool = True) -> A | None:
        """The aggregate as of its last saved version, or None if it has no events.

        With `lock`, the snapshot row stays locked until the caller's transaction ends, so
        concurrent commands on one aggregate queue up instead of failing on the version guard.
        """
        query = self.snapshots.objects.filter(stream_id=stream_id)
        if lock:
            query = query.select_for_update()
        row = query.first()
        if row is not None:
            return self.aggregate.restore(stream_id, row.version, row.state)
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
        """Append `events` at the aggregate's current version, apply them, write the snapshot."""
        if not events:
            return []
        expected = aggregate.version
        with transaction.atomic():
            rows = store.append(self.stream_type, aggregate.id, expected, events, **metadata)
            aggregate.fold(events)
            state = aggregate.snapshot()
            if expected == 0:
                try:
                    self.snapshots.objects.create(
                        stream_id=aggregate.id, version=aggregate.version, state=state
                    )
                except IntegrityError as exc:
                    raise store.ConcurrencyError(
                        f"{self.stream_type}/{aggregate.id} exists"
                    ) from exc
            else:
                snapshot = self.snapshots.objects.filter(stream_id=aggregate.id)
                updated = snapshot.filter(version=expected).update(
                    version=aggregate.version, state=state, updated_at=now()
                )
                if updated != 1 and not snapshot.exists():
                    # The snapshot row was lost; the events are the truth, write it afresh.
                    self.snapshots.objects.create(
                        stream_id=aggregate.id, version=aggregate.version, state=state
                    )
                elif updated != 1:
                    raise store.ConcurrencyError(
                        f"{self.stream_type}/{aggregate.id} moved past version {expected}"
                    )
        return rows
