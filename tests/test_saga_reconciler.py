"""The reconciler's judgement on stalled sagas: retry a stalled step, compensate it past its
retries (before the pivot), and ask a person when a saga outlives its budget or its gap grows.
The handlers run in-process here (`drain`); what is tested is what the reconciler decides."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from outbox.models import Delivery, Event
from payments.models import GatewayLedgerEntry
from saga import reconciler, services
from saga.models import ReconciliationAction
from shipping.models import CarrierLedgerEntry
from tests.saga_world import (
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
    saga,
)
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])


@pytest.fixture(autouse=True)
def quick_steps(settings) -> None:
    settings.SAGA_STEP_DEADLINE_SECONDS = 0
    settings.SAGA_STEP_RETRIES = 2


def later(minutes: int) -> timezone.datetime:
    return timezone.now() + timedelta(minutes=minutes)


def stalled_at_the_charge(customer: User) -> str:
    """Stock held, nothing charged, and every message handled (the payment's to no effect):
    the charge step is stuck."""
    order_id = place(customer)
    drain(lose="payments.")
    return order_id


def test_a_stalled_step_is_retried_then_compensated_before_the_pivot(catalogue, customer):
    order_id = stalled_at_the_charge(customer)
    for minute in (1, 2):
        reconciler.run_pass(now=later(minute))
        # The retry was lost too: its command handled with no effect.
        Delivery.objects.filter(event__correlation_id=order_id).update(status="done")
    # Charging waits for a person: proposed once, not again while it waits.
    assert [(a.kind, a.status) for a in ReconciliationAction.objects.order_by("id")] == [
        ("retry_payment", "proposed")]

    reconciler.run_pass(now=later(3))
    drain()

    compensation = ReconciliationAction.objects.get(kind="compensate")
    assert "did not complete after 2 retries" in compensation.reason
    cancelled = Event.objects.get(correlation_id=order_id, event_type="orders.OrderCancelled")
    assert cancelled.payload["reason"] == "could not charge payment in time"
    final = saga(order_id)
    assert (final.state, final.order_status, final.stock) == ("converged", "cancelled",
                                                              "released")


def test_a_retried_step_that_works_goes_forward(catalogue, customer):
    order_id = stalled_at_the_charge(customer)
    reconciler.run_pass(now=later(1))
    drain()
    assert GatewayLedgerEntry.objects.using("providers").filter(order_id=order_id).count() == 0
    services.approve_correction(ReconciliationAction.objects.get(kind="retry_payment").id,
                                by="olga")  # a charge always waits for a person
    drain()
    final = saga(order_id)
    assert (final.state, final.order_status) == ("converged", "confirmed")
    assert GatewayLedgerEntry.objects.using("providers").filter(order_id=order_id).count() == 1


def test_a_saga_past_its_budget_needs_attention(catalogue, customer, settings):
    settings.SAGA_BUDGET_SECONDS = 60
    order_id = place(customer)  # its first messages are in flight: nothing to retry
    Delivery.objects.filter(event__correlation_id=order_id).update(next_attempt_at=later(60))
    reconciler.run_pass(now=later(2))
    stuck = saga(order_id)
    assert stuck.state == "needs_attention"
    assert stuck.attention_reason.startswith("not converged 2 min after it started")
    assert "waiting on the reserve stock step" in stuck.attention_reason
    assert ReconciliationAction.objects.filter(kind="needs_attention").count() == 1


def test_a_gap_that_grows_between_passes_needs_attention(catalogue, customer):
    order_id = place(customer)
    drain()
    GatewayLedgerEntry.objects.using("providers").create(
        entry_id="ch_small", kind="charge", idempotency_key="small", order_id=order_id,
        amount=Decimal("5.00"))
    reconciler.verify_converged()
    reconciler.run_pass(now=later(1))  # gap 1: the refund of the extra charge is on its way
    assert saga(order_id).observed_gap == 1
    CarrierLedgerEntry.objects.using("providers").filter(order_id=order_id).update(
        status="cancelled")  # and now the confirmed order's shipment is gone too

    reconciler.run_pass(now=later(2))

    grown = saga(order_id)
    assert grown.state == "needs_attention"
    assert grown.attention_reason.startswith("the gap grew from 1 to 2")
    assert "shipment: cancelled (wanted booked)" in grown.attention_reason


def test_the_reconcile_command_dry_run_changes_nothing(catalogue, customer, capsys):
    order_id = stalled_at_the_charge(customer)
    call_command("reconcile", "--order", order_id, "--dry-run")
    out = capsys.readouterr().out
    assert f"order {order_id}: gap" in out and "would retry_payment" in out
    assert not ReconciliationAction.objects.exists()
    assert not Event.objects.filter(stream_type="saga.Corrections").exists()

    call_command("reconcile", "--order", order_id)
    assert "did retry_payment (proposed)" in capsys.readouterr().out
    assert ReconciliationAction.objects.get().kind == "retry_payment"
