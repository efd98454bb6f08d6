"""Placing an order through the API: 202, Location, prices from the catalogue of that moment."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings

from common.sealing import unseal
from inventory.events import ProductAdded
from orders.models import OrderView
from outbox import store
from outbox.models import Event

from .conftest import order_body, written

# The answer's saga block reads the providers' books too.
pytestmark = pytest.mark.django_db(databases=["default", "providers"])


def test_placing_an_order_answers_202_with_the_priced_order_and_its_location(alice, catalogue):
    response = alice.post("/api/orders/", order_body(("SKU-1", 2), ("SKU-3", 3)), format="json")

    assert response.status_code == 202
    order = response.json()
    assert order["status"] == "pending"
    assert order["lines"] == [
        {"sku": "SKU-1", "quantity": 2, "unit_price": "12.50", "line_total": "25.00"},
        {"sku": "SKU-3", "quantity": 3, "unit_price": "0.35", "line_total": "1.05"},
    ]
    assert order["total"] == "26.05"
    assert order["reason"] == ""
    # The saga has only just begun: it is shown at the Location, not in the 202.
    assert "saga" not in order
    assert response["Location"] == f"http://testserver/api/orders/{order['id']}/"


def test_the_customer_reads_their_own_write_at_once(alice, catalogue):
    order_id = alice.post("/api/orders/", order_body(), format="json").json()["id"]

    response = alice.get(f"/api/orders/{order_id}/")

    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert response.json()["total"] == "25.00"


def test_placement_appends_order_placed_correlated_by_the_order_id(alice, catalogue):
    order_id = alice.post("/api/orders/", order_body(), format="json",
                          headers={"X-Request-ID": "req-1"}).json()["id"]

    [placed] = Event.objects.filter(stream_type="orders.Order", stream_id=order_id)
    assert placed.event_type == "orders.OrderPlaced"
    assert placed.correlation_id == order_id
    assert placed.metadata["actor"] == "user:alice"
    assert unseal(placed.payload["payment_token"]) == "tok_ok"
    assert placed.payload["total"] == "25.00"
    assert placed.payload["shipping_address"]["country"] == "DE"


def test_the_payment_token_travels_with_the_order_sealed(alice, catalogue):
    body = order_body(payment={"token": "tok_decline"})
    order_id = alice.post("/api/orders/", body, format="json").json()["id"]

    placed = Event.objects.get(stream_id=order_id, event_type="orders.OrderPlaced")
    assert "tok_decline" not in placed.payload["payment_token"]
    assert unseal(placed.payload["payment_token"]) == "tok_decline"


def test_lines_of_the_same_sku_are_merged(alice, catalogue):
    body = order_body(("SKU-1", 2), ("SKU-2", 1), ("SKU-1", 5))

    order = alice.post("/api/orders/", body, format="json").json()

    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [
        ("SKU-1", 7), ("SKU-2", 1)]
    assert order["total"] == "177.49"


def test_the_order_keeps_the_price_of_the_moment_it_was_placed(alice, catalogue):
    order_id = alice.post("/api/orders/", order_body(("SKU-1", 1)), format="json").json()["id"]
    with transaction.atomic():
        store.append("inventory.Product", "SKU-1", 1,
                     [ProductAdded(sku="SKU-1", name="Beans", price=Decimal("99.00"))])

    assert alice.get(f"/api/orders/{order_id}/").json()["total"] == "12.50"
    later = alice.post("/api/orders/", order_body(("SKU-1", 1)), format="json").json()
    assert later["total"] == "99.00"


def test_the_country_code_is_normalised_to_upper_case(alice, catalogue):
    body = order_body(shipping_address={"name": "A", "line1": "x", "city": "Paris",
                                        "postal_code": "75001", "country": "fr"})

    order = alice.post("/api/orders/", body, format="json").json()

    assert order["shipping_address"]["country"] == "FR"
    assert order["shipping_address"]["line2"] == ""


def test_placement_is_throttled_per_user(client_for, catalogue):
    rates = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"place_order": "2/minute"}}
    alice, bob = client_for("alice"), client_for("bob")
    with override_settings(REST_FRAMEWORK=rates):
        assert alice.post("/api/orders/", order_body(), format="json").status_code == 202
        assert alice.post("/api/orders/", order_body(), format="json").status_code == 202
        before = written()
        refused = alice.post("/api/orders/", order_body(), format="json")
        assert refused.status_code == 429
        assert "throttled" in refused.json()["detail"]
        assert written() == before
        assert alice.get("/api/orders/").status_code == 200  # reading is not throttled
        assert bob.post("/api/orders/", order_body(), format="json").status_code == 202
    assert OrderView.objects.count() == 3


@pytest.mark.parametrize("provider, expected", [
    (None, None),
    (lambda view: {"state": "running", "gap": 3, "order": view.id}, "running"),
])
def test_the_saga_block_comes_from_the_installed_provider(alice, catalogue, monkeypatch,
                                                         provider, expected):
    monkeypatch.setattr("orders.serializers._saga_block", provider)
    order_id = alice.post("/api/orders/", order_body(), format="json").json()["id"]

    saga = alice.get(f"/api/orders/{order_id}/").json()["saga"]

    if expected is None:
        assert saga is None
    else:
        assert saga == {"state": "running", "gap": 3, "order": order_id}
