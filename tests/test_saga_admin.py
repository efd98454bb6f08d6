"""The saga admin: operators see every saga and its convergence; acting on one takes a
permission of its own, and every act is logged with the operator's name."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.test import Client

from outbox.models import Delivery, Event
from payments.models import GatewayLedgerEntry
from saga import reconciler
from saga.convergence import take_sample
from saga.models import ReconciliationAction
from tests.saga_world import (
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
)
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])
VIEW = ["view_ordersaga", "view_reconciliationaction"]
ACT = ["reconcile_saga", "replay_saga_deliveries", "cancel_saga_order", "decide_correction"]


def operator(name: str, codenames: list[str]) -> Client:
    user = User.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def orders(catalogue: None, customer: User) -> dict[str, str]:
    placed = {"confirmed": place(customer)}
    drain()
    return placed


def page(order_id: str) -> str:
    return f"/admin/saga/ordersaga/{order_id}/change/"


def act(order_id: str, what: str) -> str:
    return f"/admin/saga/ordersaga/{order_id}/act/{what}/"


def logged(order_id: str) -> list[tuple[str, str]]:
    return [(e.user.username, e.change_message) for e in
            LogEntry.objects.filter(object_id=order_id).order_by("id")]


def test_a_watcher_sees_the_sagas_but_may_not_act(orders, customer):
    watcher = operator("watcher", VIEW)
    listing = watcher.get("/admin/saga/ordersaga/?gap=open")
    assert listing.status_code == 200
    by_name = watcher.get(f"/admin/saga/ordersaga/?q={customer.username}")
    assert orders["confirmed"] in by_name.content.decode()
    detail = watcher.get(page(orders["confirmed"])).content.decode()
    for heading in ("Participants: desired and observed", "Timeline", "Deliveries",
                    "Reconciliation actions", "orders.OrderConfirmed"):
        assert heading in detail
    assert "Reconcile now" not in detail
    for what in ("reconcile", "replay", "cancel"):
        assert watcher.post(act(orders["confirmed"], what)).status_code == 403
    assert logged(orders["confirmed"]) == []


def test_acting_takes_the_permission_and_is_logged_with_the_operator(orders):
    olga = operator("olga", VIEW + ACT)
    confirmed = orders["confirmed"]
    assert "Reconcile now" in olga.get(page(confirmed)).content.decode()
    assert olga.post(act(confirmed, "reconcile")).status_code == 302

    Delivery.objects.filter(event__correlation_id=confirmed,
                            handler="orders.send_confirmation_email").update(status="dead")
    assert olga.post(act(confirmed, "replay")).status_code == 302
    assert not Delivery.objects.filter(event__correlation_id=confirmed, status="dead").exists()
    replay = ReconciliationAction.objects.get(saga_id=confirmed, kind="replay_dead_deliveries")
    assert replay.actor == "operator:olga"

    assert logged(confirmed) == [("olga", "reconciled now: 0 action(s)"),
                                 ("olga", "replayed 1 dead deliveries")]


def test_an_order_is_cancelled_from_the_admin_only_before_the_pivot(catalogue, customer):
    olga = operator("olga", VIEW + ACT)
    pending = place(customer)  # not delivered yet: still before the pivot
    olga.post(act(pending, "cancel"), {"reason": "customer phoned"})
    command = Event.objects.get(correlation_id=pending,
                                event_type="orders.OrderCancellationRequested")
    assert command.payload["requested_by"] == "operator:olga"
    drain()
    assert Event.objects.filter(correlation_id=pending, event_type="orders.OrderCancelled",
                                payload__reason="customer phoned").exists()

    confirmed = place(customer)
    drain()
    response = olga.post(act(confirmed, "cancel"), follow=True)
    assert "only a pending order can be cancelled" in response.content.decode()
    assert not Event.objects.filter(correlation_id=confirmed,
                                    event_type="orders.OrderCancellationRequested").exists()


def test_a_proposed_correction_is_approved_by_a_permitted_operator(orders, settings):
    settings.RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS = True
    confirmed = orders["confirmed"]
    GatewayLedgerEntry.objects.using("providers").create(
        entry_id="ch_dup", kind="charge", idempotency_key="dup", order_id=confirmed,
        amount=Decimal("25.00"))
    reconciler.verify_converged()
    reconciler.run_pass()
    proposal = ReconciliationAction.objects.get(kind="refund_extra_charge")
    url = f"/admin/saga/ordersaga/{confirmed}/correction/{proposal.id}/approve/"

    assert operator("watcher", VIEW).post(url).status_code == 403
    assert operator("olga", VIEW + ACT).post(url).status_code == 302
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == ("applied", "olga")
    assert ("olga", f"approved correction #{proposal.id} (refund_extra_charge)") in logged(
        confirmed)


def test_the_convergence_page_draws_states_and_gap_over_time(orders):
    take_sample()
    take_sample()
    body = operator("watcher", VIEW).get("/admin/saga/ordersaga/convergence/").content.decode()
    assert "<svg" in body and "total gap" in body and "needs attention" in body
    assert "oldest in-flight saga" in body and "outbox backlog" in body
