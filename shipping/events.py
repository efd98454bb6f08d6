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


@event("shipping.ShipmentRebooked", version=1, terminal=True)
@dataclass(frozen=True)
class ShipmentRebooked:
    """The carrier cancelled the confirmed order's booking on its own; a new one was made under
    a new idempotency key, and it is now the order's shipment."""

    order_id: str
    shipment_id: str
    tracking_code: str
    idempotency_key: str
    replaced_shipment_id: str


@event("shipping.ExtraBookingCancelled", version=1, terminal=True)
@dataclass(frozen=True)
class ExtraBookingCancelled:
    """A second live booking the carrier held for the order (not the shipment's own) was
    cancelled at the carrier; the shipment itself is unchanged."""

    order_id: str
    shipment_id: str
    idempotency_key: str
    reason: str


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


@event("shipping.ShipmentRebookingRequested", version=1)
@dataclass(frozen=True)
class ShipmentRebookingRequested:
    """Book a confirmed order again: the carrier holds no live booking for it although the
    shipment says booked (the carrier cancelled it). Refused at handling time when the order's
    shipment is no longer booked, or the carrier holds a live booking for it again."""

    order_id: str
    reason: str


@event("shipping.ExtraBookingCancellationRequested", version=1)
@dataclass(frozen=True)
class ExtraBookingCancellationRequested:
    """Cancel the booking the carrier holds under `idempotency_key` for the order, one beyond
    its shipment's own. Refused at handling time when the key is the shipment's own booking,
    or the carrier no longer holds more than one live booking for the order."""

    order_id: str
    idempotency_key: str
    reason: str
