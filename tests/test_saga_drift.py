"""Drift injected straight into the data converges: the reconciler finds it (against the
participants and the providers' ledgers), corrects it through the outbox, records why, and the
audit is clean afterwards. Real PostgreSQL, Redis and Celery worker; the reconciler runs here
the way beat runs it (verify, then a pass), except in the last test, where beat does it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from inventory.models import Reservation, ReservationSnapshot, Stock
from orders.models import OrderView
from outbox.models import Delivery, Event
from payments.domain import charge_key
from payments.gateway import GatewayTimeout, default_gateway
from payments.models import GatewayLedgerEntry
from saga.audit.run import run_audit
from saga.models import OrderSaga, ReconciliationAction
from shipping.carrier import SimulatedCarrier
from shipping.models import CarrierLedgerEntry
from tests.conftest import wait_for
from tests.saga_world import (
    REFUSED,
    catalogue_fixture,  # noqa: F401
    converged,
    customer_fixture,  # noqa: F401
    fast_saga_fixture,  # noqa: F401
    ledger_net,
    live_bookings,
    place,
    providers_closed,  # noqa: F401
    quiet,
    reconcile_until,
    saga,
    settled,
)

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "providers"]),
              pytest.mark.e2e]
EVERY_QUEUE_BUT_PAYMENTS = "outbox,orders,inventory,shipping"


def assert_audit_clean() -> None:
    failed = {c.name: c.violations[:3] for c in run_audit(strict=True) if not c.ok}
    assert not failed, failed


def actions(order_id: str, kind: str) -> list[ReconciliationAction]:
    return list(ReconciliationAction.objects.filter(saga_id=order_id, kind=kind))


def plant_charge(order_id: str, amount: Decimal, entry_id: str = "ch_planted") -> None:
    GatewayLedgerEntry.objects.using("providers").create(
        entry_id=entry_id, kind="charge", idempotency_key=f"planted-{entry_id}",
        order_id=order_id, amount=amount, token="tok_ok")


def test_an_extra_charge_in_the_gateways_ledger_is_refunded(
        catalogue, customer, fast_saga, start_worker, broker):
    start_worker(**fast_saga)
    order_id = place(customer)
    settled(order_id)
    quiet()
    plant_charge(order_id, Decimal("25.00"))
    assert ledger_net(order_id) == Decimal("50.00")

    reconcile_until(lambda: ledger_net(order_id) == Decimal("25.00") and converged(order_id)())

    (refund,) = actions(order_id, "refund_extra_charge")
    assert refund.status == "applied" and refund.actor == "reconciler"
    assert "ch_planted" in refund.reason
    assert refund.evidence["observed"]["payment"] == "net 50.00"
    assert refund.evidence["desired"]["payment"] == "net 25.00"
    assert actions(order_id, "drift_found"), "the verification found the converged saga drifted"
    final = saga(order_id)
    assert (final.charged, final.refunded, final.net) == (Decimal("50.00"), Decimal("25.00"),
                                                          Decimal("25.00"))
    quiet()
    assert_audit_clean()


def test_a_lost_charge_response_is_found_by_key_and_recorded_never_charged_twice(
        catalogue, customer, fast_saga, settings, start_worker, broker):
    settings.OUTBOX_QUEUE_MODE = "per_context"
    start_worker(queues=EVERY_QUEUE_BUT_PAYMENTS, OUTBOX_QUEUE_MODE="per_context", **fast_saga)
    order_id = place(customer)
    wait_for(lambda: saga(order_id).stock == "held", message="the stock hold")
    # The payment handler charged, the answer was lost, and every retry timed out until its
    # attempts ran out: the money is at the gateway, the payment knows nothing of it.
    with pytest.raises(GatewayTimeout):
        default_gateway().charge(charge_key(order_id), Decimal("25.00"), "tok_lost_response",
                                 order_id=order_id)
    Delivery.objects.filter(event__correlation_id=order_id, handler="payments.charge_payment"
                            ).update(status="dead", attempts=8,
                                     last_error="GatewayTimeout: payment provider did not answer")
    start_worker(queues="payments", OUTBOX_QUEUE_MODE="per_context", **fast_saga)

    reconcile_until(converged(order_id))

    assert saga(order_id).order_status == "confirmed"
    charges = GatewayLedgerEntry.objects.using("providers").filter(order_id=order_id,
                                                                   kind="charge")
    assert charges.count() == 1
    assert ledger_net(order_id) == Decimal("25.00")
    assert actions(order_id, "replay_dead_deliveries") or actions(order_id, "record_lost_charge")
    quiet()
    assert_audit_clean()


def test_a_shipment_left_booked_on_a_cancelled_order_is_cancelled(
        catalogue, customer, fast_saga, start_worker, broker):
    start_worker(**fast_saga)
    order_id = place(customer, token="tok_decline")
    settled(order_id)
    quiet()
    assert saga(order_id).order_status == "cancelled"
    CarrierLedgerEntry.objects.using("providers").create(
        idempotency_key=f"shipment:{order_id}", shipment_id="shp_left_behind",
        tracking_code="TRK1", order_id=order_id, address={"city": "London"})

    reconcile_until(lambda: live_bookings(order_id) == 0 and converged(order_id)())

    (cancel,) = actions(order_id, "cancel_shipment")
    assert "shp_left_behind" in cancel.reason
    assert cancel.command_event_id is not None
    assert Event.objects.get(id=cancel.command_event_id).event_type == (
        "shipping.ShipmentCancellationRequested")
    quiet()
    assert_audit_clean()


def test_deliveries_whose_broker_messages_were_flushed_are_sent_again(
        catalogue, customer, fast_saga, start_worker, broker):
    order_id = place(customer)  # no worker yet: the messages wait in Redis
    wait_for(lambda: broker.dbsize() > 0, message="the messages to reach the broker")
    broker.flushdb()
    start_worker(**fast_saga)  # no beat either: no outbox sweep to rescue them

    reconcile_until(converged(order_id))

    assert saga(order_id).order_status == "confirmed"
    (republish, *_) = actions(order_id, "republish_deliveries")
    assert "lost by the broker" in republish.reason
    quiet()
    assert_audit_clean()


def test_altered_read_model_rows_are_rebuilt_from_their_events(
        catalogue, customer, fast_saga, start_worker, broker):
    start_worker(**fast_saga)
    order_id = place(customer)
    settled(order_id)
    quiet()
    OrderView.objects.filter(id=order_id).update(status="cancelled", reason="typo in SQL")
    OrderSaga.objects.filter(order_id=order_id).update(stock="released")

    reconcile_until(lambda: OrderView.objects.get(id=order_id).status == "confirmed"
                    and saga(order_id).stock == "committed" and converged(order_id)())

    subjects = {a.subject for a in actions(order_id, "rebuild_read_model")}
    assert subjects == {"orders.OrderView", "saga.OrderSaga"}
    assert OrderView.objects.get(id=order_id).reason == ""
    quiet()
    assert_audit_clean()


def test_a_deleted_hold_on_an_order_going_forward_is_requested_again(
        catalogue, customer, fast_saga, settings, start_worker, broker):
    settings.OUTBOX_QUEUE_MODE = "per_context"
    start_worker(queues=EVERY_QUEUE_BUT_PAYMENTS, OUTBOX_QUEUE_MODE="per_context", **fast_saga)
    order_id = place(customer)
    wait_for(lambda: saga(order_id).stock == "held", message="the stock hold")
    # The hold vanishes from every inventory record: its events, snapshot, row and units.
    with transaction.atomic():
        reserved = Event.objects.filter(stream_type="inventory.Reservation", stream_id=order_id)
        Delivery.objects.filter(event__in=reserved).delete()
        reserved.delete()
        ReservationSnapshot.objects.filter(stream_id=order_id).delete()
        Reservation.objects.filter(order_id=order_id).delete()
        Stock.objects.filter(sku="SKU-1").update(held=0)
    start_worker(queues="payments", OUTBOX_QUEUE_MODE="per_context", **fast_saga)

    reconcile_until(converged(order_id))

    assert saga(order_id).order_status == "confirmed"
    assert actions(order_id, "rerequest_hold")
    assert Stock.objects.get(sku="SKU-1").on_hand == 98
    quiet()
    assert_audit_clean()


def test_a_saga_that_cannot_converge_is_flagged_with_its_reason(
        catalogue, customer, fast_saga, start_worker, broker, settings):
    # The gateway fails every refund (a random fault at rate 1; test tokens are spared it, so
    # the charge goes through), and the carrier refuses the address: no refund can happen.
    # The outage outlasts its one-second budget, so the refund stops waiting it out.
    settings.SAGA_PROVIDER_OUTAGE_BUDGET_SECONDS = 1
    start_worker(PAYMENTS_FAULTS="error=1", OUTBOX_MAX_ATTEMPTS="2",
                 SAGA_PROVIDER_OUTAGE_BUDGET_SECONDS="1", **fast_saga)
    order_id = place(customer, token="tok_lost_response", address=REFUSED)
    wait_for(lambda: saga(order_id).current_step == "refund_payment", timeout=30,
             message="the refund step")

    reconcile_until(lambda: saga(order_id).state == "needs_attention", timeout=60,
                    message="the saga to need attention")

    stuck = saga(order_id)
    assert "refund payment step did not complete" in stuck.attention_reason
    assert "payment provider unavailable" in stuck.attention_reason
    assert actions(order_id, "replay_dead_deliveries")
    assert actions(order_id, "needs_attention")
    assert ledger_net(order_id) == Decimal("25.00")  # nothing silently lost or invented
    checks = {c.number: c for c in run_audit(strict=True)}
    assert checks[5].ok, "a saga needing attention with a reason is not silently stuck"


# Beat writes CELERY_BEAT_SCHEDULE, built from these settings, into its tables as it starts.
EVERY_SECOND = {"SAGA_VERIFY_INTERVAL_SECONDS": "1", "SAGA_RECONCILE_INTERVAL_SECONDS": "1"}


def test_beat_and_the_worker_close_a_gap_with_nobody_calling_the_reconciler(
        catalogue, customer, fast_saga, start_worker, start_beat, broker):
    start_beat(**EVERY_SECOND)
    start_worker(**fast_saga)
    order_id = place(customer)
    settled(order_id)
    quiet()
    plant_charge(order_id, Decimal("25.00"), entry_id="ch_beat")

    wait_for(lambda: ledger_net(order_id) == Decimal("25.00") and converged(order_id)(),
             timeout=60, interval=0.5, message="beat's reconciler to refund the extra charge")
    assert actions(order_id, "refund_extra_charge")[0].actor == "reconciler"


def test_beat_and_the_worker_book_again_a_shipment_the_carrier_cancelled(
        catalogue, customer, fast_saga, start_worker, start_beat, broker):
    start_beat(**EVERY_SECOND)
    start_worker(**fast_saga)
    order_id = place(customer)
    settled(order_id)
    quiet()
    assert saga(order_id).order_status == "confirmed"
    SimulatedCarrier().cancel(f"shipment:{order_id}")  # the carrier's own decision

    wait_for(lambda: live_bookings(order_id) == 1 and converged(order_id)()
             and actions(order_id, "rebook_shipment"),
             timeout=60, interval=0.5, message="beat's reconciler to book the shipment again")
    (rebook,) = actions(order_id, "rebook_shipment")
    assert rebook.status == "applied" and rebook.actor == "reconciler"
    assert Event.objects.filter(correlation_id=order_id,
                                event_type="shipping.ShipmentRebooked").count() == 1
    quiet()
    assert_audit_clean()
