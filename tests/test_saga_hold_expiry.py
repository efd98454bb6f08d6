"""Holds expire (DESIGN.md, "Holds do expire"): a real worker and beat, times compressed by
settings. The payment step is stalled deterministically: the payments queue has no worker
until the test starts one (a payments service that is down), so the hold outlives it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from inventory import services as inventory
from inventory.models import Reservation
from outbox.models import Event
from saga import reconciler
from saga.models import ReconciliationAction
from tests.conftest import Proc, wait_for
from tests.test_saga_scenarios import client_for, net_charged, place, quiet, settled, stock

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "providers"]),
              pytest.mark.e2e]

# Holds expired within a second of their time; the saga looks again within seconds. How long
# a hold lasts is the setting of the process that takes it (the inventory worker): a worker with
# two-second holds lets one expire; one with the default holds keeps the next one for good.
FAST = {"OUTBOX_QUEUE_MODE": "per_context", "INVENTORY_EXPIRY_INTERVAL_SECONDS": "1",
        "SAGA_STEP_DEADLINE_SECONDS": "3", "SAGA_BACKOFF_BASE_SECONDS": "1"}
SHORT_HOLDS = {**FAST, "INVENTORY_HOLD_SECONDS": "2"}
# Beat's jobs run on the default queue; payments and inventory get workers of their own.
REST = ",".join([django_settings.CELERY_TASK_DEFAULT_QUEUE, "orders", "shipping"])


@pytest.fixture
def catalogue() -> None:
    inventory.add_product("SKU-1", "Widget", Decimal("12.50"))
    inventory.add_product("SKU-7", "Rare thing", Decimal("99.00"))
    inventory.receive_goods("SKU-1", 100)
    inventory.receive_goods("SKU-7", 1)


@pytest.fixture
def alice() -> APIClient:
    return client_for("alice")


@pytest.fixture
def bob() -> APIClient:
    return client_for("bob")


@pytest.fixture
def fast(settings) -> None:
    settings.OUTBOX_QUEUE_MODE = "per_context"
    settings.SAGA_STEP_DEADLINE_SECONDS = 3


def reservation_events(order_id: str) -> list[str]:
    return list(Event.objects.filter(stream_type="inventory.Reservation", stream_id=order_id)
                .order_by("version").values_list("event_type", flat=True))


def expired(order_id: str) -> bool:
    return "inventory.ReservationExpired" in reservation_events(order_id)


def order_status(client, order_id: str) -> str:
    return client.get(f"/api/orders/{order_id}/").json()["status"]


def test_a_hold_expiring_under_a_pending_order_is_requested_again_and_the_order_confirms(
        fast, catalogue, alice, start_worker: Callable[..., Proc], start_beat):
    start_worker(queues=REST, **FAST)
    short_holds = start_worker(queues="inventory", **SHORT_HOLDS)
    start_beat(**FAST, SAGA_RECONCILE_INTERVAL_SECONDS="1")
    order_id = place(alice, [("SKU-1", 3)])  # payments has no worker: the charge waits

    wait_for(lambda: expired(order_id), timeout=60, message="the hold to expire")
    assert order_status(alice, order_id) == "pending", "an expiry is no failure of the order"
    short_holds.stop()
    start_worker(queues="inventory", **FAST)  # the hold asked for again now lasts
    wait_for(lambda: Event.objects.filter(
        correlation_id=order_id, event_type="inventory.StockReservationRequested").exists(),
        timeout=60, message="the reconciler to re-request the hold")

    start_worker(queues="payments", **FAST)  # the payment step resumes
    body = settled(alice, order_id, timeout=90)
    assert (body["status"], body["reason"]) == ("confirmed", ""), body
    quiet()
    events = reservation_events(order_id)
    first_expiry = events.index("inventory.ReservationExpired")
    assert "inventory.StockReserved" in events[first_expiry:], events
    assert events[-1] == "inventory.StockCommitted", events
    assert stock("SKU-1") == (97, 0)
    assert net_charged(order_id) == Decimal("37.50")


def test_a_hold_released_because_a_step_failed_cancels_the_order(
        fast, catalogue, alice, start_worker, start_beat):
    start_worker(queues=f"{REST},inventory,payments", **SHORT_HOLDS)
    start_beat(**FAST, SAGA_RECONCILE_INTERVAL_SECONDS="1")
    order_id = place(alice, [("SKU-1", 4)], token="tok_decline")

    body = settled(alice, order_id, timeout=60)
    assert (body["status"], body["reason"]) == ("cancelled", "payment declined")
    quiet()
    assert reservation_events(order_id) == ["inventory.StockReserved", "inventory.StockReleased"]
    assert stock("SKU-1") == (100, 0)
    saga_block = alice.get(f"/api/orders/{order_id}/").json()["saga"]
    assert (saga_block["desired_outcome"], saga_block["gap"]) == ("cancelled", 0)
    # The choreography cancelled it on the release; the reconciler had nothing to correct.
    assert not ReconciliationAction.objects.filter(saga_id=order_id).exists()


def test_an_expired_hold_frees_its_stock_for_another_order_and_the_late_one_is_cancelled(
        fast, catalogue, alice, bob, start_worker, start_beat):
    # The reconciler is left to the test (it would race bob for the unit): an hour apart.
    start_worker(queues=REST, **FAST)
    short_holds = start_worker(queues="inventory", **SHORT_HOLDS)
    start_beat(**FAST, SAGA_RECONCILE_INTERVAL_SECONDS="3600")
    first = place(alice, [("SKU-7", 1)])  # the last unit; payments has no worker yet
    wait_for(lambda: expired(first), timeout=60, message="the hold to expire")
    assert stock("SKU-7") == (1, 0), "the expired hold's unit is back in stock"
    short_holds.stop()
    start_worker(queues="inventory", **FAST)

    second = place(bob, [("SKU-7", 1)])
    wait_for(lambda: "inventory.StockReserved" in reservation_events(second), timeout=30,
             message="the second order to take the unit")
    assert order_status(alice, first) == "pending"

    reconciler.reconcile_order(first, actor="test")  # re-requests alice's hold: the unit is gone
    body = settled(alice, first, timeout=60)
    assert body["status"] == "cancelled"
    assert body["reason"] == "the hold expired and could not be renewed: out of stock: SKU-7"

    start_worker(queues="payments", **FAST)
    assert settled(bob, second, timeout=60)["status"] == "confirmed"
    quiet()
    assert net_charged(first) == 0
    assert stock("SKU-7") == (0, 0)
    assert Reservation.objects.get(order_id=first).status == "failed"
