"""The Order aggregate's rules, without a database: given events, when a command, then events."""

from decimal import Decimal

import pytest

from inventory.events import ReservedLine, StockReleased, StockReserved
from orders.domain import (
    MAX_LINES,
    Order,
    OrderAlreadyConfirmed,
    OrderRuleBroken,
    OrderStatus,
    SagaFacts,
    order_total,
    price_lines,
)
from orders.events import (
    ConfirmationEmailSent,
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    ShippingAddress,
)
from payments.events import PaymentCaptured, PaymentRefunded
from shipping.events import ShipmentBooked, ShipmentCancelled

ORDER = "o-1"
ADDRESS = ShippingAddress(name="A", line1="1 Main St", city="Berlin", postal_code="10115",
                          country="DE")
LINES = (OrderLine("SKU-1", 2, Decimal("12.50")), OrderLine("SKU-2", 1, Decimal("0.35")))
PLACED = OrderPlaced(order_id=ORDER, customer_id="7", lines=LINES, total=Decimal("25.35"),
                     shipping_address=ADDRESS, payment_token="tok_ok")
HELD = StockReserved(order_id=ORDER, lines=(ReservedLine("SKU-1", 2),),
                     expires_at="2030-01-01T00:00:00+00:00")
RELEASED = StockReleased(order_id=ORDER, lines=(ReservedLine("SKU-1", 2),),
                         reason="payment declined")
CAPTURED = PaymentCaptured(order_id=ORDER, amount=Decimal("25.35"), charge_id="ch_1")
REFUNDED = PaymentRefunded(order_id=ORDER, amount=Decimal("25.35"), refund_id="re_1",
                           reason="carrier refused the address", compensation=True)
BOOKED = ShipmentBooked(order_id=ORDER, shipment_id="sh_1", tracking_code="TRK1")
SHIPMENT_CANCELLED = ShipmentCancelled(order_id=ORDER, shipment_id="sh_1", reason="x")


def given(*events: object) -> Order:
    return Order(ORDER).fold(events)


def facts(*events: object) -> SagaFacts:
    return SagaFacts.of(ORDER, events)


def test_placing_an_order_prices_it_and_sums_the_total():
    lines = price_lines([("SKU-1", 3), ("SKU-2", 2)],
                        {"SKU-1": Decimal("12.50"), "SKU-2": Decimal("0.35")})
    [placed] = Order(ORDER).place(customer_id="7", lines=lines, shipping_address=ADDRESS,
                                  payment_token="tok_ok")
    assert placed.total == Decimal("38.20")
    assert [(line.sku, line.quantity, line.unit_price) for line in placed.lines] == [
        ("SKU-1", 3, Decimal("12.50")), ("SKU-2", 2, Decimal("0.35"))]
    assert given(placed).status is OrderStatus.PENDING


@pytest.mark.parametrize("lines, message", [
    ((), "1 to 100 lines"),
    (tuple(OrderLine(f"S{i}", 1, Decimal(1)) for i in range(MAX_LINES + 1)), "1 to 100 lines"),
    ((OrderLine("S", 1, Decimal(1)), OrderLine("S", 2, Decimal(1))), "one line per sku"),
    ((OrderLine("S", 0, Decimal(1)),), "quantity"),
    ((OrderLine("S", 1001, Decimal(1)),), "quantity"),
])
def test_placement_refuses_orders_outside_the_limits(lines, message):
    with pytest.raises(OrderRuleBroken, match=message):
        Order(ORDER).place(customer_id="7", lines=lines, shipping_address=ADDRESS,
                           payment_token="tok_ok")


def test_an_order_is_placed_only_once():
    with pytest.raises(OrderRuleBroken, match="already placed"):
        given(PLACED).place(customer_id="7", lines=LINES, shipping_address=ADDRESS,
                            payment_token="tok_ok")


def test_total_is_rounded_to_cents():
    assert order_total([OrderLine("S", 3, Decimal("0.333"))]) == Decimal("1.00")


def test_confirms_when_stock_is_held_payment_captured_and_shipment_booked():
    assert given(PLACED).confirm(facts(HELD, CAPTURED, BOOKED)) == [OrderConfirmed(ORDER)]


