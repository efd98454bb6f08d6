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
    """A live booking was cancelled at the carrier (the order was cancelled)."""

    order_id: str
    shipment_id: str
    reason: str


# What a shipment learns from the other contexts, recorded on its own stream so its state can
# always be rebuilt from the event store alone. No other context reacts to these (terminal).


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2
    line2: str = ""


@event("shipping.OrderPlacementNoted", version=1, terminal=True)
@dataclass(frozen=True)
class OrderPlacementNoted:
    """The shipment knows where it goes."""

    order_id: str
    address: Address


@event("shipping.PaymentCaptureNoted", version=1, terminal=True)
@dataclass(frozen=True)
class PaymentCaptureNoted:
    """The order is paid for, so the shipment may be booked."""

    order_id: str
    charge_id: str


@event("shipping.OrderCancellationNoted", version=1, terminal=True)
@dataclass(frozen=True)
class OrderCancellationNoted:
    """The order was cancelled before anything was booked: nothing will be."""

    order_id: str
    reason: str


# --- Commands the reconciler (saga app) sends through the outbox ---------------------------
# Contexts never import the saga, so the commands they accept are part of their own contract;
# the handlers are in shipping/handlers.py, under the same heading.


@event("shipping.ShipmentCancellationRequested", version=1)
@dataclass(frozen=True)
class ShipmentCancellationRequested:
    """Cancel a booking left live on a cancelled order: the one the carrier holds under
    `idempotency_key` (the order's own key, or any other booking made for it)."""

    order_id: str
    reason: str
    idempotency_key: str
