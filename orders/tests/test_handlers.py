"""The orders handlers of docs/choreography.md, run in process through the real delivery code."""

from decimal import Decimal

import pytest
from django.core import mail

from inventory.events import (
    ReservationExpired,
    ReservedLine,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from orders.events import OrderCancellationRequested, OrderViewRepairRequested
from orders.models import OrderView
from outbox.models import Delivery, Event
from payments.events import PaymentCaptured, PaymentRefunded
from shipping.events import ShipmentBooked
from tests.support.delivery import deliver_pending, publish

# The confirmation e-mail notes its hand-over through the providers' connection.
pytestmark = pytest.mark.django_db(databases=["default", "providers"])

COMMANDS = "saga.Commands"


def held(order_id):
    return StockReserved(order_id=order_id, lines=(ReservedLine("SKU-1", 2),),
                         expires_at="2030-01-01T00:00:00+00:00")


def captured(order_id):
    return PaymentCaptured(order_id=order_id, amount=Decimal("25.00"), charge_id="ch_1")


def booked(order_id):
    return ShipmentBooked(order_id=order_id, shipment_id="sh_1", tracking_code="TRK")


def order_events(order_id):
    return list(Event.objects.filter(stream_type="orders.Order", stream_id=order_id)
                .values_list("event_type", flat=True))


def status(order_id):
    return OrderView.objects.get(pk=order_id).status


def test_the_order_confirms_when_stock_payment_and_shipment_hold(place):
    order_id = place("alice")
    publish(held(order_id))
    deliver_pending("orders.advance_order")
    publish(captured(order_id))
    deliver_pending("orders.advance_order")
    assert status(order_id) == "pending"

    publish(booked(order_id))
    deliver_pending("orders.advance_order")

    assert status(order_id) == "confirmed"
    confirmed = Event.objects.get(stream_id=order_id, event_type="orders.OrderConfirmed")
    assert confirmed.correlation_id == order_id
    assert OrderView.objects.get(pk=order_id).confirmed_at == confirmed.recorded_at


def test_facts_arriving_in_any_order_confirm_once(place):
    order_id = place("alice")
    publish(booked(order_id))
    publish(captured(order_id))
    publish(held(order_id))

    assert deliver_pending("orders.advance_order") == 3

    assert order_events(order_id) == ["orders.OrderPlaced", "orders.OrderConfirmed"]


def test_a_delivery_run_twice_confirms_once(place):
    order_id = place("alice")
    publish(held(order_id))
    publish(captured(order_id))
    publish(booked(order_id))
    deliver_pending("orders.advance_order")

    Delivery.objects.filter(handler="orders.advance_order").update(status="pending")  # replayed
    deliver_pending("orders.advance_order")

    assert order_events(order_id).count("orders.OrderConfirmed") == 1


def test_the_reread_before_the_pivot_sees_a_refund_and_does_not_confirm(place):
    order_id = place("alice")
    publish(held(order_id))
    publish(captured(order_id), PaymentRefunded(
        order_id=order_id, amount=Decimal("25.00"), refund_id="re_1",
        reason="carrier refused the address", compensation=True))
    publish(booked(order_id))

    deliver_pending("orders.advance_order")

    assert status(order_id) == "pending"


def test_a_failed_reservation_cancels_the_order_with_its_reason(place):
    order_id = place("alice")
    publish(StockReservationFailed(order_id, "out of stock: SKU-7"))

    deliver_pending("orders.cancel_order")

    view = OrderView.objects.get(pk=order_id)
    assert (view.status, view.reason) == ("cancelled", "out of stock: SKU-7")
    cancelled = Event.objects.get(stream_id=order_id, event_type="orders.OrderCancelled")
    assert cancelled.payload["requested_by"] == "saga"
    assert cancelled.correlation_id == order_id


def test_released_stock_cancels_a_pending_order_with_the_release_reason(place):
    order_id = place("alice")
    publish(held(order_id), StockReleased(
        order_id, (ReservedLine("SKU-1", 2),), reason="payment declined"))

    deliver_pending("orders.cancel_order")
    deliver_pending("orders.advance_order")

    assert OrderView.objects.get(pk=order_id).reason == "payment declined"
    assert order_events(order_id) == ["orders.OrderPlaced", "orders.OrderCancelled"]


def test_an_expired_hold_neither_cancels_nor_confirms_until_it_is_held_again(place):
    order_id = place("alice")
    publish(held(order_id), captured(order_id))
    publish(ReservationExpired(order_id, (ReservedLine("SKU-1", 2),),
                               "2030-01-01T00:00:00+00:00", "hold expired"))
    publish(booked(order_id))
    deliver_pending("orders.cancel_order")
    deliver_pending("orders.advance_order")
    assert status(order_id) == "pending", "no failure, but nothing held to confirm on"

    publish(held(order_id))  # the hold asked for again
    deliver_pending("orders.advance_order")
    assert status(order_id) == "confirmed"


def test_a_late_capture_does_not_confirm_a_cancelled_order(place, alice):
    order_id = place("alice")
    alice.post(f"/api/orders/{order_id}/cancel/")
    publish(held(order_id))
    publish(captured(order_id))
    publish(booked(order_id))

    deliver_pending("orders.advance_order")

    assert status(order_id) == "cancelled"
    assert "orders.OrderConfirmed" not in order_events(order_id)


def test_a_release_after_the_pivot_does_not_cancel(place):
    order_id = place("alice")
    publish(held(order_id))
    publish(captured(order_id))
    publish(booked(order_id))
    deliver_pending("orders.advance_order")
    publish(StockReleased(order_id, (), reason="hold expired"))

    deliver_pending("orders.cancel_order")

    assert status(order_id) == "confirmed"


def test_the_confirmation_email_is_sent_once_after_the_pivot(place):
    order_id = place("alice")
    publish(held(order_id))
    publish(captured(order_id))
    publish(booked(order_id))
    deliver_pending("orders.advance_order")

    deliver_pending("orders.send_confirmation_email")
    Delivery.objects.filter(handler="orders.send_confirmation_email").update(status="pending")
    deliver_pending("orders.send_confirmation_email")

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert order_id in mail.outbox[0].subject
    assert "Total: 25.00" in mail.outbox[0].body
    assert order_events(order_id)[-1] == "orders.ConfirmationEmailSent"
    assert order_events(order_id).count("orders.ConfirmationEmailSent") == 1


def test_a_failed_send_leaves_no_guard_behind_and_is_retried(place, monkeypatch, broker_db):
    order_id = place("alice")
    publish(held(order_id))
    publish(captured(order_id))
    publish(booked(order_id))
    deliver_pending("orders.advance_order")

    def smtp_down(self, *args, **kwargs):
        raise ConnectionRefusedError("mail server down")  # refused: certainly not sent

    with monkeypatch.context() as patch:
        patch.setattr("django.core.mail.EmailMessage.send", smtp_down)
        deliver_pending("orders.send_confirmation_email")
    delivery = Delivery.objects.get(handler="orders.send_confirmation_email")
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "orders.ConfirmationEmailSent" not in order_events(order_id)

    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
    deliver_pending("orders.send_confirmation_email")

    assert len(mail.outbox) == 1
    assert "orders.ConfirmationEmailSent" in order_events(order_id)


def test_a_fact_about_an_unknown_order_is_a_dead_letter(db):
    publish(StockReservationFailed("no-such-order", "x"))

    deliver_pending("orders.cancel_order")

    assert Delivery.objects.get(handler="orders.cancel_order").status == "dead"


def test_a_cancellation_requested_by_the_reconciler_cancels_a_pending_order(place):
    order_id = place("alice")
    publish(OrderCancellationRequested(order_id, "the saga ran past its budget", "saga"),
            stream_type=COMMANDS)

    deliver_pending("orders.cancel_on_request")

    view = OrderView.objects.get(pk=order_id)
    assert (view.status, view.reason) == ("cancelled", "the saga ran past its budget")


def test_a_cancellation_request_after_the_pivot_changes_nothing(place):
    order_id = place("alice")
    publish(held(order_id))
    publish(captured(order_id))
    publish(booked(order_id))
    deliver_pending("orders.advance_order")
    publish(OrderCancellationRequested(order_id, "late", "saga"), stream_type=COMMANDS)

    deliver_pending("orders.cancel_on_request")

    assert status(order_id) == "confirmed"
    assert Delivery.objects.get(handler="orders.cancel_on_request").status == "done"


def test_a_view_repair_rewrites_the_order_view_from_its_stream(place, alice):
    order_id = place("alice")
    alice.post(f"/api/orders/{order_id}/cancel/")
    OrderView.objects.filter(pk=order_id).update(status="pending", reason="", cancelled_at=None)
    publish(OrderViewRepairRequested(order_id), stream_type=COMMANDS)

    deliver_pending("orders.repair_order_view")

    view = OrderView.objects.get(pk=order_id)
    assert (view.status, view.reason) == ("cancelled", "cancelled by customer")
