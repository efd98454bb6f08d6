"""Shipping's use cases: load the shipment, note what is known, book or cancel with the carrier,
save the events, all in one transaction (the caller's, when there is one)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime

from django.db import connection, transaction

from common.sql import upsert
from outbox.contracts import DomainEvent
from outbox.models import Event
from outbox.repository import AggregateRepository
from outbox.store import envelope
from shipping import domain
from shipping.carrier import Carrier, CarrierRefused, CarrierTimeout, default_carrier
from shipping.events import Address
from shipping.models import Shipment, ShipmentSnapshot

# progress(done, total), called while a rebuild writes its rows.
Progress = Callable[[int, int], None]

shipments = AggregateRepository(domain.Shipment, ShipmentSnapshot)


def _row_of(shipment: domain.Shipment, at: datetime) -> Shipment:
    return Shipment(
        order_id=shipment.id,
        status=str(shipment.status),
        address=asdict(shipment.address) if shipment.address else None,
        charge_id=shipment.charge_id or "",
        shipment_id=shipment.shipment_id,
        tracking_code=shipment.tracking_code,
        reason=shipment.reason,
        updated_at=at,
    )


def _save(shipment: domain.Shipment, events: Sequence[DomainEvent]) -> list[DomainEvent]:
    if events:
        written = shipments.save(shipment, events, correlation_id=shipment.id)
        upsert(_row_of(shipment, written[-1].recorded_at))
    return list(events)


def _booking_through(carrier: Carrier, order_id: str) -> domain.BookWithCarrier:
    def book(key: str, address: Address) -> tuple[str, str]:
        try:
            booking = carrier.book(key, address, order_id=order_id)
        except CarrierRefused as refusal:
            raise domain.BookingRefused(refusal.reason) from refusal
        except CarrierTimeout:
            # The answer was lost, maybe after the booking was made: ask by key. Not found:
            # the delivery retries, and the key keeps the retry from booking twice.
            found = carrier.look_up(key)
            if found is None:
                raise
            booking = found
        return booking.shipment_id, booking.tracking_code

    return book


def book_shipment(
    order_id: str,
    *,
    address: Address | None = None,
    charge_id: str | None = None,
    carrier: Carrier | None = None,
) -> list[DomainEvent]:
    """Note the address (from OrderPlaced) and/or the payment (from PaymentCaptured); once
    placed + paid + not cancelled + not booked, book → ShipmentBooked | ShipmentFailed.
    A transient carrier failure raises (the delivery retries)."""
    carrier = carrier or default_carrier()
    with transaction.atomic(savepoint=False):
        shipment = shipments.get(order_id) or domain.Shipment(order_id)
        recorded: list[DomainEvent] = []
        if address is not None:
            recorded += _save(shipment, shipment.note_placement(address))
        if charge_id is not None:
            recorded += _save(shipment, shipment.note_payment(charge_id))
        recorded += _save(shipment, shipment.book(_booking_through(carrier, order_id)))
    return recorded


def cancel_shipment(
    order_id: str, reason: str, *, carrier: Carrier | None = None
) -> list[DomainEvent]:
    """The order is cancelled: cancel a live booking → ShipmentCancelled; nothing booked →
    noted, so nothing ever is. Cancelled or refused already: no-op."""
    carrier = carrier or default_carrier()
    with transaction.atomic(savepoint=False):
        shipment = shipments.get(order_id) or domain.Shipment(order_id)
        found_at_carrier = None
        if shipment.status in (domain.ShipmentStatus.NONE, domain.ShipmentStatus.BOOKED):
            # Asked of the carrier even when we recorded no booking: one made by a transaction
            # of ours that then rolled back still exists there, and must not ship.
            booking = carrier.cancel(shipment.idempotency_key)
            if booking is not None and shipment.status == domain.ShipmentStatus.NONE:
                found_at_carrier = booking.shipment_id
        return _save(shipment, shipment.cancel(reason, found_at_carrier=found_at_carrier))


def read_models_from_events() -> list[Shipment]:
    """The shipment rows as the event store alone says they are."""
    rows: list[Shipment] = []
    events = Event.objects.filter(stream_type=domain.Shipment.stream_type)
    current: domain.Shipment | None = None
    last_at: datetime | None = None
    for row in events.order_by("stream_id", "version").iterator(chunk_size=2000):
        if current is None or current.id != row.stream_id:
            if current is not None and last_at is not None:
                rows.append(_row_of(current, last_at))
            current = domain.Shipment(row.stream_id)
        current.fold([envelope(row).event])
        last_at = row.recorded_at
    if current is not None and last_at is not None:
        rows.append(_row_of(current, last_at))
    return rows


def rebuild_read_models(progress: Progress | None = None) -> int:
    """Rewrite the shipment rows from the event store; returns how many were written. Writers
    wait meanwhile, so no change is lost between the read of the events and the write."""
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE shipping_shipment IN SHARE ROW EXCLUSIVE MODE")
        rows = read_models_from_events()
        Shipment.objects.all().delete()
        for start in range(0, len(rows), 1000):
            Shipment.objects.bulk_create(rows[start : start + 1000])
            if progress:
                progress(min(start + 1000, len(rows)), len(rows))
    return len(rows)
