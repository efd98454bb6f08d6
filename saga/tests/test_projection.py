"""The coordination state follows the events as they are appended, and a rebuild from the
event store gives the same rows."""

from decimal import Decimal

import pytest

from saga.models import OrderSaga
from saga.projections import PROJECTED_FIELDS
from saga.rebuild import rebuild_read_models
from saga.tests.factories import OrderHistory

pytestmark = pytest.mark.django_db


def saga_of(history: OrderHistory) -> OrderSaga:
    return OrderSaga.objects.get(order_id=history.order_id)


def test_gap_and_step_move_as_a_happy_order_advances():
    order = OrderHistory()
    progress = []
    for fact in (order.placed(), order.reserved(), order.captured(), order.booked(),
                 order.confirmed(), order.committed()):
        order.record(fact)
        saga = saga_of(order)
        progress.append((saga.state, saga.gap, saga.current_step))
    assert progress == [
        ("running", 4, "reserve_stock"),
        ("running", 4, "charge_payment"),
        ("running", 3, "book_shipment"),
        ("running", 2, "confirm_order"),
        ("running", 1, "commit_stock"),
        ("converged", 0, "done"),
    ]
    order.record(order.emailed())
    saga = saga_of(order)
    assert saga.desired_outcome == "fulfilled"
    assert saga.net == Decimal("25.00")
    assert saga.last_event_type == "orders.ConfirmationEmailSent"
    assert saga.next_check_at is None and saga.converged_at is not None


def test_a_declined_payment_turns_the_saga_to_compensating_until_it_is_cancelled():
    order = OrderHistory()
    order.record(order.placed(), order.reserved(), order.declined())
    saga = saga_of(order)
    assert (saga.state, saga.desired_outcome, saga.current_step) == (
        "compensating", "cancelled", "release_stock")
    assert saga.reason == "payment declined"
    assert saga.step_deadline is not None and saga.next_check_at == saga.step_deadline
    order.record(order.released())
    assert saga_of(order).current_step == "cancel_order"
    order.record(order.cancelled())
    saga = saga_of(order)
    assert (saga.state, saga.gap, saga.stock) == ("converged", 0, "released")


def test_an_expired_hold_keeps_the_saga_going_forward_and_due_at_once():
    order = OrderHistory()
    order.record(order.placed(), order.reserved(), order.captured(), order.expired())
    saga = saga_of(order)
    assert (saga.state, saga.desired_outcome, saga.stock, saga.current_step) == (
        "running", "fulfilled", "expired", "reserve_stock")
    assert not saga.step_failed and saga.reason == ""
    assert saga.next_check_at == saga.last_event_at, "the reconciler's turn: nothing else acts"
    order.record(order.reserved())
    assert (saga_of(order).stock, saga_of(order).current_step) == ("held", "book_shipment")


def test_a_release_under_a_pending_order_heads_the_saga_for_cancelled():
    # The choreography cancels a pending order on any StockReleased; the step model agrees.
    order = OrderHistory()
    order.record(order.placed(), order.reserved(), order.released("could not charge in time"))
    saga = saga_of(order)
    assert (saga.desired_outcome, saga.current_step, saga.reason) == (
        "cancelled", "cancel_order", "could not charge in time")


def test_a_capture_after_the_cancel_reopens_the_saga_until_it_is_refunded():
    order = OrderHistory()
    order.record(order.placed(), order.reserved(), order.cancelled("cancelled by customer"),
                 order.released("cancelled by customer"))
    assert saga_of(order).state == "converged"
    order.record(order.captured())
    saga = saga_of(order)
    assert (saga.state, saga.gap, saga.current_step) == ("compensating", 1, "refund_payment")
    order.record(order.refunded())
    assert saga_of(order).state == "converged"


def test_rebuild_from_the_event_store_equals_the_incremental_projection():
    histories = [OrderHistory().fulfilled() for _ in range(3)]
    declined = OrderHistory()
    declined.record(declined.placed(), declined.reserved(), declined.declined(),
                    declined.released())
    late = OrderHistory()
    late.record(late.placed(), late.reserved(), late.captured(), late.booked(),
                late.cancelled("cancelled by customer"), late.shipment_cancelled())
    histories += [declined, late]
    incremental = {s.order_id: s for s in OrderSaga.objects.all()}

    # Damage the projection: a lost row, a wrong gap, a forgotten refund.
    OrderSaga.objects.filter(order_id=histories[0].order_id).delete()
    OrderSaga.objects.filter(order_id=histories[1].order_id).update(gap=3, state="running")
    OrderSaga.objects.filter(order_id=late.order_id).update(refunded=Decimal("1.00"))

    assert rebuild_read_models() == len(histories)

    rebuilt = {s.order_id: s for s in OrderSaga.objects.all()}
    assert rebuilt.keys() == incremental.keys()
    for order_id, saga in incremental.items():
        for field in (*PROJECTED_FIELDS, "state"):
            assert getattr(rebuilt[order_id], field) == getattr(saga, field), (order_id, field)


def test_rebuild_keeps_the_reconcilers_attention_on_a_saga_still_open():
    order = OrderHistory()
    order.record(order.placed(), order.reserved())
    OrderSaga.objects.filter(order_id=order.order_id).update(
        state="needs_attention", attention_reason="stuck on the charge for 20 minutes")
    calls = []
    rebuild_read_models(progress=lambda done, total: calls.append((done, total)))
    saga = saga_of(order)
    assert saga.state == "needs_attention"
    assert saga.attention_reason == "stuck on the charge for 20 minutes"
    assert calls == [(1, 1)]


def test_an_extra_charge_refunded_shows_both_facts_and_leaves_the_net(settings):
    from payments.events import ExtraChargeRefunded

    order = OrderHistory().fulfilled()
    order.record(ExtraChargeRefunded(order_id=order.order_id, charge_id="ch_dup",
                                     refund_id="re_dup", amount=Decimal("25.00"),
                                     reason="duplicate charge"))
    saga = saga_of(order)
    assert (saga.charged, saga.refunded, saga.net) == (
        Decimal("50.00"), Decimal("25.00"), Decimal("25.00"))
    assert (saga.state, saga.gap) == ("converged", 0)
