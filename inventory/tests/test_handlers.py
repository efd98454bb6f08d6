"""Inventory's reactions per docs/choreography.md, run the way a worker runs them: the event is
appended with its deliveries, then inventory's delivery runs (lock, handler, done, one commit)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from inventory.events import (
    OrderCancellationNoted,
    ReservedLine,
    StockCommitted,
    StockReleased,
    StockReleaseRequested,
    StockReservationFailed,
    StockReservationRequested,
    StockReserved,
)
from inventory.tests.facts import placed, reservation_events, stock_of
from inventory.tests.facts import stocked as stock
from orders.events import OrderCancelled, OrderConfirmed
from outbox.delivery import DeliveryResult
from outbox.models import Delivery, Event
from payments.events import PaymentDeclined, PaymentRefunded
from tests.support.delivery import announce, deliver, publish

pytestmark = pytest.mark.django_db

RESERVE = "inventory.reserve_stock"
RELEASE = "inventory.release_stock"
COMMIT = "inventory.commit_stock"


@pytest.fixture
def order_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def stocked() -> None:
    stock(("SKU-1", 5), ("SKU-2", 5), ("SKU-7", 1))


def refunded(order_id: str, compensation: bool) -> PaymentRefunded:
    return PaymentRefunded(order_id, Decimal("30.00"), "re_1", "carrier refused the address",
                           compensation)


def test_order_placed_holds_every_line(stocked, order_id):
    assert announce(placed(order_id, ("SKU-1", 2), ("SKU-2", 1)), RESERVE) == DeliveryResult.DONE
    [reserved] = reservation_events(order_id)
    assert isinstance(reserved, StockReserved)
    assert reserved.lines == (ReservedLine("SKU-1", 2), ReservedLine("SKU-2", 1))
    assert stock_of("SKU-1") == (5, 2) and stock_of("SKU-2") == (5, 1)


def test_order_placed_beyond_the_stock_fails_with_a_reason_and_holds_nothing(stocked, order_id):
    assert announce(placed(order_id, ("SKU-1", 2), ("SKU-7", 2)), RESERVE) == DeliveryResult.DONE
    assert reservation_events(order_id) == [
        StockReservationFailed(order_id, "out of stock: SKU-7")
    ]
    assert stock_of("SKU-1") == (5, 0) and stock_of("SKU-7") == (1, 0)


def test_the_reservation_events_are_caused_by_the_order_placed(stocked, order_id):
    [row] = publish(placed(order_id, ("SKU-1", 1)))
    deliver(row, RESERVE)
    reserved = Event.objects.get(stream_type="inventory.Reservation", stream_id=order_id)
    assert reserved.correlation_id == order_id
    assert reserved.metadata["causation_id"] == str(row.id)


def test_an_order_placed_delivered_twice_holds_once(stocked, order_id):
    [row] = publish(placed(order_id, ("SKU-1", 2)))
    assert deliver(row, RESERVE) == DeliveryResult.DONE
    Delivery.objects.filter(event=row, handler=RESERVE).update(status="pending")  # a replay
    assert deliver(row, RESERVE) == DeliveryResult.DONE
    assert len(reservation_events(order_id)) == 1
    assert stock_of("SKU-1") == (5, 2)


def test_payment_declined_releases_the_stock(stocked, order_id):
    announce(placed(order_id, ("SKU-1", 2)), RESERVE)
    assert announce(PaymentDeclined(order_id, "payment declined"), RELEASE) == DeliveryResult.DONE
    assert reservation_events(order_id)[-1] == StockReleased(
        order_id, (ReservedLine("SKU-1", 2),), "payment declined")
    assert stock_of("SKU-1") == (5, 0)


def test_a_compensating_refund_releases_the_stock_with_its_reason(stocked, order_id):
    announce(placed(order_id, ("SKU-1", 2)), RESERVE)
    assert announce(refunded(order_id, compensation=True), RELEASE) == DeliveryResult.DONE
    assert reservation_events(order_id)[-1].reason == "carrier refused the address"
    assert stock_of("SKU-1") == (5, 0)


def test_a_corrective_refund_leaves_the_stock_held(stocked, order_id):
    announce(placed(order_id, ("SKU-1", 2)), RESERVE)
    assert announce(refunded(order_id, compensation=False), RELEASE) == DeliveryResult.DONE
    assert len(reservation_events(order_id)) == 1
    assert stock_of("SKU-1") == (5, 2)


def test_order_cancelled_releases_a_live_hold_once(stocked, order_id):
    announce(placed(order_id, ("SKU-1", 2)), RESERVE)
    announce(OrderCancelled(order_id, "cancelled by customer", "customer"), RELEASE)
    announce(PaymentDeclined(order_id, "payment declined"), RELEASE)  # a late echo
    assert [type(e) for e in reservation_events(order_id)] == [StockReserved, StockReleased]
    assert stock_of("SKU-1") == (5, 0)


def test_order_cancelled_before_order_placed_means_nothing_is_ever_held(stocked, order_id):
    [placement] = publish(placed(order_id, ("SKU-1", 2)))  # its delivery is late
    announce(OrderCancelled(order_id, "cancelled by customer", "customer"), RELEASE)
    assert deliver(placement, RESERVE) == DeliveryResult.DONE
    assert reservation_events(order_id) == [
        OrderCancellationNoted(order_id, "cancelled by customer")
    ]
    assert stock_of("SKU-1") == (5, 0)


def test_order_confirmed_commits_the_held_units(stocked, order_id):
    announce(placed(order_id, ("SKU-1", 2), ("SKU-2", 1)), RESERVE)
    assert announce(OrderConfirmed(order_id), COMMIT) == DeliveryResult.DONE
    assert reservation_events(order_id)[-1] == StockCommitted(
        order_id, (ReservedLine("SKU-1", 2), ReservedLine("SKU-2", 1)))
    assert stock_of("SKU-1") == (3, 0) and stock_of("SKU-2") == (4, 0)


def test_order_confirmed_without_a_hold_is_a_dead_delivery_not_a_silent_one(stocked, order_id):
    announce(placed(order_id, ("SKU-7", 2)), RESERVE)  # out of stock
    [row] = publish(OrderConfirmed(order_id))
    assert deliver(row, COMMIT) == DeliveryResult.DEAD
    delivery = Delivery.objects.get(event=row, handler=COMMIT)
    assert "no hold to commit" in delivery.last_error
    assert stock_of("SKU-7") == (1, 0)


# --- the reconciler's commands (sent on the saga's stream) -----------------------------------

COMMANDS = "saga.Corrections"


def test_a_reservation_requested_for_an_order_without_one_holds_its_lines(stocked, order_id):
    request = StockReservationRequested(order_id, (ReservedLine("SKU-1", 2),))
    [row] = publish(request, stream_type=COMMANDS)
    outcome = deliver(row, "inventory.reserve_on_request")
    assert outcome == DeliveryResult.DONE
    assert [type(e) for e in reservation_events(order_id)] == [StockReserved]
    assert stock_of("SKU-1") == (5, 2)


def test_a_reservation_requested_for_a_live_hold_holds_nothing_more(stocked, order_id):
    announce(placed(order_id, ("SKU-1", 2)), RESERVE)
    request = StockReservationRequested(order_id, (ReservedLine("SKU-1", 2),))
    [row] = publish(request, stream_type=COMMANDS)
    outcome = deliver(row, "inventory.reserve_on_request")
    assert outcome == DeliveryResult.DONE
    assert len(reservation_events(order_id)) == 1
    assert stock_of("SKU-1") == (5, 2)


def test_a_release_requested_for_an_orphan_hold_releases_it(stocked, order_id):
    announce(placed(order_id, ("SKU-1", 2)), RESERVE)
    request = StockReleaseRequested(order_id, "order cancelled")
    [row] = publish(request, stream_type=COMMANDS)
    outcome = deliver(row, "inventory.release_on_request")
    assert outcome == DeliveryResult.DONE
    assert reservation_events(order_id)[-1] == StockReleased(
        order_id, (ReservedLine("SKU-1", 2),), "order cancelled")
    assert stock_of("SKU-1") == (5, 0)
