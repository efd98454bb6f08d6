"""What handlers and projectors are given: a stored event, typed and upcast to its current
schema, with its metadata; and the one way to build one.

`Envelope.from_row` reads the raw columns the hot paths select (`EVENT_COLUMNS`, after the
id); `Envelope.from_model` takes an `Event` model instance, and, right after an append, the
typed event it was made from, so the payload is not decoded again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from common.sql import decoded
from outbox.contracts import DomainEvent, event_class, from_payload
from outbox.upcasting import upcast

if TYPE_CHECKING:
    from outbox.models import Event

# The event columns in the order `from_row` reads them (after the id).
EVENT_COLUMNS = ("stream_type", "stream_id", "version", "event_type", "schema_version",
                 "payload", "metadata", "correlation_id", "recorded_at")


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

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Envelope:
        """From a raw row of `id, <EVENT_COLUMNS>` (JSONB columns may arrive as text)."""
        (event_id, stream_type, stream_id, version, event_type, schema_version, payload,
         metadata, correlation_id, recorded_at) = row
        return cls._build(
            event_id, stream_type, stream_id, version, event_type, schema_version,
            decoded(payload), decoded(metadata), correlation_id, recorded_at,
        )

    @classmethod
    def from_model(cls, row: Event, event: DomainEvent | None = None) -> Envelope:
        """From an `Event` instance; `event` is the typed event it was appended from, if the
        caller has it (then the payload is not decoded again)."""
        return cls._build(
            row.id, row.stream_type, row.stream_id, row.version, row.event_type,
            row.schema_version, row.payload, row.metadata, row.correlation_id, row.recorded_at,
            event=event,
        )

    @classmethod
    def _build(
        cls, event_id: int, stream_type: str, stream_id: str, version: int, event_type: str,
        schema_version: int, payload: dict[str, Any], metadata: dict[str, Any] | None,
        correlation_id: str, recorded_at: datetime, event: DomainEvent | None = None,
    ) -> Envelope:
        if event is None:
            event_cls = event_class(event_type)
            if schema_version < event_cls.schema_version:
                payload = upcast(event_type, schema_version, payload, event_cls.schema_version)
            event = from_payload(event_cls, payload)
        metadata = metadata or {}
        return cls(
            id=event_id,
            stream_type=stream_type,
            stream_id=stream_id,
            version=version,
            event_type=event_type,
            event=event,
            correlation_id=correlation_id,
            causation_id=metadata.get("causation_id"),
            actor=metadata.get("actor"),
            recorded_at=recorded_at,
        )
