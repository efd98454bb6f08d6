"""The shipment rules, without a database: given events, when a command, then events."""

from __future__ import annotations

import pytest

from shipping.domain import BookingRefused, Shipment, ShipmentStatus, idempotency_key
from shipping.events import (
    Address,
    OrderCancellationNoted,
    OrderPlacementNoted,
    PaymentCaptureNoted,
    ShipmentBooked,
    ShipmentCancelled,
    ShipmentFailed,
)

ADDRESS = Address("Ada", "1 Analytical Way", "London", "N1 9GU", "GB")
PLACED = OrderPlacementNoted("order-1", ADDRESS)
PAID = PaymentCaptureNoted("order-1", "ch_1")
BOOKED = ShipmentBooked("order-1", "shp_1", "TRK1")


class CarrierPort:
    """Stands in for the carrier: remembers what it was asked, answers as told."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.asked: list[tuple[str, Address]] = []

    def __call__(self, key: str, address: Address) -> tuple[str, str]:
        self.asked.append((key, address))
        if self.refuse:
            raise BookingRefused()
        return "shp_1", "TRK1"


def given(*events: object) -> Shipment:
    return Shipment("order-1").fold(events)  # type: ignore[arg-type]


def test_placement_and_payment_are_noted_once():
    assert given().note_placement(ADDRESS) == [PLACED]
    assert given(PLACED).note_placement(ADDRESS) == []
    assert given().note_payment("ch_1") == [PAID]
    assert given(PAID).note_payment("ch_1") == []


def test_a_placed_and_paid_order_is_booked_under_a_key_from_the_order():
    carrier = CarrierPort()
    assert given(PLACED, PAID).book(carrier) == [BOOKED]
    assert carrier.asked == [(idempotency_key("order-1"), ADDRESS)]
    assert "order-1" in idempotency_key("order-1")


@pytest.mark.parametrize("history", [(), (PLACED,), (PAID,)])
def test_nothing_is_booked_before_both_placement_and_payment_are_known(history):
    carrier = CarrierPort()
    assert given(*history).book(carrier) == []
    assert carrier.asked == []


def test_payment_noted_before_placement_still_books_once_both_are_known():
    shipment = given(PAID, PLACED)
    assert shipment.due_for_booking
    assert shipment.book(CarrierPort()) == [BOOKED]


def test_a_booked_shipment_is_not_booked_again():
    carrier = CarrierPort()
    assert given(PLACED, PAID, BOOKED).book(carrier) == []
    assert carrier.asked == []


def test_a_refused_address_fails_the_shipment_with_a_reason_a_customer_reads():
    assert given(PLACED, PAID).book(CarrierPort(refuse=True)) == [
        ShipmentFailed("order-1", "carrier refused the address")
    ]
    assert given(PLACED, PAID, ShipmentFailed("order-1", "x")).book(CarrierPort()) == []


def test_a_live_booking_is_cancelled_with_the_order():
    assert given(PLACED, PAID, BOOKED).cancel("cancelled by customer") == [
        ShipmentCancelled("order-1", "shp_1", "cancelled by customer")
    ]


def test_a_cancellation_before_any_booking_is_noted_and_nothing_is_ever_booked():
    shipment = given(PLACED)
    cancelled = shipment.cancel("cancelled by customer")
    assert cancelled == [OrderCancellationNoted("order-1", "cancelled by customer")]
    shipment.fold(cancelled)
    carrier = CarrierPort()
    assert shipment.note_payment("ch_1") == []
    shipment.fold([PAID])  # even if the payment is somehow recorded, no booking follows
    assert shipment.book(carrier) == [] and carrier.asked == []


def test_a_booking_the_carrier_has_but_we_never_recorded_is_cancelled_too():
    assert given(PLACED, PAID).cancel("cancelled by customer", found_at_carrier="shp_9") == [
        ShipmentCancelled("order-1", "shp_9", "cancelled by customer")
    ]


@pytest.mark.parametrize("history", [
    (PLACED, PAID, BOOKED, ShipmentCancelled("order-1", "shp_1", "x")),
    (OrderCancellationNoted("order-1", "x"),),
    (PLACED, PAID, ShipmentFailed("order-1", "carrier refused the address")),
])
def test_cancelling_again_or_after_a_refusal_is_a_no_op(history):
    assert given(*history).cancel("cancelled by customer") == []


def test_a_shipment_survives_its_snapshot():
    shipment = given(PLACED, PAID, BOOKED)
    copy = Shipment.restore("order-1", shipment.version, shipment.snapshot())
    assert (copy.address, copy.charge_id, copy.status, copy.shipment_id, copy.tracking_code,
            copy.version) == (ADDRESS, "ch_1", ShipmentStatus.BOOKED, "shp_1", "TRK1", 3)
