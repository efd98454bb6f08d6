"""The simulated carrier against the real PostgreSQL: its ledger, its idempotency, its refusal
and its faults. Its ledger is written through the "providers" connection."""

from __future__ import annotations

import random
import uuid

import pytest
from django.db import transaction

from common.faults import parse_rates
from shipping.carrier import (
    FAULT_NAMES,
    CarrierError,
    CarrierRefused,
    CarrierTimeout,
    SimulatedCarrier,
    default_carrier,
)
from shipping.events import Address
from shipping.models import CarrierLedgerEntry

pytestmark = pytest.mark.django_db(databases=["default", "providers"])

ADDRESS = Address("Ada", "1 Analytical Way", "London", "N1 9GU", "GB")
REFUSED = Address("Ada", "1 Nowhere", "Nowhere", "00000", "GB")


@pytest.fixture
def key() -> str:
    return f"shipment:{uuid.uuid4().hex}"  # provider rows may outlive a test: keep tests apart


def ledger(key: str) -> list[CarrierLedgerEntry]:
    return list(CarrierLedgerEntry.objects.using("providers").filter(idempotency_key=key))


def test_booking_twice_with_one_key_returns_the_same_booking(key):
    carrier = SimulatedCarrier()
    first = carrier.book(key, ADDRESS, order_id="o1")
    again = carrier.book(key, ADDRESS, order_id="o1")
    assert first == again and first.live
    assert len(ledger(key)) == 1
    assert ledger(key)[0].address["postal_code"] == "N1 9GU"


def test_different_keys_are_different_bookings(key):
    carrier = SimulatedCarrier()
    assert carrier.book(key, ADDRESS).shipment_id != carrier.book(key + "-2", ADDRESS).shipment_id


def test_postal_code_00000_is_refused_and_nothing_is_booked(key):
    with pytest.raises(CarrierRefused) as refusal:
        SimulatedCarrier().book(key, REFUSED)
    assert refusal.value.reason == "carrier refused the address"
    assert ledger(key) == []


def test_a_random_error_books_nothing_and_is_transient(key):
    with pytest.raises(CarrierError) as error:
        SimulatedCarrier({"error": 1.0}).book(key, ADDRESS)
    assert not isinstance(error.value, CarrierTimeout)
    assert ledger(key) == []
    assert SimulatedCarrier().book(key, ADDRESS).live  # the retry goes through


def test_a_lost_response_books_all_the_same_and_the_booking_is_found_by_key(key):
    with pytest.raises(CarrierTimeout):
        SimulatedCarrier({"lost_response": 1.0}).book(key, ADDRESS, order_id="o1")
    [entry] = ledger(key)
    found = SimulatedCarrier().look_up(key)
    assert found is not None and found.shipment_id == entry.shipment_id
    assert SimulatedCarrier().book(key, ADDRESS).shipment_id == entry.shipment_id


def test_a_booking_survives_a_rollback_of_our_transaction(key):
    carrier = SimulatedCarrier()
    with pytest.raises(RuntimeError), transaction.atomic():
        booked = carrier.book(key, ADDRESS)
        raise RuntimeError("our side failed after the booking")
    assert carrier.look_up(key) == booked


def test_cancel_is_idempotent_and_keeps_the_booking_on_record(key):
    carrier = SimulatedCarrier()
    booked = carrier.book(key, ADDRESS)
    cancelled = carrier.cancel(key)
    assert cancelled is not None and cancelled.shipment_id == booked.shipment_id
    assert not cancelled.live
    assert carrier.cancel(key) == cancelled
    assert ledger(key)[0].cancelled_at is not None


def test_cancelling_what_was_never_booked_finds_nothing(key):
    assert SimulatedCarrier().cancel(key) is None
    assert SimulatedCarrier().look_up(key) is None


def test_the_bookings_of_an_order_are_listed(key):
    carrier = SimulatedCarrier()
    order_id = uuid.uuid4().hex
    booked = carrier.book(key, ADDRESS, order_id=order_id)
    assert carrier.bookings_for([order_id]) == {order_id: [booked]}


def test_a_slow_carrier_waits_at_most_slow_ms(key):
    waits: list[float] = []
    carrier = SimulatedCarrier({"slow_ms": 200}, rng=random.Random(7), sleep=waits.append)
    carrier.book(key, ADDRESS)
    assert len(waits) == 1 and 0 <= waits[0] <= 0.2


def test_fault_rates_come_from_settings_and_misspelt_names_are_refused(settings, key):
    assert parse_rates("error=0.05,slow_ms=200,lost_response=0.05", known=FAULT_NAMES,
                       what="shipping") == {
        "error": 0.05, "slow_ms": 200.0, "lost_response": 0.05}
    with pytest.raises(ValueError, match="unknown shipping faults"):
        parse_rates("eror=0.1", known=FAULT_NAMES, what="shipping")
    settings.SHIPPING_FAULTS = "error=1"
    with pytest.raises(CarrierError):
        default_carrier().book(key, ADDRESS)


def test_a_carrier_slower_than_the_timeout_is_a_timeout_after_the_timeout(key):
    waits: list[float] = []
    carrier = SimulatedCarrier({"slow_ms": 60_000}, rng=random.Random(7), sleep=waits.append,
                               timeout=0.05)
    with pytest.raises(CarrierTimeout):
        carrier.book(key, ADDRESS, order_id=uuid.uuid4().hex)
    assert waits == [0.05]


def test_the_default_carrier_waits_no_longer_than_the_provider_timeout(settings):
    settings.PROVIDER_TIMEOUT_SECONDS = 3.5
    assert default_carrier().timeout == 3.5
