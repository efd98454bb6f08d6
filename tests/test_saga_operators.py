"""Needs-attention is never a dead end: operators acknowledge, retry, compensate and propose
corrections through the sagas API (staff with the action's permission), another operator
approves a money-moving one, and approval looks at the saga again before anything is sent.
The handlers run in-process here (`drain`); drift is planted through the simulated gateway's
own API."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from outbox.models import Delivery, Event
from payments.gateway import simulated_gateway
from payments.models import GatewayLedgerEntry
from payments.selectors import money_at_provider
from saga import reconciler
from saga.models import ReconciliationAction
from shipping.carrier import simulated_carrier
from shipping.selectors import bookings_at_carrier
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
OPERATE, CANCEL, DECIDE = "operate_saga", "cancel_saga_order", "decide_correction"


def staff(name: str, *codenames: str) -> APIClient:
    user = User.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(order_id: str, what: str) -> str:
    return f"/api/sagas/{order_id}/{what}/"


def later(minutes: int) -> timezone.datetime:
    return timezone.now() + timedelta(minutes=minutes)


@pytest.fixture
def stuck(catalogue: None, customer: User, settings) -> str:
    """An order whose first messages never arrive, found past its budget: needs attention."""
    settings.SAGA_BUDGET_SECONDS = 60
    order_id = place(customer)
    Delivery.objects.filter(event__correlation_id=order_id).update(next_attempt_at=later(60))
    reconciler.run_pass(now=later(2))
    assert saga(order_id).state == "needs_attention"
    return order_id


@pytest.fixture
def confirmed(catalogue: None, customer: User) -> str:
    order_id = place(customer)
    drain()
    assert saga(order_id).state == "converged"
    return order_id


@pytest.fixture
def doubly_charged(confirmed: str) -> tuple[str, str]:
    """A confirmed order (total 25.00) that the gateway charged a second time."""
    extra = simulated_gateway().charge("stray-charge", Decimal("25.00"), "tok_ok",
                                       order_id=confirmed)
    assert reconciler.verify_converged() == [confirmed]
    return confirmed, extra.charge_id


@pytest.fixture
def stalled_at_the_charge(catalogue: None, customer: User, settings) -> str:
    """Stock held, nothing charged, every message handled (the payment's to no effect)."""
    settings.SAGA_STEP_DEADLINE_SECONDS = 0
    order_id = place(customer)
    drain(lose="payments.")
    return order_id


def refund_of(charge_id: str, amount: str = "25.00") -> dict:
    return {"kind": "refund_charge", "params": {"charge_id": charge_id, "amount": amount},
            "note": "the gateway charged twice"}


def test_acknowledging_takes_a_note_and_is_logged_with_the_operator(stuck):
    olga = staff("olga", OPERATE)
    refused = olga.post(url(stuck, "acknowledge"), {}, format="json")
    assert refused.status_code == 400 and "note" in refused.json()
    assert olga.post(url(stuck, "acknowledge"), {"note": "  "}, format="json").status_code == 400

    response = olga.post(url(stuck, "acknowledge"), {"note": "carrier outage, watching"},
                         format="json")
    assert response.status_code == 201, response.content
    ack = ReconciliationAction.objects.get(kind="acknowledged")
    assert (ack.actor, ack.saga_id) == ("operator:olga", stuck)
    assert ack.reason == "olga acknowledged: carrier outage, watching"
    assert response.json()["id"] == ack.id


def test_each_action_takes_its_permission_besides_staff(stuck, customer):
    plain = staff("plain")  # is_staff, no permission
    for what, body in [("acknowledge", {"note": "x"}), ("retry", {}), ("compensate", {}),
                       ("corrections", {"kind": "release_hold", "note": "x"})]:
        response = plain.post(url(stuck, what), body, format="json")
        assert response.status_code == 403, (what, response.content)
        assert "permission" in response.json()["detail"]
    assert plain.get(url(stuck, "corrections")).status_code == 200  # looking is staff's
    customer_client = APIClient()
    customer_client.force_authenticate(customer)
    assert customer_client.post(url(stuck, "retry"), {}, format="json").status_code == 403
    assert APIClient().post(url(stuck, "retry"), {}, format="json").status_code == 401
    olga = staff("olga", OPERATE)  # may operate, not cancel or decide
    assert olga.post(url(stuck, "compensate"), {}, format="json").status_code == 403
    assert [a.kind for a in ReconciliationAction.objects.exclude(kind="needs_attention")] == []


def test_actions_on_a_converged_saga_answer_409_with_why(confirmed):
    olga = staff("olga", OPERATE, CANCEL, DECIDE)
    for what, body in [("acknowledge", {"note": "x"}), ("retry", {}),
                       ("corrections", {"kind": "release_hold", "note": "x"})]:
        response = olga.post(url(confirmed, what), body, format="json")
        assert response.status_code == 409, (what, response.content)
        assert "has converged" in response.json()["detail"]
    past = olga.post(url(confirmed, "compensate"), {}, format="json")
    assert past.status_code == 409
    assert "only a pending order can be cancelled" in past.json()["detail"]
    assert olga.post(url("no-such-order", "retry"), {}, format="json").status_code == 404
    assert not ReconciliationAction.objects.exists()


def test_compensating_before_the_pivot_cancels_with_the_normal_compensations(
        stalled_at_the_charge):
    order_id = stalled_at_the_charge
    response = staff("olga", CANCEL).post(url(order_id, "compensate"),
                                          {"note": "customer phoned"}, format="json")
    assert response.status_code == 202, response.content
    drain()
    final = saga(order_id)
    assert (final.order_status, final.stock, final.state) == ("cancelled", "released",
                                                              "converged")
    assert ReconciliationAction.objects.get(kind="operator_cancel").actor == "operator:olga"


def test_a_retried_charge_waits_for_another_operator_to_approve_it(stalled_at_the_charge):
    order_id = stalled_at_the_charge
    olga, victor = staff("olga", OPERATE, DECIDE), staff("victor", DECIDE)
    response = olga.post(url(order_id, "retry"), {"note": "gateway was down"}, format="json")
    assert response.status_code == 200, response.content
    [proposal] = response.json()
    assert (proposal["kind"], proposal["status"], proposal["moves_money"]) == (
        "retry_payment", "proposed", True)
    assert ReconciliationAction.objects.get(kind="operator_retry").actor == "operator:olga"
    drain()
    assert ledger_net(order_id) == 0, "nothing is charged before the approval"

    approve = url(order_id, f"corrections/{proposal['id']}/approve")
    refused = olga.post(approve, {}, format="json")
    assert refused.status_code == 403
    assert "needs another operator's approval" in refused.json()["detail"]
    assert ReconciliationAction.objects.get(id=proposal["id"]).status == "proposed"

    approved = victor.post(approve, {"note": "checked"}, format="json")
    assert approved.status_code == 200, approved.content
    drain()
    assert ledger_net(order_id) == Decimal("25.00")
    assert saga(order_id).order_status == "confirmed"


def test_the_reconciler_never_charges_without_approval_whatever_the_setting(
        stalled_at_the_charge, settings):
    settings.RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS = False
    reconciler.run_pass(now=later(1))
    drain()
    assert ReconciliationAction.objects.get(kind="retry_payment").status == "proposed"
    assert ledger_net(stalled_at_the_charge) == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "write_off", "note": "x"}, "kind"),
    ({"kind": "refund_charge", "params": {"charge_id": "ch_1"}, "note": "x"}, "params.amount"),
    ({"kind": "refund_charge", "params": {"charge_id": "ch_1", "amount": "-5"}, "note": "x"},
     "params.amount"),
    ({"kind": "refund_charge", "params": {"charge_id": "ch_1", "amount": "1.005"}, "note": "x"},
     "params.amount"),
    ({"kind": "release_hold", "params": {"amount": "5"}, "note": "x"}, "params.amount"),
    ({"kind": "release_hold"}, "note"),
    ({"kind": "release_hold", "params": "all", "note": "x"}, "params"),
])
def test_a_bad_proposal_is_a_400_naming_the_field_and_writes_nothing(doubly_charged, body,
                                                                     field):
    order_id, _ = doubly_charged
    response = staff("olga", OPERATE).post(url(order_id, "corrections"), body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    for part in field.split("."):
        assert part in errors, errors
        errors = errors[part]
    assert not ReconciliationAction.objects.exclude(kind="drift_found").exists()


def test_a_proposal_that_does_not_apply_now_is_a_409(doubly_charged):
    order_id, charge_id = doubly_charged
    olga = staff("olga", OPERATE)
    for body, why in [(refund_of("ch_nope"), "holds no charge ch_nope"),
                      (refund_of(charge_id, "30.00"), "holds only 25.00"),
                      ({"kind": "release_hold", "note": "x"}, "its hold is needed"),
                      ({"kind": "retry_payment", "note": "x"}, "already holds")]:
        response = olga.post(url(order_id, "corrections"), body, format="json")
        assert response.status_code == 409, response.content
        assert why in response.json()["detail"]


def test_a_refund_never_takes_the_net_payment_below_what_the_order_wants(doubly_charged):
    order_id, charge_id = doubly_charged
    own = money_at_provider([order_id])[order_id].own_charge
    simulated_gateway().refund("goodwill", own.charge_id, Decimal("10.00"))  # net 40.00
    response = staff("olga", OPERATE).post(url(order_id, "corrections"),
                                           refund_of(charge_id, "20.00"), format="json")
    assert response.status_code == 409, response.content
    assert "15.00 above what it should be" in response.json()["detail"]
    ok = staff("victor", OPERATE).post(url(order_id, "corrections"),
                                       refund_of(charge_id, "15.00"), format="json")
    assert ok.status_code == 201, ok.content


def test_a_refund_is_approved_by_another_operator_never_by_its_proposer(doubly_charged):
    order_id, charge_id = doubly_charged
    olga, victor = staff("olga", OPERATE, DECIDE), staff("victor", DECIDE)
    proposed = olga.post(url(order_id, "corrections"), refund_of(charge_id), format="json")
    assert proposed.status_code == 201, proposed.content
    action = proposed.json()
    assert (action["status"], action["actor"], action["moves_money"]) == (
        "proposed", "operator:olga", True)
    approve = url(order_id, f"corrections/{action['id']}/approve")

    assert olga.post(approve, {}, format="json").status_code == 403
    assert ledger_net(order_id) == Decimal("50.00")

    approved = victor.post(approve, {"note": "matches the gateway"}, format="json")
    assert approved.status_code == 200, approved.content
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("applied", "victor")
    drain()
    assert ledger_net(order_id) == Decimal("25.00")
    again = victor.post(approve, {}, format="json")
    assert again.status_code == 409 and "not proposed" in again.json()["detail"]


def test_a_stale_proposal_is_refused_at_approval_and_nothing_is_sent(doubly_charged):
    order_id, charge_id = doubly_charged
    olga, victor = staff("olga", OPERATE), staff("victor", DECIDE)
    action = olga.post(url(order_id, "corrections"), refund_of(charge_id), format="json").json()
    # Meanwhile someone refunded it at the gateway: the drift is gone.
    simulated_gateway().refund("refunded-by-hand", charge_id, Decimal("25.00"))
    commands = Event.objects.filter(stream_type="saga.Corrections").count()

    response = victor.post(url(order_id, f"corrections/{action['id']}/approve"), {},
                           format="json")

    assert response.status_code == 409, response.content
    assert "not sent: the saga changed since the proposal (net was 50.00, now 25.00" in (
        response.json()["detail"])
    stale = ReconciliationAction.objects.get(id=action["id"])
    assert (stale.status, stale.decided_by, stale.command_event_id) == ("stale", "victor", None)
    assert Event.objects.filter(stream_type="saga.Corrections").count() == commands
    drain()
    assert ledger_net(order_id) == Decimal("25.00")
    assert GatewayLedgerEntry.objects.using("providers").filter(
        order_id=order_id, kind="refund").count() == 1


def test_a_reconciler_proposal_is_decided_again_at_approval(doubly_charged, settings):
    settings.RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS = True
    order_id, charge_id = doubly_charged
    reconciler.run_pass(now=later(1))
    proposal = ReconciliationAction.objects.get(kind="refund_extra_charge")
    assert proposal.status == "proposed" and proposal.moves_money
    simulated_gateway().refund("refunded-by-hand", charge_id, Decimal("25.00"))

    response = staff("victor", DECIDE).post(
        url(order_id, f"corrections/{proposal.id}/approve"), {}, format="json")

    assert response.status_code == 409, response.content
    assert "the drift it corrects is gone" in response.json()["detail"]
    proposal.refresh_from_db()
    assert proposal.status == "stale" and proposal.command_event_id is None
    assert ledger_net(order_id) == Decimal("25.00")


def test_a_rejected_proposal_leaves_the_saga_needing_attention(doubly_charged, caplog):
    order_id, charge_id = doubly_charged
    action = staff("olga", OPERATE).post(url(order_id, "corrections"), refund_of(charge_id),
                                         format="json").json()
    with caplog.at_level(logging.WARNING, logger="saga.alerts"):
        response = staff("victor", DECIDE).post(
            url(order_id, f"corrections/{action['id']}/reject"), {"note": "ask finance"},
            format="json")
    assert response.status_code == 200, response.content
    assert saga(order_id).state == "needs_attention"
    [line] = [r.getMessage() for r in caplog.records if r.name == "saga.alerts"]
    assert line.startswith(f"saga {order_id} needs attention: victor rejected")


def test_the_api_schema_documents_the_operator_actions(confirmed):
    schema = APIClient().get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for what in ("acknowledge", "retry", "compensate", "corrections"):
        assert f"/api/sagas/{{order_id}}/{what}/" in paths
    approve = paths["/api/sagas/{order_id}/corrections/{action_id}/approve/"]["post"]
    assert {"200", "403", "409"} <= set(approve["responses"])
    assert "/api/sagas/{order_id}/corrections/{action_id}/reject/" in paths


def test_a_stuck_saga_writes_one_warning_with_its_reason(catalogue, customer, settings, caplog):
    settings.SAGA_BUDGET_SECONDS = 60
    order_id = place(customer)
    Delivery.objects.filter(event__correlation_id=order_id).update(next_attempt_at=later(60))
    with caplog.at_level(logging.WARNING, logger="saga.alerts"):
        for minutes in (2, 3, 4):
            reconciler.run_pass(now=later(minutes))
    warnings = [r for r in caplog.records if r.name == "saga.alerts"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].getMessage().startswith(
        f"saga {order_id} is stuck: not converged 2 min after it started")


def test_a_saga_turning_needs_attention_writes_one_warning(confirmed, caplog):
    order_id = confirmed
    simulated_gateway().charge("stray-charge", Decimal("5.00"), "tok_ok", order_id=order_id)
    reconciler.verify_converged()
    reconciler.run_pass(now=later(1))  # gap 1: the refund is on its way
    # and now the carrier cancels the confirmed order's shipment as well
    [booking] = bookings_at_carrier([order_id])[order_id]
    simulated_carrier().cancel(booking.idempotency_key)
    with caplog.at_level(logging.WARNING, logger="saga.alerts"):
        reconciler.run_pass(now=later(2))
        reconciler.run_pass(now=later(30))
    warnings = [r.getMessage() for r in caplog.records if r.name == "saga.alerts"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"saga {order_id} needs attention: the gap grew from 1 to 2")


# --- the same from the admin, signed in as a staff user ------------------------------------

def signed_in(name: str, *codenames: str) -> Client:
    user = User.objects.create_user(name, f"{name}@example.com", "pw-" + name, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        codename__in=["view_ordersaga", "view_reconciliationaction", *codenames]))
    client = Client()
    assert client.login(username=name, password="pw-" + name)
    return client


