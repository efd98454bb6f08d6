"""Shipping's use cases: load the shipment, note what is known, book or cancel with the carrier,
save the events, all in one transaction (the caller's, when there is one)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from outbox.contracts import DomainEvent
from outbox.repository import AggregateRepository
from shipping import domain, projections
from shipping.carrier import Carrier, CarrierRefused, CarrierTimeout, default_carrier
from shipping.events import Address, ExtraBookingCancelled
from shipping.models import ShipmentSnapshot

shipments = AggregateRepository(domain.Shipment, ShipmentSnapshot)


def _save(shipment: domain.Shipment, events: Sequence[DomainEvent]) -> list[DomainEvent]:
    if events:
        # The Shipment row is written by shipping.projections, in this transaction.
        shipments.save(shipment, events, correlation_id=shipment.id)
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


def rebook_shipment(order_id: str, *, carrier: Carrier | None = None) -> list[DomainEvent]:
    """The carrier cancelled the booking of a shipment still booked in our books: book again
    under a new key → ShipmentRebooked. Re-checked here, when it would act: a shipment no
    longer booked, or one the carrier holds a live booking for again, changes nothing."""
    carrier = carrier or default_carrier()
    with transaction.atomic(savepoint=False):
        shipment = shipments.get(order_id)
        if shipment is None:
            return []
        live = any(b.live for b in carrier.bookings_for([order_id]).get(order_id, []))
        return _save(shipment, shipment.rebook(_booking_through(carrier, order_id),
                                               live_at_carrier=live))


def cancel_extra_booking(order_id: str, key: str, reason: str, *,
                         carrier: Carrier | None = None) -> list[DomainEvent]:
    """Cancel a live booking the carrier holds for the order beyond the shipment's own →
    ExtraBookingCancelled. Re-checked here: the shipment's own booking is never cancelled
    this way, nor the last live booking of the order."""
    carrier = carrier or default_carrier()
    with transaction.atomic(savepoint=False):
        shipment = shipments.get(order_id) or domain.Shipment(order_id)
        live = [b for b in carrier.bookings_for([order_id]).get(order_id, []) if b.live]
        extra = next((b for b in live if b.idempotency_key == key), None)
        if key == shipment.idempotency_key or extra is None or len(live) < 2:
            return []
        carrier.cancel(key)
        return _save(shipment, [ExtraBookingCancelled(
            order_id=order_id, shipment_id=extra.shipment_id, idempotency_key=key,
            reason=reason)])


def rebuild_read_models(progress: projections.Progress | None = None) -> int:
    """Rewrite the shipment rows from the event store (see shipping.projections)."""
    return projections.rebuild_read_models(progress)
