"""Shipping's reactions per docs/choreography.md, run the way a worker runs them, against the
real PostgreSQL; the simulated carrier's ledger commits on its own connection."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from orders.events import OrderCancelled
from outbox.delivery import DeliveryResult
from outbox.models import Delivery
from shipping import services
from shipping.domain import idempotency_key
from shipping.events import (
    OrderCancellationNoted,
    OrderPlacementNoted,
    PaymentCaptureNoted,
    ShipmentBooked,
    ShipmentCancellationRequested,
    ShipmentCancelled,
    ShipmentFailed,
)
from shipping.handlers import address_of
from shipping.models import CarrierLedgerEntry, Shipment
from shipping.tests.facts import BOOK, CANCEL, captured, placed, shipment_events
from tests.support.delivery import announce, deliver, publish

pytestmark = pytest.mark.django_db(databases=["default", "providers"])


@pytest.fixture
def order_id() -> str:
    return uuid.uuid4().hex  # provider rows may outlive a test: keep tests apart


def ledger(order_id: str) -> list[CarrierLedgerEntry]:
    return list(CarrierLedgerEntry.objects.using("providers")
                .filter(idempotency_key=idempotency_key(order_id)))


def cancelled(order_id: str) -> OrderCancelled:
    return OrderCancelled(order_id, "cancelled by customer", "customer")


def kinds(order_id: str) -> list[type]:
    return [type(e) for e in shipment_events(order_id)]


def test_a_placed_and_paid_order_is_booked_once(order_id):
    assert announce(placed(order_id), BOOK) == DeliveryResult.DONE
    assert announce(captured(order_id), BOOK) == DeliveryResult.DONE
    assert kinds(order_id) == [OrderPlacementNoted, PaymentCaptureNoted, ShipmentBooked]
    [entry] = ledger(order_id)
    assert entry.status == "booked" and entry.order_id == order_id
    booked = shipment_events(order_id)[-1]
    assert (booked.shipment_id, booked.tracking_code) == (entry.shipment_id, entry.tracking_code)
    row = Shipment.objects.get(order_id=order_id)
    assert (row.status, row.shipment_id) == ("booked", entry.shipment_id)


def test_payment_before_placement_books_when_the_address_arrives(order_id):
    [placement] = publish(placed(order_id))  # its delivery to shipping is late
    announce(captured(order_id), BOOK)
    assert kinds(order_id) == [PaymentCaptureNoted] and ledger(order_id) == []
    deliver(placement, BOOK)
    assert kinds(order_id) == [PaymentCaptureNoted, OrderPlacementNoted, ShipmentBooked]
    assert len(ledger(order_id)) == 1


def test_a_payment_captured_delivered_twice_books_once(order_id):
    announce(placed(order_id), BOOK)
    [row] = publish(captured(order_id))
    deliver(row, BOOK)
    Delivery.objects.filter(event=row, handler=BOOK).update(status="pending")  # a replay
    assert deliver(row, BOOK) == DeliveryResult.DONE
    assert kinds(order_id).count(ShipmentBooked) == 1
    assert len(ledger(order_id)) == 1


def test_the_carrier_refusing_the_address_fails_the_shipment_without_retrying(order_id):
    announce(placed(order_id, postal_code="00000"), BOOK)
    assert announce(captured(order_id), BOOK) == DeliveryResult.DONE
    assert shipment_events(order_id)[-1] == ShipmentFailed(order_id, "carrier refused the address")
    assert ledger(order_id) == []


def test_a_lost_carrier_answer_is_found_by_key_and_booked_once(order_id, settings):
    settings.SHIPPING_FAULTS = "lost_response=1.0"
    announce(placed(order_id), BOOK)
    assert announce(captured(order_id), BOOK) == DeliveryResult.DONE
    [entry] = ledger(order_id)
    assert shipment_events(order_id)[-1].shipment_id == entry.shipment_id


def test_a_carrier_error_retries_the_delivery_and_books_once_it_answers(order_id, settings):
    announce(placed(order_id), BOOK)
    [row] = publish(captured(order_id))
    settings.SHIPPING_FAULTS = "error=1.0"
    assert deliver(row, BOOK) == DeliveryResult.RETRY
    assert kinds(order_id) == [OrderPlacementNoted]  # the attempt left nothing behind
    assert "carrier unavailable" in Delivery.objects.get(event=row, handler=BOOK).last_error
    settings.SHIPPING_FAULTS = ""
    assert deliver(row, BOOK) == DeliveryResult.DONE
    assert kinds(order_id) == [OrderPlacementNoted, PaymentCaptureNoted, ShipmentBooked]
    assert len(ledger(order_id)) == 1


def test_order_cancelled_cancels_a_live_booking(order_id):
    announce(placed(order_id), BOOK)
    announce(captured(order_id), BOOK)
    assert announce(cancelled(order_id), CANCEL) == DeliveryResult.DONE
    booked = shipment_events(order_id)[2]
    assert shipment_events(order_id)[-1] == ShipmentCancelled(
        order_id, booked.shipment_id, "cancelled by customer")
    assert ledger(order_id)[0].status == "cancelled"
    assert Shipment.objects.get(order_id=order_id).status == "cancelled"


def test_order_cancelled_before_the_payment_means_nothing_is_ever_booked(order_id):
    announce(placed(order_id), BOOK)
    assert announce(cancelled(order_id), CANCEL) == DeliveryResult.DONE
    assert announce(captured(order_id), BOOK) == DeliveryResult.DONE
    assert kinds(order_id) == [OrderPlacementNoted, OrderCancellationNoted]
    assert ledger(order_id) == []


def test_order_cancelled_twice_changes_nothing_the_second_time(order_id):
    announce(placed(order_id), BOOK)
    announce(captured(order_id), BOOK)
    announce(cancelled(order_id), CANCEL)
    announce(OrderCancelled(order_id, "cancelled by operator", "operator:olga"), CANCEL)
    assert kinds(order_id).count(ShipmentCancelled) == 1


def test_a_booking_whose_recording_rolled_back_is_still_cancelled_with_the_order(order_id):
    announce(placed(order_id), BOOK)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.book_shipment(order_id, charge_id="ch_1")
        raise RuntimeError("the worker died before committing")
    assert kinds(order_id) == [OrderPlacementNoted] and ledger(order_id)[0].status == "booked"
    announce(cancelled(order_id), CANCEL)
    assert shipment_events(order_id)[-1] == ShipmentCancelled(
        order_id, ledger(order_id)[0].shipment_id, "cancelled by customer")
    assert ledger(order_id)[0].status == "cancelled"


def test_the_address_is_taken_from_the_order_as_placed(order_id):
    event = placed(order_id)
    announce(event, BOOK)
    assert shipment_events(order_id) == [
        OrderPlacementNoted(order_id, address_of(event.shipping_address))]
    assert Shipment.objects.get(order_id=order_id).address["city"] == "London"


def test_a_rebuild_from_the_events_equals_the_incremental_rows(order_id):
    others = [uuid.uuid4().hex for _ in range(3)]
    announce(placed(order_id), BOOK)
    announce(captured(order_id), BOOK)
    announce(placed(others[0], postal_code="00000"), BOOK)
    announce(captured(others[0]), BOOK)
    announce(placed(others[1]), BOOK)
    announce(cancelled(others[1]), CANCEL)
    announce(captured(others[2]), BOOK)
    incremental = list(Shipment.objects.order_by("order_id").values_list())
    Shipment.objects.filter(order_id=order_id).update(status="none", shipment_id="")

    assert services.rebuild_read_models() == 4
    assert list(Shipment.objects.order_by("order_id").values_list()) == incremental


# --- the reconciler's command (sent on the saga's stream) ------------------------------------


def test_a_cancellation_requested_for_a_live_booking_cancels_it_at_the_carrier(order_id):
    announce(placed(order_id), BOOK)
    announce(captured(order_id), BOOK)
    request = ShipmentCancellationRequested(order_id, "order cancelled", idempotency_key(order_id))
    [row] = publish(request, stream_type="saga.Corrections")
    assert deliver(row, "shipping.cancel_on_request") == DeliveryResult.DONE
    assert kinds(order_id)[-1] is ShipmentCancelled
    assert ledger(order_id)[0].status == "cancelled"