def admin_act(order_id: str, what: str) -> str:
    return f"/admin/saga/ordersaga/{order_id}/act/{what}/"


def admin_decide(order_id: str, action_id: int, what: str) -> str:
    return f"/admin/saga/ordersaga/{order_id}/correction/{action_id}/{what}/"


def test_an_operator_acknowledges_a_saga_from_the_admin(stuck):
    olga = signed_in("olga", OPERATE)
    page = olga.get(f"/admin/saga/ordersaga/{stuck}/change/").content.decode()
    assert "Acknowledge" in page and "Propose a correction" in page
    without_note = olga.post(admin_act(stuck, "acknowledge"), {"note": ""}, follow=True)
    assert "Acknowledging takes a note." in without_note.content.decode()
    assert not ReconciliationAction.objects.filter(kind="acknowledged").exists()

    done = olga.post(admin_act(stuck, "acknowledge"), {"note": "looking into it"}, follow=True)
    assert "acknowledged: looking into it" in done.content.decode()
    ack = ReconciliationAction.objects.get(kind="acknowledged")
    assert (ack.actor, ack.reason) == ("operator:olga", "olga acknowledged: looking into it")
    assert LogEntry.objects.get(object_id=stuck).change_message == "acknowledged: looking into it"
    watcher = signed_in("watcher")
    assert watcher.post(admin_act(stuck, "acknowledge"), {"note": "x"}).status_code == 403


