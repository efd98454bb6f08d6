"""Cancelling through the API: 202 before the pivot, 200 when already cancelled, 409 after."""

from decimal import Decimal

import pytest

from inventory.events import ReservedLine, StockReserved
from orders.models import OrderView
from outbox.models import Event
from payments.events import PaymentCaptured
from shipping.events import ShipmentBooked
from tests.support.delivery import deliver_pending, publish

from .conftest import written

pytestmark = pytest.mark.django_db


def confirm(order_id: str) -> None:
    hold = StockReserved(order_id=order_id, lines=(ReservedLine("SKU-1", 2),),
                         expires_at="2030-01-01T00:00:00Z")
    publish(hold)
    publish(PaymentCaptured(order_id, Decimal("25.00"), "c"))
    publish(ShipmentBooked(order_id, "s", "TRK"))
    deliver_pending("orders.advance_order")
    assert OrderView.objects.get(pk=order_id).status == "confirmed"


def test_a_customer_cancels_a_pending_order(alice, place):
    order_id = place("alice")

    response = alice.post(f"/api/orders/{order_id}/cancel/")

    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    assert response.json()["reason"] == "cancelled by customer"
    assert response.json()["cancelled_at"] is not None
    cancelled = Event.objects.get(stream_id=order_id, event_type="orders.OrderCancelled")
    assert cancelled.payload == {"order_id": order_id, "reason": "cancelled by customer",
                                 "requested_by": "customer"}
    assert cancelled.correlation_id == order_id


def test_staff_cancels_as_an_operator(client_for, place):
    order_id = place("alice")

    response = client_for("staff").post(f"/api/orders/{order_id}/cancel/")

    assert response.status_code == 202
    cancelled = Event.objects.get(stream_id=order_id, event_type="orders.OrderCancelled")
    assert cancelled.payload["requested_by"] == "operator:staff"
    assert cancelled.payload["reason"] == "cancelled by operator"


def test_cancelling_a_cancelled_order_is_a_200_that_changes_nothing(alice, place):
    order_id = place("alice")
    alice.post(f"/api/orders/{order_id}/cancel/")
    before = written()

    response = alice.post(f"/api/orders/{order_id}/cancel/")

    assert response.status_code == 200
    assert response.json()["reason"] == "cancelled by customer"
    assert written() == before


def test_cancelling_a_confirmed_order_is_a_409(alice, place):
    order_id = place("alice")
    confirm(order_id)
    before = written()

    response = alice.post(f"/api/orders/{order_id}/cancel/")

    assert response.status_code == 409
    assert "confirmed" in response.json()["detail"]
    assert written() == before
    assert OrderView.objects.get(pk=order_id).status == "confirmed"


def test_an_order_cancelled_by_the_saga_answers_200_with_the_sagas_reason(alice, place):
    from inventory.events import StockReservationFailed

    order_id = place("alice")
    publish(StockReservationFailed(order_id, "out of stock: SKU-1"))
    deliver_pending("orders.cancel_order")

    response = alice.post(f"/api/orders/{order_id}/cancel/")

    assert response.status_code == 200
    assert response.json()["reason"] == "out of stock: SKU-1"
