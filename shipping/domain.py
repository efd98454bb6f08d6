"""The shipment of one order (stream `shipping.Shipment/<order id>`). Plain Python, no Django.

A join: it notes where the order goes (OrderPlaced) and that it is paid for (PaymentCaptured),
in whichever order they come, and books with the carrier once both are known, unless the order
is cancelled. Command methods return new events; `apply` folds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from enum import StrEnum
from typing import Any, Self

from outbox.contracts import Aggregate, DomainEvent
from shipping.events import (
    Address,
    OrderCancellationNoted,
    OrderPlacementNoted,
    PaymentCaptureNoted,
    ShipmentBooked,
    ShipmentCancelled,
    ShipmentFailed,
    ShipmentRebooked,
)

REFUSED_ADDRESS = "carrier refused the address"


class BookingRefused(Exception):
    """The carrier will not take this shipment; asking again changes nothing."""

    def __init__(self, reason: str = REFUSED_ADDRESS) -> None:
        super().__init__(reason)
        self.reason = reason


# The carrier port as the shipment sees it: book under an idempotency key and return
# (shipment id, tracking code); raise BookingRefused for a refusal, anything else for a
# transient failure.
BookWithCarrier = Callable[[str, Address], tuple[str, str]]


def idempotency_key(order_id: str) -> str:
    """One order, one booking: the carrier returns the same booking for the same key."""
    return f"shipment:{order_id}"


def rebooking_key(order_id: str, rebookings: int) -> str:
    """The key of the order's n-th re-booking: a new booking, yet still once per attempt."""
    return f"shipment:{order_id}:rebooking:{rebookings}"


class ShipmentStatus(StrEnum):
    NONE = "none"  # not booked yet (the address or the payment may be known)
    BOOKED = "booked"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Shipment(Aggregate):
    stream_type = "shipping.Shipment"

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.address: Address | None = None
        self.charge_id: str | None = None
        self.status = ShipmentStatus.NONE
        self.shipment_id = ""
        self.tracking_code = ""
        self.reason = ""
        self.booking_key = ""  # set by a re-booking; the first booking uses the order's key
        self.rebookings = 0

    @property
    def idempotency_key(self) -> str:
        """The key of the booking the shipment holds (the order's own, or its latest
        re-booking's)."""
        return self.booking_key or idempotency_key(self.id)

    @property
    def due_for_booking(self) -> bool:
        """Placed, paid, not cancelled, not booked (nor refused)."""
        return (
            self.status == ShipmentStatus.NONE
            and self.address is not None
            and self.charge_id is not None
        )

    def note_placement(self, address: Address) -> list[DomainEvent]:
        if self.address is not None or self.status != ShipmentStatus.NONE:
            return []
        return [OrderPlacementNoted(order_id=self.id, address=address)]

    def note_payment(self, charge_id: str) -> list[DomainEvent]:
        if self.charge_id is not None or self.status != ShipmentStatus.NONE:
            return []
        return [PaymentCaptureNoted(order_id=self.id, charge_id=charge_id)]

    def book(self, carrier: BookWithCarrier) -> list[DomainEvent]:
        """Book once it is due → ShipmentBooked, or ShipmentFailed when the carrier refuses."""
        address = self.address
        if not self.due_for_booking or address is None:
            return []
        try:
            shipment_id, tracking_code = carrier(self.idempotency_key, address)
        except BookingRefused as refusal:
            return [ShipmentFailed(order_id=self.id, reason=refusal.reason)]
        return [ShipmentBooked(order_id=self.id, shipment_id=shipment_id,
                               tracking_code=tracking_code)]

    def rebook(self, carrier: BookWithCarrier, *, live_at_carrier: bool) -> list[DomainEvent]:
        """The carrier cancelled the booking of a shipment still wanted → book again under a
        new key → ShipmentRebooked. Nothing when the shipment is not booked (cancelled,
        refused: the order moved on) or the carrier holds a live booking for it again."""
        address = self.address
        if self.status != ShipmentStatus.BOOKED or live_at_carrier or address is None:
            return []
        key = rebooking_key(self.id, self.rebookings + 1)
        try:
            shipment_id, tracking_code = carrier(key, address)
        except BookingRefused as refusal:
            return [ShipmentFailed(order_id=self.id, reason=refusal.reason)]
        return [ShipmentRebooked(order_id=self.id, shipment_id=shipment_id,
                                 tracking_code=tracking_code, idempotency_key=key,
                                 replaced_shipment_id=self.shipment_id)]

    def cancel(self, reason: str, *, found_at_carrier: str | None = None) -> list[DomainEvent]:
        """The order is cancelled: a live booking → ShipmentCancelled; nothing booked → noted,
        so nothing ever is. `found_at_carrier`: the id of a booking the carrier has under our
        key although we never recorded it (our transaction rolled back after the booking)."""
        if self.status == ShipmentStatus.BOOKED:
            return [ShipmentCancelled(order_id=self.id, shipment_id=self.shipment_id,
                                      reason=reason)]
        if self.status != ShipmentStatus.NONE:
            return []  # cancelled already, or refused (nothing to undo)
        if found_at_carrier:
            return [ShipmentCancelled(order_id=self.id, shipment_id=found_at_carrier,
                                      reason=reason)]
        return [OrderCancellationNoted(order_id=self.id, reason=reason)]

    def apply(self, event: DomainEvent) -> None:
        match event:
            case OrderPlacementNoted(address=address):
                self.address = address
            case PaymentCaptureNoted(charge_id=charge_id):
                self.charge_id = charge_id
            case ShipmentBooked(shipment_id=shipment_id, tracking_code=tracking_code):
                self.status = ShipmentStatus.BOOKED
                self.shipment_id, self.tracking_code = shipment_id, tracking_code
            case ShipmentRebooked(shipment_id=shipment_id, tracking_code=tracking_code,
                                  idempotency_key=key):
                self.shipment_id, self.tracking_code = shipment_id, tracking_code
                self.booking_key = key
                self.rebookings += 1
            case ShipmentFailed(reason=reason):
                self.status, self.reason = ShipmentStatus.FAILED, reason
            case ShipmentCancelled(shipment_id=shipment_id, reason=reason):
                self.status, self.reason = ShipmentStatus.CANCELLED, reason
                self.shipment_id = shipment_id
            case OrderCancellationNoted(reason=reason):
                self.status, self.reason = ShipmentStatus.CANCELLED, reason

    def snapshot(self) -> dict[str, Any]:
        return {
            "address": asdict(self.address) if self.address else None,
            "charge_id": self.charge_id,
            "status": str(self.status),
            "shipment_id": self.shipment_id,
            "tracking_code": self.tracking_code,
            "reason": self.reason,
            "booking_key": self.booking_key,
            "rebookings": self.rebookings,
        }

    @classmethod
    def restore(cls, stream_id: str, version: int, state: dict[str, Any]) -> Self:
        shipment = cls(stream_id)
        shipment.version = version
        shipment.address = Address(**state["address"]) if state["address"] else None
        shipment.charge_id = state["charge_id"]
        shipment.status = ShipmentStatus(state["status"])
        shipment.shipment_id = state["shipment_id"]
        shipment.tracking_code = state["tracking_code"]
        shipment.reason = state["reason"]
        # Snapshots written before re-bookings existed hold neither.
        shipment.booking_key = state.get("booking_key", "")
        shipment.rebookings = state.get("rebookings", 0)
        return shipment
