"""Past the pivot the reconciler corrects forward: drift planted under a confirmed order
through the simulated provider's own API (or the context's services) converges, or waits for a
person's approval; the saga block explains every gap. Real PostgreSQL; deliveries run in this
process the way a worker runs them (tests/support/delivery.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db.models import F
from django.utils import timezone

from inventory import services as inventory
from inventory.models import Stock
from outbox.models import Event
from payments.domain import charge_key
from payments.events import ShortfallChargeRequested
from payments.gateway import default_gateway
from saga import reconciler, services
from saga.approvals import StaleProposal
from saga.audit.run import run_audit
from saga.models import ReconciliationAction
from saga.serializers import saga_block
from saga.stock_drift import correct_stock_drift
from shipping import selectors as shipping
from shipping.carrier import SimulatedCarrier
from shipping.events import Address
from tests.saga_world import (
    ADDRESS,
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    ledger_net,
    live_bookings,
    place,
    providers_closed,  # noqa: F401
    saga,
)
from tests.support.delivery import deliver, drain, publish

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])
TOTAL = Decimal("25.00")


@pytest.fixture
def confirmed(catalogue: None, customer: User) -> str:
    order_id = place(customer)
    drain()
    assert saga(order_id).order_status == "confirmed" and saga(order_id).state == "converged"
    return order_id


def passes(count: int) -> None:
    """Beat's work as time goes by: verify the converged, a pass over the due, deliveries."""
    for minutes in range(1, count + 1):
        reconciler.verify_converged()
        reconciler.run_pass(now=timezone.now() + timedelta(minutes=minutes))
        drain()


def actions(order_id: str, kind: str) -> list[ReconciliationAction]:
    return list(ReconciliationAction.objects.filter(saga_id=order_id, kind=kind))


def own_key(order_id: str) -> str:
    return shipping.shipments([order_id])[order_id].idempotency_key


def assert_audit_clean() -> None:
    failed = {c.name: c.violations[:3] for c in run_audit(strict=True) if not c.ok}
    assert not failed, failed


def carrier_address() -> Address:
    return Address(name=ADDRESS.name, line1=ADDRESS.line1, city=ADDRESS.city,
                   postal_code=ADDRESS.postal_code, country=ADDRESS.country)


def test_a_shipment_the_carrier_cancelled_is_booked_again(confirmed):
    order_id = confirmed
    first = own_key(order_id)
    SimulatedCarrier().cancel(first)  # the carrier's own decision
    assert live_bookings(order_id) == 0

    passes(3)

    assert live_bookings(order_id) == 1
    assert own_key(order_id) != first, "booked under a new idempotency key"
    (rebook,) = actions(order_id, "rebook_shipment")
    assert (rebook.status, rebook.actor) == ("applied", "reconciler")
    assert "the carrier cancelled it" in rebook.reason
    assert rebook.evidence["observed"]["shipment"] == "cancelled"
    assert rebook.evidence["desired"]["shipment"] == "booked"
    command = Event.objects.get(id=rebook.command_event_id)
    assert command.event_type == "shipping.ShipmentRebookingRequested"
    assert command.metadata["actor"] == "reconciler"
    assert Event.objects.filter(correlation_id=order_id,
                                event_type="shipping.ShipmentRebooked").count() == 1
    assert saga(order_id).state == "converged"
    assert_audit_clean()


def test_the_saga_block_names_the_participant_that_explains_the_gap(confirmed):
    order_id = confirmed
    SimulatedCarrier().cancel(own_key(order_id))
    reconciler.verify_converged()  # the gap is found; nothing corrected yet

    block = saga_block(order_id)
    assert block["gap"] == 1
    assert block["participants"]["shipment"]["observed"] == "booked"  # the events
    assert block["participants"]["shipment"]["at_provider"] == "cancelled"
    assert block["participants"]["payment"]["net_at_provider"] == "25.00"
    (why,) = block["disagreements"]
    assert (why["participant"], why["events_say"], why["records_say"]) == (
        "shipment", "booked", "cancelled")
    assert "the carrier cancelled" in why["reason"]

    passes(2)
    assert saga_block(order_id)["disagreements"] == []


def test_an_extra_live_booking_is_cancelled_and_the_orders_own_kept(confirmed):
    order_id = confirmed
    own = own_key(order_id)
    extra = SimulatedCarrier().book("carrier-side-duplicate", carrier_address(),
                                    order_id=order_id)
    assert live_bookings(order_id) == 2

    passes(3)

    [kept] = [b for b in shipping.bookings_at_carrier([order_id])[order_id] if b.live]
    assert kept.idempotency_key == own
    (cancel,) = actions(order_id, "cancel_extra_booking")
    assert cancel.status == "applied" and extra.shipment_id in cancel.reason
    assert cancel.subject == extra.shipment_id
    assert cancel.evidence["observed"]["shipment"] == "booked (2 live)"
    assert Event.objects.filter(correlation_id=order_id,
                                event_type="shipping.ExtraBookingCancelled").count() == 1
    assert saga(order_id).state == "converged"
    assert_audit_clean()