def test_a_correction_proposed_in_the_admin_is_approved_there_by_another(doubly_charged):
    order_id, charge_id = doubly_charged
    olga, victor = signed_in("olga", OPERATE, DECIDE), signed_in("victor", DECIDE)
    olga.post(admin_act(order_id, "propose"), {"kind": "refund_charge", "charge_id": charge_id,
                                               "amount": "25.00", "note": "charged twice"})
    proposal = ReconciliationAction.objects.get(kind="refund_charge")
    assert (proposal.status, proposal.actor) == ("proposed", "operator:olga")

    own = olga.post(admin_decide(order_id, proposal.id, "approve"), follow=True)
    assert "needs another operator&#x27;s approval" in own.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == "proposed"

    victor.post(admin_decide(order_id, proposal.id, "approve"), {"note": "ok"})
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by, proposal.decision_note) == (
        "applied", "victor", "ok")
    drain()
    assert ledger_net(order_id) == Decimal("25.00")


def test_a_stale_proposal_is_refused_in_the_admin_with_why(doubly_charged):
    order_id, charge_id = doubly_charged
    signed_in("olga", OPERATE).post(admin_act(order_id, "propose"), {
        "kind": "refund_charge", "charge_id": charge_id, "amount": "25.00", "note": "twice"})
    proposal = ReconciliationAction.objects.get(kind="refund_charge")
    simulated_gateway().refund("refunded-by-hand", charge_id, Decimal("25.00"))
    answer = signed_in("victor", DECIDE).post(admin_decide(order_id, proposal.id, "approve"),
                                              follow=True).content.decode()
    assert "was not sent: the saga changed since the proposal" in answer
    proposal.refresh_from_db()
    assert proposal.status == "stale" and proposal.command_event_id is None
