"""The order saga end to end: REST API in-process, a real Celery worker, real PostgreSQL/Redis."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.test import APIClient

from inventory import services as inventory
from inventory.models import Stock
from outbox.models import Delivery, Event
from payments.models import GatewayLedgerEntry
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


def mails_to(mail_dir: Path, address: str) -> int:
    return sum(address in p.read_text(errors="replace") for p in mail_dir.glob("*"))


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
    wait_for(lambda: mails_to(mail_dir, "alice@example.com") >= 1, message="the e-mail")
    assert mails_to(mail_dir, "alice@example.com") == 1
    assert Event.objects.filter(correlation_id=order_id,
                                event_type="orders.ConfirmationEmailSent").count() == 1
