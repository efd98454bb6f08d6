"""The Payment's rules, with no database: given events, when a command, then events."""

from decimal import Decimal

import pytest

from payments.domain import (
    ChargeRequest,
    Payment,
    PaymentRuleBroken,
    PaymentStatus,
    RefundRequest,
    charge_key,
    refund_key,
)
from payments.events import (
    OrderCancellationNoted,
    OrderPlacementNoted,
    PaymentCaptured,
    PaymentDeclined,
    PaymentRefunded,
    StockHoldNoted,
)

ORDER = "o-1"
PLACED = OrderPlacementNoted(ORDER, Decimal("32.25"), "tok_ok")
HELD = StockHoldNoted(ORDER)
CAPTURED = PaymentCaptured(ORDER, Decimal("32.25"), "ch_1")
CANCELLED = OrderCancellationNoted(ORDER, "cancelled by customer")


def given(*events: object) -> Payment:
    return Payment(ORDER).fold(events)  # type: ignore[arg-type]


def test_placement_alone_does_not_make_the_charge_due():
    assert given(PLACED).charge_request() is None


def test_a_stock_hold_alone_does_not_make_the_charge_due():
    assert given(HELD).charge_request() is None


@pytest.mark.parametrize("history", [(PLACED, HELD), (HELD, PLACED)])
def test_placed_and_held_asks_for_the_order_total_under_the_order_key(history):
    assert given(*history).charge_request() == ChargeRequest(
        idempotency_key=charge_key(ORDER), amount=Decimal("32.25"), token="tok_ok")


def test_learning_the_placement_records_amount_and_token_once():
    payment = given()
    assert payment.note_order_placed(Decimal("5.00"), "tok_flaky") == [
        OrderPlacementNoted(ORDER, Decimal("5.00"), "tok_flaky")]
    assert given(PLACED).note_order_placed(Decimal("5.00"), "tok_flaky") == []


def test_an_empty_token_stays_empty_for_the_gateway_to_default():
    # A default filled in here would be a clear token in an event, where tokens are sealed.
    assert given().note_order_placed(Decimal("1.00"), "") == [
        OrderPlacementNoted(ORDER, Decimal("1.00"), "")]


def test_learning_the_same_fact_twice_records_it_once():
    assert given(HELD).note_stock_held() == []
    assert given(CANCELLED).note_order_cancelled("again") == []
    assert given().note_stock_held() == [HELD]


@pytest.mark.parametrize("history", [(PLACED, HELD, CANCELLED), (CANCELLED, PLACED, HELD),
                                     (PLACED, CANCELLED, HELD)])
def test_no_charge_after_the_order_is_cancelled(history):
    assert given(*history).charge_request() is None


def test_no_second_charge_once_captured_or_declined():
    assert given(PLACED, HELD, CAPTURED).charge_request() is None
    assert given(PLACED, HELD, PaymentDeclined(ORDER, "payment declined")).charge_request() is None


def test_a_capture_is_recorded_once():
    payment = given(PLACED, HELD)
    assert payment.record_capture("ch_1", Decimal("32.25")) == [CAPTURED]
    assert given(PLACED, HELD, CAPTURED).record_capture("ch_1", Decimal("32.25")) == []


def test_a_capture_of_another_amount_is_refused():
    with pytest.raises(PaymentRuleBroken):
        given(PLACED, HELD).record_capture("ch_1", Decimal("99.00"))


def test_a_decline_is_recorded_with_a_reason_a_customer_can_read():
    assert given(PLACED, HELD).record_decline() == [PaymentDeclined(ORDER, "payment declined")]
    assert given(PLACED, HELD, CAPTURED).record_decline() == []


def test_a_cancelled_order_without_a_capture_has_nothing_to_refund():
    payment = given(PLACED, HELD, CANCELLED)
    assert payment.cancellation_refund() is None
    assert payment.status == PaymentStatus.CANCELLED


