"""Shipping's read model, the `Shipment` row, projected in the transaction that appends each
shipment event, and rebuilt from the event store by the same fold (so a rebuild equals it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from common import sql
from outbox.contracts import DomainEvent
from outbox.envelope import Envelope
from outbox.models import Event
from outbox.registry import projects
from shipping import domain
from shipping.events import (
    ExtraBookingCancelled,
    OrderCancellationNoted,
    OrderPlacementNoted,
    PaymentCaptureNoted,
    ShipmentBooked,
    ShipmentCancelled,
    ShipmentFailed,
    ShipmentRebooked,
)
from shipping.models import Shipment

# progress(done, total), called while a rebuild writes its sql.
Progress = Callable[[int, int], None]
READ_MODELS = (Shipment,)
SHIPMENT_EVENTS = (OrderPlacementNoted, PaymentCaptureNoted, ShipmentBooked, ShipmentFailed,
                   ShipmentCancelled, OrderCancellationNoted, ShipmentRebooked,
                   ExtraBookingCancelled)


def changes(event: DomainEvent) -> dict[str, Any]:
    """The columns one event sets (as `domain.Shipment.apply` sets its fields): a change never
    depends on the row before it, so the live projector writes it in one upsert."""
    match event:
        case OrderPlacementNoted(address=address):
            return {"address": asdict(address)}
        case PaymentCaptureNoted(charge_id=charge_id):
            return {"charge_id": charge_id}
        case ShipmentBooked(shipment_id=shipment_id, tracking_code=tracking_code):
            return {"status": str(domain.ShipmentStatus.BOOKED), "shipment_id": shipment_id,
                    "tracking_code": tracking_code}
        case ShipmentRebooked(shipment_id=shipment_id, tracking_code=tracking_code):
            return {"status": str(domain.ShipmentStatus.BOOKED), "shipment_id": shipment_id,
                    "tracking_code": tracking_code}
        case ShipmentFailed(reason=reason):
            return {"status": str(domain.ShipmentStatus.FAILED), "reason": reason}
        case ShipmentCancelled(shipment_id=shipment_id, reason=reason):
            return {"status": str(domain.ShipmentStatus.CANCELLED), "reason": reason,
                    "shipment_id": shipment_id}
        case OrderCancellationNoted(reason=reason):
            return {"status": str(domain.ShipmentStatus.CANCELLED), "reason": reason}
    return {}


def new_row(order_id: str) -> Shipment:
    return Shipment(order_id=order_id, status=str(domain.ShipmentStatus.NONE), address=None,
                    charge_id="", shipment_id="", tracking_code="", reason="")


def fold(row: Shipment, event: DomainEvent, at: datetime) -> dict[str, Any]:
    """Apply one event to the row in memory; the columns it set."""
    changed = {**changes(event), "updated_at": at}
    for name, value in changed.items():
        setattr(row, name, value)
    return changed


@projects(*SHIPMENT_EVENTS)
def project_shipment(event: DomainEvent, env: Envelope) -> None:
    row = new_row(env.stream_id)
    changed = fold(row, event, env.recorded_at)
    sql.upsert(row, fields=tuple(changed))


def read_models_from_events() -> list[Shipment]:
    """The shipment rows as the event store alone says they are."""
    folded: dict[str, Shipment] = {}
    events = Event.objects.filter(stream_type=domain.Shipment.stream_type)
    for row in events.order_by("stream_id", "version").iterator(chunk_size=2000):
        if row.stream_id not in folded:
            folded[row.stream_id] = new_row(row.stream_id)
        fold(folded[row.stream_id], Envelope.from_model(row).event, row.recorded_at)
    return list(folded.values())


def rebuild_read_models(progress: Progress | None = None) -> int:
    """Rewrite the shipment rows from the event store; returns how many were written. Writers
    wait meanwhile, so no change is lost between the read of the events and the write."""
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE shipping_shipment IN SHARE ROW EXCLUSIVE MODE")
        shipments = read_models_from_events()
        Shipment.objects.all().delete()
        for start in range(0, len(shipments), 1000):
            Shipment.objects.bulk_create(shipments[start : start + 1000])
            if progress:
                progress(min(start + 1000, len(shipments)), len(shipments))
    return len(shipments)
