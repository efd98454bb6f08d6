"""The order saga end to end: REST API in-process, a real Celery worker, real PostgreSQL/Redis."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from inventory import services as inventory
from inventory.models import Stock
from outbox.models import Delivery, Event
from payments.models import GatewayLedgerEntry
from shipping.models import CarrierLedgerEntry
from tests.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "providers"]),
              pytest.mark.e2e]

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "London",
           "postal_code": "N1 9GU", "country": "GB"}


@pytest.fixture
def catalogue() -> None:
    inventory.add_product("SKU-1", "Widget", Decimal("12.50"))
    inventory.add_product("SKU-2", "Gadget", Decimal("7.25"))
    inventory.add_product("SKU-7", "Rare thing", Decimal("99.00"))
    inventory.receive_goods("SKU-1", 100)
    inventory.receive_goods("SKU-2", 100)
    inventory.receive_goods("SKU-7", 1)


def client_for(username: str, staff: bool = False) -> APIClient:
    user = User.objects.create_user(username, f"{username}@example.com", "pw", is_staff=staff)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def alice() -> APIClient:
    return client_for("alice")


@pytest.fixture
def bob() -> APIClient:
    return client_for("bob")


def place(client: APIClient, lines: list[tuple[str, int]], token: str = "tok_ok",
          address: dict | None = None) -> str:
    response = client.post(
        "/api/orders/",
        {"lines": [{"sku": s, "quantity": q} for s, q in lines],
         "shipping_address": address or ADDRESS, "payment": {"token": token}},
        format="json",
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def settled(client: APIClient, order_id: str, timeout: float = 30) -> dict:
    def terminal() -> dict | None:
        body = client.get(f"/api/orders/{order_id}/").json()
        return body if body["status"] != "pending" else None

    return wait_for(terminal, timeout=timeout, interval=0.1, message=f"order {order_id} to settle")


def quiet() -> None:
    """Wait until no delivery is pending (the compensations after a cancel included)."""
    wait_for(lambda: not Delivery.objects.filter(status="pending").exists(), timeout=30,
             message="every delivery to be done")


def stock(sku: str) -> tuple[int, int]:
    row = Stock.objects.get(sku=sku)
    return row.on_hand, row.held


def net_charged(order_id: str) -> Decimal:
    total = Decimal("0")
    for entry in GatewayLedgerEntry.objects.using("providers").filter(order_id=order_id):
        total += entry.amount if entry.kind == "charge" else -entry.amount
    return total


def mails_about(mail_dir: Path, order_id: str) -> int:
    """Confirmation e-mails the workers wrote (file backend) that name the order."""
    return sum(p.read_text(errors="replace").count(f"Subject: Your order {order_id} ")
               for p in mail_dir.glob("*"))


def test_happy_path_confirms_commits_stock_charges_once_and_mails_once(
        catalogue, alice, worker, mail_dir):
    order_id = place(alice, [("SKU-1", 2), ("SKU-2", 1)])
    body = settled(alice, order_id)
    assert body["status"] == "confirmed"
    assert body["total"] == "32.25"
    quiet()
    assert stock("SKU-1") == (98, 0)
    assert stock("SKU-2") == (99, 0)
    assert net_charged(order_id) == Decimal("32.25")
    wait_for(lambda: mails_about(mail_dir, order_id) >= 1, message="the e-mail")
    assert mails_about(mail_dir, order_id) == 1
    assert Event.objects.filter(correlation_id=order_id,
                                event_type="orders.ConfirmationEmailSent").count() == 1


def test_out_of_stock_cancels_with_a_readable_reason_and_holds_nothing(catalogue, alice, worker):
    order_id = place(alice, [("SKU-7", 2)])
    body = settled(alice, order_id)
    assert body["status"] == "cancelled"
    assert body["reason"] == "out of stock: SKU-7"
    quiet()
    assert stock("SKU-7") == (1, 0)
    assert net_charged(order_id) == 0


def test_a_multi_line_order_holds_every_line_or_none(catalogue, alice, worker):
    order_id = place(alice, [("SKU-1", 3), ("SKU-7", 5)])
    assert settled(alice, order_id)["status"] == "cancelled"
    quiet()
    assert stock("SKU-1") == (100, 0), "the first line must not stay held"
    assert stock("SKU-7") == (1, 0)


def test_payment_declined_releases_the_stock(catalogue, alice, worker):
    order_id = place(alice, [("SKU-1", 4)], token="tok_decline")
    body = settled(alice, order_id)
    assert (body["status"], body["reason"]) == ("cancelled", "payment declined")
    quiet()
    assert stock("SKU-1") == (100, 0)
    assert net_charged(order_id) == 0


def test_a_lost_gateway_response_is_found_by_key_and_never_charged_twice(catalogue, alice, worker):
    order_id = place(alice, [("SKU-2", 2)], token="tok_lost_response")
    assert settled(alice, order_id)["status"] == "confirmed"
    quiet()
    charges = GatewayLedgerEntry.objects.using("providers").filter(order_id=order_id, kind="charge")
    assert charges.count() == 1
    assert net_charged(order_id) == Decimal("14.50")


def test_a_flaky_gateway_succeeds_after_retries(catalogue, alice, worker):
    order_id = place(alice, [("SKU-2", 1)], token="tok_flaky")
    assert settled(alice, order_id)["status"] == "confirmed"
    charge = Delivery.objects.get(event__correlation_id=order_id, handler="payments.charge_payment",
                                  event__event_type="inventory.StockReserved")
    assert charge.attempts == 3, "two transient failures, then the charge"
    assert net_charged(order_id) == Decimal("7.25")


def test_a_carrier_refusal_refunds_then_releases_then_cancels(catalogue, alice, worker):
    order_id = place(alice, [("SKU-1", 1)], address={**ADDRESS, "postal_code": "00000"})
    body = settled(alice, order_id)
    assert (body["status"], body["reason"]) == ("cancelled", "carrier refused the address")
    quiet()
    assert stock("SKU-1") == (100, 0)
    assert net_charged(order_id) == 0
    types = list(Event.objects.filter(correlation_id=order_id).values_list("event_type", flat=True))
    refund, release, cancel = (types.index("payments.PaymentRefunded"),
                               types.index("inventory.StockReleased"),
                               types.index("orders.OrderCancelled"))
    assert refund < release < cancel, "compensations run in reverse, cancellation last"


def test_customer_cancel_before_the_pivot_compensates_and_leaves_no_live_shipment(
        catalogue, alice, start_worker, settings):
    # Shipping's queue has no worker yet, so the saga stops after the charge, before the pivot.
    settings.OUTBOX_QUEUE_MODE = "per_context"
    start_worker(queues="orders,inventory,payments", OUTBOX_QUEUE_MODE="per_context")
    order_id = place(alice, [("SKU-1", 2)])
    wait_for(lambda: net_charged(order_id) == Decimal("25.00"), message="the charge")
    response = alice.post(f"/api/orders/{order_id}/cancel/")
    assert response.status_code == 202, response.content
    start_worker(queues="shipping", OUTBOX_QUEUE_MODE="per_context")
    body = settled(alice, order_id)
    assert (body["status"], body["reason"]) == ("cancelled", "cancelled by customer")
    quiet()
    assert stock("SKU-1") == (100, 0)
    assert net_charged(order_id) == 0
    # Shipping may see the capture before the cancel (events carry no global order): then it
    # books and cancels again. Either way the carrier holds no live shipment for the order.
    assert not CarrierLedgerEntry.objects.using("providers").filter(
        order_id=order_id, status="booked").exists()
    assert alice.post(f"/api/orders/{order_id}/cancel/").status_code == 200, "cancel twice: no-op"


def test_cancel_after_the_pivot_is_refused(catalogue, alice, worker):
    order_id = place(alice, [("SKU-1", 1)])
    assert settled(alice, order_id)["status"] == "confirmed"
    response = alice.post(f"/api/orders/{order_id}/cancel/")
    assert response.status_code == 409
    assert alice.get(f"/api/orders/{order_id}/").json()["status"] == "confirmed"


def test_the_last_unit_raced_by_two_customers_goes_to_exactly_one(catalogue, alice, bob, worker):
    first = place(alice, [("SKU-7", 1)])
    second = place(bob, [("SKU-7", 1)])
    outcomes = sorted([settled(alice, first)["status"], settled(bob, second)["status"]])
    assert outcomes == ["cancelled", "confirmed"]
    quiet()
    assert stock("SKU-7") == (0, 0)


def test_every_event_delivered_twice_changes_nothing(catalogue, alice, start_worker, settings,
                                                     mail_dir):
    settings.OUTBOX_CHAOS = "duplicate=1"
    start_worker(concurrency=3, OUTBOX_CHAOS="duplicate=1", OUTBOX_INLINE_HOPS="0")
    ok = place(alice, [("SKU-1", 1)])
    refused = place(alice, [("SKU-2", 1)], address={**ADDRESS, "postal_code": "00000"})
    assert settled(alice, ok)["status"] == "confirmed"
    assert settled(alice, refused)["status"] == "cancelled"
    quiet()
    assert stock("SKU-1") == (99, 0)
    assert stock("SKU-2") == (100, 0)
    assert net_charged(ok) == Decimal("12.50")
    assert net_charged(refused) == 0
    assert GatewayLedgerEntry.objects.using("providers").filter(order_id=ok).count() == 1
    assert Event.objects.filter(correlation_id=ok,
                                event_type="orders.ConfirmationEmailSent").count() == 1
    assert mails_about(mail_dir, ok) == 1


def test_events_delivered_out_of_order_still_end_consistent(catalogue, alice, bob, start_worker,
                                                            settings):
    # Random delays on every hop and four concurrent processes shuffle the deliveries.
    settings.OUTBOX_CHAOS = "delay_ms=300"
    start_worker(concurrency=4, OUTBOX_CHAOS="delay_ms=300", OUTBOX_INLINE_HOPS="0")
    refused = {**ADDRESS, "postal_code": "00000"}
    orders = [place(alice, [("SKU-1", 1)]), place(bob, [("SKU-2", 2)], token="tok_decline"),
              place(alice, [("SKU-1", 1), ("SKU-2", 1)], address=refused),
              place(bob, [("SKU-7", 1)], token="tok_flaky")]
    owners = [alice, bob, alice, bob]
    statuses = [settled(owner, o)["status"] for owner, o in zip(owners, orders, strict=True)]
    assert statuses == ["confirmed", "cancelled", "cancelled", "confirmed"]
    quiet()
    assert stock("SKU-1") == (99, 0)
    assert stock("SKU-2") == (100, 0)
    assert stock("SKU-7") == (0, 0)
    assert [net_charged(o) for o in orders] == [Decimal("12.50"), 0, 0, Decimal("99.00")]