def test_a_duplicate_charge_after_confirmation_is_refunded(confirmed):
    order_id = confirmed
    default_gateway().charge("provider-side-duplicate", TOTAL, "tok_ok", order_id=order_id)
    assert ledger_net(order_id) == 2 * TOTAL

    passes(3)

    assert ledger_net(order_id) == TOTAL
    (refund,) = actions(order_id, "refund_extra_charge")
    assert refund.status == "applied"
    assert saga(order_id).state == "converged"


def test_a_net_payment_below_the_total_waits_for_a_person_then_is_charged(confirmed):
    order_id = confirmed
    gateway = default_gateway()
    own = gateway.look_up(charge_key(order_id))
    gateway.refund("provider-side-refund", own.charge_id, Decimal("5.00"))
    assert ledger_net(order_id) == Decimal("20.00")

    passes(3)

    (proposal,) = actions(order_id, "charge_shortfall")
    assert proposal.status == "proposed" and proposal.command_event_id is None
    assert "waits for a person" in proposal.reason
    assert proposal.evidence["observed"]["payment"] == "net 20.00"
    assert ledger_net(order_id) == Decimal("20.00"), "nothing is charged before approval"
    assert saga(order_id).state != "converged"

    services.approve_correction(proposal.id, by="olga")
    drain()
    passes(1)

    assert ledger_net(order_id) == TOTAL
    assert saga(order_id).state == "converged"


def test_stock_released_under_a_confirmed_order_waits_for_a_person(catalogue, customer):
    order_id = place(customer)
    drain(lose="inventory.commit_stock")  # confirmed, its stock never committed
    assert saga(order_id).order_status == "confirmed"
    inventory.release_stock(order_id, "released by a stock-take")

    passes(3)

    (proposal,) = actions(order_id, "restore_stock")
    assert proposal.status == "proposed"
    assert "SKU-1 x2" in proposal.reason
    assert proposal.evidence["observed"]["stock"] == "released"
    assert saga(order_id).state != "converged"


def test_a_rebooking_no_longer_needed_when_it_runs_books_nothing(confirmed):
    order_id = confirmed
    first = own_key(order_id)
    SimulatedCarrier().cancel(first)
    reconciler.verify_converged()
    reconciler.run_pass(now=timezone.now() + timedelta(minutes=1))  # the command is sent...
    assert [a.status for a in actions(order_id, "rebook_shipment")] == ["applied"]
    # ... and before shipping handles it, the carrier holds a live booking for the order again.
    SimulatedCarrier().book("restored-by-the-carrier", carrier_address(), order_id=order_id)

    drain()

    assert live_bookings(order_id) == 1, "nothing booked twice"
    assert own_key(order_id) == first
    assert not Event.objects.filter(correlation_id=order_id,
                                    event_type="shipping.ShipmentRebooked").exists()


def test_an_approved_shortfall_no_longer_short_charges_nothing(confirmed):
    order_id = confirmed
    gateway = default_gateway()
    own = gateway.look_up(charge_key(order_id))
    gateway.refund("provider-side-refund", own.charge_id, Decimal("5.00"))
    passes(1)
    (proposal,) = actions(order_id, "charge_shortfall")
    # Meanwhile someone took the difference at the provider's dashboard, under the order's
    # shortfall reference: by approval time nothing is short any more.
    gateway.charge(f"order-{order_id}-shortfall-by-hand", Decimal("5.00"), "tok_ok",
                   order_id=order_id)

    with pytest.raises(StaleProposal):
        services.approve_correction(proposal.id, by="olga")
    drain()

    assert ledger_net(order_id) == TOTAL, "charged once, by hand; the approval took nothing"


def test_a_shortfall_command_that_arrives_when_nothing_is_short_charges_nothing(confirmed):
    # The handler looks at the provider's books again when it runs (a command sent before
    # the state moved on, e.g. approved just before a charge by hand landed).
    order_id = confirmed
    [row] = publish(ShortfallChargeRequested(order_id, TOTAL, "stale"),
                    stream_type="saga.Corrections")

    deliver(row, "payments.charge_shortfall")

    assert ledger_net(order_id) == TOTAL


def test_a_stock_row_that_drifted_from_its_events_is_rewritten_from_them(confirmed):
    # The row is inventory's read model: drift is a row disagreeing with its events, which
    # no service writes; planted here as a lost update would leave it.
    Stock.objects.filter(sku_id="SKU-1").update(on_hand=F("on_hand") + 3)
    assert not {c.number: c.ok for c in run_audit()}[2]

    (correction,) = correct_stock_drift(actor="operator:olga")
    assert correction.sent and "on hand 101" in correction.reason
    assert correct_stock_drift(dry_run=True)[0].sent is False  # still drifting until handled
    drain()

    assert correct_stock_drift() == []
    assert_audit_clean()
    (repaired,) = Event.objects.filter(event_type="inventory.StockRowRepaired")
    assert (repaired.payload["on_hand_before"], repaired.payload["on_hand"]) == (101, 98)
    assert repaired.metadata["actor"] == "operator:olga"


def test_stock_drift_the_events_cannot_mend_is_reported_not_sent(catalogue):
    inventory.add_product("SKU-GHOST", "Ghost", Decimal("1.00"))
    Event.objects.filter(stream_id="SKU-GHOST").delete()  # a row with no events behind it

    (correction,) = correct_stock_drift()
    assert not correction.sent and "no event of the product" in correction.reason