def test_a_cancelled_order_without_a_recorded_answer_has_its_charge_in_doubt():
    assert given(PLACED, HELD, CANCELLED).charge_in_doubt
    assert not given(PLACED, HELD).charge_in_doubt
    assert not given(CANCELLED).charge_in_doubt  # nothing known to charge
    assert not given(PLACED, HELD, CAPTURED, CANCELLED).charge_in_doubt
    assert not given(PLACED, HELD, PaymentDeclined(ORDER, "payment declined"),
                     CANCELLED).charge_in_doubt


def test_a_late_capture_for_a_cancelled_order_is_refunded_not_kept():
    payment = given(PLACED, HELD, CANCELLED)
    late = payment.record_capture("ch_1", Decimal("32.25"))
    assert late == [CAPTURED]
    payment.fold(late)
    refund = payment.cancellation_refund()
    assert refund == RefundRequest(refund_key(ORDER, 1), "ch_1", Decimal("32.25"),
                                   "cancelled by customer", compensation=False)
    assert payment.record_refund(refund, "re_1") == [
        PaymentRefunded(ORDER, Decimal("32.25"), "re_1", "cancelled by customer", False)]


def test_a_failed_shipment_refund_is_a_compensation_with_the_failure_reason():
    payment = given(PLACED, HELD, CAPTURED)
    refund = payment.refund_request("carrier refused the address", compensation=True)
    assert refund is not None and refund.compensation and refund.amount == Decimal("32.25")
    assert payment.record_refund(refund, "re_1") == [
        PaymentRefunded(ORDER, Decimal("32.25"), "re_1", "carrier refused the address", True)]


def test_net_is_charged_minus_refunds_and_a_refund_never_erases_the_charge():
    payment = given(PLACED, HELD, CAPTURED,
                    PaymentRefunded(ORDER, Decimal("10.00"), "re_1", "goodwill", False))
    assert (payment.charged, payment.refunded, payment.net) == (
        Decimal("32.25"), Decimal("10.00"), Decimal("22.25"))
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    rest = payment.refund_request("cancelled", compensation=False)
    assert rest is not None
    assert (rest.amount, rest.idempotency_key) == (Decimal("22.25"), refund_key(ORDER, 2))
    payment.fold(payment.record_refund(rest, "re_2"))
    assert (payment.charged, payment.refunded, payment.net) == (
        Decimal("32.25"), Decimal("32.25"), Decimal("0.00"))
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.charge_id == "ch_1"
    assert payment.refund_request("again", compensation=True) is None


def test_a_refund_beyond_the_net_is_refused():
    payment = given(PLACED, HELD, CAPTURED)
    too_much = RefundRequest(refund_key(ORDER, 1), "ch_1", Decimal("40.00"), "x", False)
    with pytest.raises(PaymentRuleBroken):
        payment.record_refund(too_much, "re_1")


def test_a_stale_refund_request_is_refused():
    payment = given(PLACED, HELD, CAPTURED)
    request = payment.refund_request("x", compensation=False)
    assert request is not None
    payment.fold(payment.record_refund(request, "re_1"))
    with pytest.raises(PaymentRuleBroken):
        payment.record_refund(request, "re_1")


def test_status_follows_the_money():
    assert given().status == PaymentStatus.PENDING
    assert given(PLACED, HELD).status == PaymentStatus.PENDING
    assert given(PLACED, HELD, CAPTURED).status == PaymentStatus.CAPTURED
    assert given(PLACED, HELD, PaymentDeclined(ORDER, "payment declined")).status == (
        PaymentStatus.DECLINED)


def test_the_snapshot_restores_the_same_payment():
    payment = given(PLACED, HELD, CAPTURED, CANCELLED,
                    PaymentRefunded(ORDER, Decimal("2.25"), "re_1", "x", False))
    restored = Payment.restore(ORDER, payment.version, payment.snapshot())
    assert restored.snapshot() == payment.snapshot()
    assert restored.version == 5
    assert restored.net == Decimal("30.00")
    assert restored.cancellation_refund() == payment.cancellation_refund()
