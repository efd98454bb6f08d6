"""Events the shipping context publishes (its public contract)."""

from __future__ import annotations

from dataclasses import dataclass

from outbox.contracts import event


@event("shipping.ShipmentBooked", version=1)
@dataclass(frozen=True)
class ShipmentBooked:
    order_id: str
    shipment_id: str
    tracking_code: str


@event("shipping.ShipmentFailed", version=1)
@dataclass(frozen=True)
class ShipmentFailed:
    order_id: str
    reason: str  # "carrier refused the address"


@event("shipping.ShipmentCancelled", version=1, terminal=True)
@dataclass(frozen=True)
class ShipmentCancelled:
    order_id: str
    shipment_id: str
    reason: str
