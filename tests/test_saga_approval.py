"""With RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS on, a refund the saga did not plan waits as a
proposed action until an operator approves it (or rejects it, and the saga asks for a person)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from outbox.models import Event
from payments.models import GatewayLedgerEntry
from saga import reconciler, services
from saga.models import OrderSaga, ReconciliationAction
from tests.saga_world import (
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    ledger_net,
    place,
    providers_closed,  # noqa: F401
    saga,
)
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])


@pytest.fixture
def doubly_charged(catalogue: None, customer: User, settings) -> str:
    settings.RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS = True
    order_id = place(customer)
    drain()
    GatewayLedgerEntry.objects.using("providers").create(
        entry_id="ch_dup", kind="charge", idempotency_key="dup", order_id=order_id,
        amount=Decimal("25.00"))
    assert reconciler.verify_converged() == [order_id]
    return order_id


def passes(count: int) -> None:
    """Reconciler passes as time goes by (each one finds the saga due again)."""
    for minutes in range(1, count + 1):
        reconciler.run_pass(now=timezone.now() + timedelta(minutes=minutes))
        drain()


def test_an_unplanned_refund_waits_for_approval_then_converges(doubly_charged):
    order_id = doubly_charged
    passes(3)
    (proposal,) = ReconciliationAction.objects.filter(kind="refund_extra_charge")
    assert proposal.status == "proposed" and proposal.command_event_id is None
    assert ledger_net(order_id) == Decimal("50.00"), "nothing is refunded before approval"
    assert saga(order_id).state != "converged"

    services.approve_correction(proposal.id, by="olga")
    drain()
    passes(1)

    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == ("applied", "olga")
    command = Event.objects.get(id=proposal.command_event_id)
    assert command.event_type == "payments.ExtraChargeRefundRequested"
    assert command.metadata["actor"] == "operator:olga"
    assert ledger_net(order_id) == Decimal("25.00")
    assert saga(order_id).state == "converged"


def test_a_rejected_refund_leaves_the_saga_needing_a_person(doubly_charged):
    order_id = doubly_charged
    passes(1)
    proposal = ReconciliationAction.objects.get(kind="refund_extra_charge")
    services.reject_correction(proposal.id, by="olga")
    passes(2)

    stuck = OrderSaga.objects.get(order_id=order_id)
    assert stuck.state == "needs_attention"
    assert "olga rejected" in stuck.attention_reason
    assert ReconciliationAction.objects.filter(kind="refund_extra_charge").count() == 1
    assert ledger_net(order_id) == Decimal("50.00")


def test_without_approval_mode_the_refund_goes_through_at_once(doubly_charged, settings):
    settings.RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS = False
    passes(2)
    assert ReconciliationAction.objects.get(kind="refund_extra_charge").status == "applied"
    assert ledger_net(doubly_charged) == Decimal("25.00")
