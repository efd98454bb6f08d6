"""The shipping context's read-only query surface for the saga and operators.

Typed answers, in bulk by order id. Bookings as the carrier sees them are read through the
carrier port (`Carrier.bookings_for`), never from a carrier's tables, so a real carrier's
adapter answers the reconciler and the audit.
"""

from __future__ import annotations

from collections.abc import Collection

from outbox.read_model_check import ReadModelComparison, compare_rows
from shipping.carrier import Booking, Carrier, default_carrier
from shipping.models import Shipment
from shipping.projections import read_models_from_events

__all__ = ["Booking", "bookings_at_carrier", "read_model_drift"]


def bookings_at_carrier(order_ids: Collection[str], carrier: Carrier | None = None,
                        ) -> dict[str, list[Booking]]:
    """Every booking the carrier made for each of these orders, live or cancelled, in the
    order made (one list call through the port)."""
    return (carrier or default_carrier()).bookings_for(list(order_ids))


def read_model_drift() -> ReadModelComparison:
    """The shipment rows against a rebuild from the events."""
    return compare_rows("shipment", read_models_from_events(), Shipment.objects.all())