def test_the_order_of_the_facts_does_not_matter():
    assert given(PLACED).confirm(facts(BOOKED, CAPTURED, HELD)) == [OrderConfirmed(ORDER)]


@pytest.mark.parametrize("known", [(), (HELD,), (HELD, CAPTURED), (CAPTURED, BOOKED),
                                   (HELD, BOOKED)])
def test_does_not_confirm_while_a_fact_is_missing(known):
    assert given(PLACED).confirm(facts(*known)) == []


@pytest.mark.parametrize("setback", [RELEASED, REFUNDED, SHIPMENT_CANCELLED])
def test_the_reread_refuses_to_confirm_after_a_setback(setback):
    assert given(PLACED).confirm(facts(HELD, CAPTURED, BOOKED, setback)) == []
    assert facts(HELD, CAPTURED, BOOKED, setback).setbacks


def test_a_hold_requested_again_after_a_release_holds_again():
    assert given(PLACED).confirm(facts(HELD, RELEASED, HELD, CAPTURED, BOOKED)) == [
        OrderConfirmed(ORDER)]


def test_refunding_a_duplicate_charge_is_not_a_setback():
    correction = PaymentRefunded(order_id=ORDER, amount=Decimal("25.35"), refund_id="re_2",
                                 reason="duplicate charge", compensation=False)
    assert given(PLACED).confirm(facts(HELD, CAPTURED, correction, BOOKED)) == [
        OrderConfirmed(ORDER)]


def test_facts_about_another_order_are_ignored():
    other = StockReserved(order_id="o-2", lines=(), expires_at="2030-01-01T00:00:00+00:00")
    assert given(PLACED).confirm(facts(other, CAPTURED, BOOKED)) == []


def test_a_confirmed_order_is_not_confirmed_twice():
    assert given(PLACED, OrderConfirmed(ORDER)).confirm(facts(HELD, CAPTURED, BOOKED)) == []


def test_a_late_fact_does_not_confirm_a_cancelled_order():
    cancelled = OrderCancelled(ORDER, "cancelled by customer", "customer")
    assert given(PLACED, cancelled).confirm(facts(HELD, CAPTURED, BOOKED)) == []


def test_cancel_before_the_pivot_cancels_with_the_reason():
    assert given(PLACED).cancel(reason="out of stock: SKU-7", requested_by="saga") == [
        OrderCancelled(ORDER, "out of stock: SKU-7", "saga")]
    order = given(PLACED, OrderCancelled(ORDER, "out of stock: SKU-7", "saga"))
    assert (order.status, order.reason, order.cancelled_by) == (
        OrderStatus.CANCELLED, "out of stock: SKU-7", "saga")


def test_cancel_after_the_pivot_is_refused():
    with pytest.raises(OrderAlreadyConfirmed):
        given(PLACED, OrderConfirmed(ORDER)).cancel(reason="too late", requested_by="customer")


def test_cancelling_a_cancelled_order_changes_nothing():
    order = given(PLACED, OrderCancelled(ORDER, "payment declined", "saga"))
    assert order.cancel(reason="cancelled by customer", requested_by="customer") == []


def test_an_order_never_placed_cannot_be_cancelled():
    with pytest.raises(OrderRuleBroken):
        Order(ORDER).cancel(reason="x", requested_by="customer")


def test_the_confirmation_email_is_due_once_after_the_pivot():
    assert given(PLACED).record_confirmation_email("a@example.com") == []
    confirmed = given(PLACED, OrderConfirmed(ORDER))
    assert confirmed.record_confirmation_email("a@example.com") == [
        ConfirmationEmailSent(ORDER, "a@example.com")]
    sent = given(PLACED, OrderConfirmed(ORDER), ConfirmationEmailSent(ORDER, "a@example.com"))
    assert not sent.confirmation_email_due
    assert sent.record_confirmation_email("a@example.com") == []


def test_the_snapshot_restores_the_same_order():
    order = given(PLACED, OrderCancelled(ORDER, "payment declined", "saga"))
    restored = Order.restore(ORDER, order.version, order.snapshot())
    assert restored.snapshot() == order.snapshot()
    assert restored.version == 2
    assert restored.lines == LINES
    assert restored.shipping_address == ADDRESS
