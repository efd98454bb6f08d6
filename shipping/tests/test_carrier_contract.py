"""What every `Carrier` adapter must do, whatever carrier it talks to.

The reconciler and the audit rely on these answers: a key returns the one booking made under
it, a lost answer is found by its key, a cancelled booking stays listed as not live, and
`bookings_for` lists many orders' bookings in one call.

A new adapter is checked by adding a `CarrierUnderTest` to ADAPTERS: how to make it, an address
its sandbox refuses, and how its sandbox loses an answer (None when it cannot be made to: that
test is skipped for it, with the reason).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from shipping.carrier import (
    Carrier,
    CarrierRefused,
    CarrierTimeout,
    SimulatedCarrier,
    default_carrier,
)
from shipping.domain import idempotency_key
from shipping.events import Address

pytestmark = pytest.mark.django_db(databases=["default", "providers"])

ADDRESS = Address("Ada", "1 Analytical Way", "London", "N1 9GU", "GB")


@dataclass(frozen=True)
class CarrierUnderTest:
    make: Callable[[], Carrier]  # a carrier that answers as it normally does
    refused_address: Address
    losing_answer: Callable[[], Carrier] | None  # a carrier that books but loses the answer


SIMULATED = CarrierUnderTest(
    make=SimulatedCarrier,
    refused_address=Address("Ada", "1 Nowhere", "Nowhere", "00000", "GB"),
    losing_answer=lambda: SimulatedCarrier({"lost_response": 1.0}),
)

ADAPTERS = [pytest.param(SIMULATED, id="simulated")]


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> CarrierUnderTest:
    return request.param


@pytest.fixture
def carrier(adapter: CarrierUnderTest) -> Carrier:
    return adapter.make()


def new_order() -> str:
    return uuid.uuid4().hex  # the carrier's books commit on their own: keep tests apart


def test_a_booking_is_found_by_its_key_and_listed_under_its_order(carrier):
    order_id = new_order()
    booking = carrier.book(idempotency_key(order_id), ADDRESS, order_id=order_id)
    assert booking.live and booking.order_id == order_id and booking.shipment_id
    assert carrier.look_up(idempotency_key(order_id)) == booking
    assert carrier.bookings_for([order_id]) == {order_id: [booking]}


def test_the_same_key_returns_the_one_booking(carrier):
    order_id = new_order()
    first = carrier.book(idempotency_key(order_id), ADDRESS, order_id=order_id)
    assert carrier.book(idempotency_key(order_id), ADDRESS, order_id=order_id) == first
    assert carrier.bookings_for([order_id])[order_id] == [first]


def test_a_refused_address_books_nothing(carrier, adapter):
    order_id = new_order()
    with pytest.raises(CarrierRefused):
        carrier.book(idempotency_key(order_id), adapter.refused_address, order_id=order_id)
    assert carrier.look_up(idempotency_key(order_id)) is None
    assert carrier.bookings_for([order_id])[order_id] == []


def test_a_cancelled_booking_stays_listed_as_not_live(carrier):
    order_id = new_order()
    booking = carrier.book(idempotency_key(order_id), ADDRESS, order_id=order_id)
    cancelled = carrier.cancel(idempotency_key(order_id))
    assert cancelled is not None and not cancelled.live
    assert cancelled.shipment_id == booking.shipment_id
    assert carrier.cancel(idempotency_key(order_id)) == cancelled  # idempotent
    assert carrier.look_up(idempotency_key(order_id)) == cancelled
    assert carrier.bookings_for([order_id])[order_id] == [cancelled]


def test_cancelling_a_key_never_booked_answers_none(carrier):
    assert carrier.cancel(idempotency_key(new_order())) is None


def test_a_lost_answer_is_found_by_its_key_and_never_booked_twice(adapter):
    if adapter.losing_answer is None:
        pytest.skip("this carrier's sandbox cannot be made to lose an answer")
    order_id = new_order()
    with pytest.raises(CarrierTimeout):
        adapter.losing_answer().book(idempotency_key(order_id), ADDRESS, order_id=order_id)
    found = adapter.make().look_up(idempotency_key(order_id))
    assert found is not None and found.live
    again = adapter.make().book(idempotency_key(order_id), ADDRESS, order_id=order_id)
    assert again == found
    assert adapter.make().bookings_for([order_id])[order_id] == [found]


def test_many_orders_are_listed_in_one_call_each_with_only_its_own(carrier):
    first, second, untouched = new_order(), new_order(), new_order()
    one = carrier.book(idempotency_key(first), ADDRESS, order_id=first)
    two = carrier.book(idempotency_key(second), ADDRESS, order_id=second)
    assert carrier.bookings_for([first, second, untouched]) == {
        first: [one], second: [two], untouched: []}


def test_the_setting_names_the_adapter_the_services_use(settings):
    assert isinstance(default_carrier(), SimulatedCarrier)
    settings.SHIPPING_CARRIER = f"{__name__}.stand_in_carrier"
    assert default_carrier() is STAND_IN


STAND_IN = SimulatedCarrier()


def stand_in_carrier() -> Carrier:
    return STAND_IN
