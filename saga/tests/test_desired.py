"""The desired-state rules on their own (no database)."""

from decimal import Decimal

from saga import desired, steps
from saga.desired import Observed


def seen(**facts: object) -> Observed:
    base = dict(order_status="pending", total=Decimal("25.00"), stock="none",
                charged=Decimal("0"), refunded=Decimal("0"), shipment="none", live_shipments=0,
                step_failed=False)
    base.update(facts)
    return Observed(**base)  # type: ignore[arg-type]


def test_a_pending_order_heads_for_fulfilled_with_every_facet_open():
    order = seen()
    assert desired.desired_outcome(order.order_status, order.step_failed) == "fulfilled"
    assert desired.gap(order) == 4
    assert steps.current_step(order) == "reserve_stock"


def test_a_confirmed_order_with_everything_done_has_no_gap():
    order = seen(order_status="confirmed", stock="committed", charged=Decimal("25.00"),
                 shipment="booked", live_shipments=1)
    assert desired.gap(order) == 0
    assert steps.current_step(order) == "done"


def test_a_failed_step_turns_a_pending_order_towards_cancelled():
    order = seen(stock="held", step_failed=True)
    assert desired.desired_outcome(order.order_status, order.step_failed) == "cancelled"
    assert steps.current_step(order) == "release_stock"
    assert set(desired.differences(order)) == {"order", "stock"}


def test_a_cancelled_order_that_never_held_or_charged_anything_has_converged():
    assert desired.gap(seen(order_status="cancelled", step_failed=True)) == 0


def test_a_duplicate_charge_on_a_confirmed_order_is_a_payment_gap():
    order = seen(order_status="confirmed", stock="committed", charged=Decimal("50.00"),
                 shipment="booked", live_shipments=1)
    assert desired.differences(order) == {
        "payment": {"observed": "net 50.00", "desired": "net 25.00"}}


def test_two_live_shipments_are_not_one():
    order = seen(order_status="confirmed", stock="committed", charged=Decimal("25.00"),
                 shipment="booked", live_shipments=2)
    assert desired.differences(order)["shipment"]["observed"] == "booked (2 live)"


def test_a_confirmed_order_is_never_heading_for_cancelled():
    assert desired.desired_outcome("confirmed", step_failed=True) == "fulfilled"


def test_an_expired_hold_of_a_pending_order_is_asked_for_again():
    order = seen(stock="expired", charged=Decimal("25.00"))
    assert desired.desired_outcome(order.order_status, order.step_failed) == "fulfilled"
    assert steps.current_step(order) == "reserve_stock"


def test_an_expired_hold_of_a_cancelled_order_holds_nothing_to_undo():
    assert desired.gap(seen(order_status="cancelled", stock="expired")) == 0
