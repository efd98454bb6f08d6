"""The shipping context's read-only query surface for the saga and operators.

Typed answers, in bulk by order id. Bookings as the carrier sees them are read through the
carrier port (`Carrier.bookings_for`), never from a carrier's tables, so a real carrier's
adapter answers the reconciler and the audit.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from outbox.read_model_check import ReadModelComparison, compare_rows
from shipping import domain
from shipping.carrier import Booking, Carrier, default_carrier
from shipping.models import Shipment, ShipmentSnapshot
from shipping.projections import read_models_from_events

__all__ = ["Booking", "ShipmentRecord", "bookings_at_carrier", "read_model_drift", "shipments"]


@dataclass(frozen=True)
class ShipmentRecord:
    """An order's shipment as shipping's own books hold it: which carrier booking is its own."""

    order_id: str
    status: str  # "none", "booked", "failed", "cancelled"
    shipment_id: str
    idempotency_key: str  # of the booking the shipment holds (changes with a re-booking)


def shipments(order_ids: Collection[str]) -> dict[str, ShipmentRecord]:
    """The shipments of these orders that exist (one query)."""
    found = {}
    for row in ShipmentSnapshot.objects.filter(stream_id__in=list(order_ids)):
        shipment = domain.Shipment.restore(row.stream_id, row.version, row.state)
        found[row.stream_id] = ShipmentRecord(
            order_id=row.stream_id, status=str(shipment.status),
            shipment_id=shipment.shipment_id, idempotency_key=shipment.idempotency_key)
    return found


def bookings_at_carrier(order_ids: Collection[str], carrier: Carrier | None = None,
                        ) -> dict[str, list[Booking]]:
    """Every booking the carrier made for each of these orders, live or cancelled, in the
    order made (one list call through the port)."""
    return (carrier or default_carrier()).bookings_for(list(order_ids))


def read_model_drift() -> ReadModelComparison:
    """The shipment rows against a rebuild from the events."""
    return compare_rows("shipment", read_models_from_events(), Shipment.objects.all())
