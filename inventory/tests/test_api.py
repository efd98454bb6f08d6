"""The catalogue API: who may do what, what it answers, and every bad input refused with a
field-level 4xx that writes nothing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from config.api_errors import INVALID_DETAIL
from inventory import services
from inventory.models import Product
from inventory.tests.facts import stock_of
from outbox.models import Event
from tests.support.people import CATALOGUE, give_jobs, token_for

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/products/"
NEW = {"sku": "SKU-9", "name": "Gizmo", "price": "12.50"}


def client_with_token(username: str, *, staff: bool = False) -> APIClient:
    # No password: hashing one per test costs more than the test itself.
    user = User.objects.create_user(username, f"{username}@example.com", None, is_staff=staff)
    if staff:
        give_jobs(user, CATALOGUE)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def customer() -> APIClient:
    return client_with_token("carol")


@pytest.fixture
def staff() -> APIClient:
    return client_with_token("sam", staff=True)


@pytest.fixture
def catalogue() -> None:
    services.add_product("SKU-1", "Widget", Decimal("12.5"))
    services.add_product("SKU-2", "Sold out", Decimal("7.25"))
    services.receive_goods("SKU-1", 10)
    services.reserve_stock("o1", [("SKU-1", 3)])


def receive(client: APIClient, sku: str, body: object) -> object:
    return client.post(f"{PRODUCTS}{sku}/receive/", body, format="json")


# --- who may do what ------------------------------------------------------------------------


def test_anonymous_callers_are_asked_to_authenticate(anonymous, catalogue):
    assert anonymous.get(PRODUCTS).status_code == 401
    assert anonymous.post(PRODUCTS, NEW, format="json").status_code == 401
    assert receive(anonymous, "SKU-1", {"quantity": 1}).status_code == 401
    assert stock_of("SKU-1") == (10, 3)


def test_a_customer_reads_the_catalogue_but_cannot_change_it(customer, catalogue):
    assert customer.get(PRODUCTS).status_code == 200
    assert customer.post(PRODUCTS, NEW, format="json").status_code == 403
    assert receive(customer, "SKU-1", {"quantity": 1}).status_code == 403
    assert not Product.objects.filter(sku="SKU-9").exists()
    assert stock_of("SKU-1") == (10, 3)


def test_a_bad_token_is_refused(catalogue):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(PRODUCTS).status_code == 401


# --- the catalogue ----------------------------------------------------------------------------


def test_the_catalogue_lists_what_is_available_with_prices_as_strings(customer, catalogue):
    body = customer.get(PRODUCTS).json()
    assert body["count"] == 2 and body["next"] is None
    assert body["results"] == [
        {"sku": "SKU-1", "name": "Widget", "price": "12.50", "available": 7},
        {"sku": "SKU-2", "name": "Sold out", "price": "7.25", "available": 0},
    ]


def test_the_catalogue_is_paginated(customer):
    for n in range(55):
        services.add_product(f"SKU-{n:02d}", f"Thing {n}", Decimal("1.00"))
    first = customer.get(PRODUCTS).json()
    assert first["count"] == 55 and len(first["results"]) == 50 and first["next"]
    second = customer.get(first["next"]).json()
    assert [p["sku"] for p in second["results"]] == [f"SKU-{n}" for n in range(50, 55)]


# --- staff writes ---------------------------------------------------------------------------


def test_staff_add_a_product_which_is_listed_with_nothing_available(staff, customer):
    response = staff.post(PRODUCTS, NEW, format="json")
    assert response.status_code == 201
    assert response.json() == {"sku": "SKU-9", "name": "Gizmo", "price": "12.50", "available": 0}
    assert customer.get(PRODUCTS).json()["results"] == [response.json()]
    added = Event.objects.get(event_type="inventory.ProductAdded")
    assert added.metadata["actor"] == "staff:sam"


def test_a_duplicate_sku_is_a_conflict_naming_the_field(staff, catalogue):
    response = staff.post(PRODUCTS, {**NEW, "sku": "SKU-1"}, format="json")
    assert response.status_code == 409
    assert "already exists" in response.json()["sku"][0]
    assert Product.objects.get(sku="SKU-1").name == "Widget"


def test_staff_receive_goods_which_become_available(staff, customer, catalogue):
    response = receive(staff, "SKU-2", {"quantity": 4})
    assert response.status_code == 200
    assert response.json() == {"sku": "SKU-2", "on_hand": 4, "held": 0, "available": 4}
    listed = {p["sku"]: p["available"] for p in customer.get(PRODUCTS).json()["results"]}
    assert listed == {"SKU-1": 7, "SKU-2": 4}


def test_goods_for_an_unknown_sku_are_not_found(staff, catalogue):
    response = receive(staff, "NOPE", {"quantity": 4})
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "unknown product: NOPE"}
    assert not Event.objects.filter(stream_id="NOPE").exists()


# --- every bad input: a 4xx with field messages, nothing written ----------------------------


@pytest.mark.parametrize("body,field", [
    ({"name": "Gizmo", "price": "1.00"}, "sku"),
    ({**NEW, "sku": ""}, "sku"),
    ({**NEW, "sku": "has space"}, "sku"),
    ({**NEW, "sku": "a/b"}, "sku"),
    ({**NEW, "sku": "x" * 65}, "sku"),
    ({**NEW, "sku": 42}, "sku"),
    ({**NEW, "name": ""}, "name"),
    ({**NEW, "name": "   "}, "name"),
    ({**NEW, "name": 123}, "name"),
    ({**NEW, "name": "n" * 201}, "name"),
    ({"sku": "SKU-9", "name": "Gizmo"}, "price"),
    ({**NEW, "price": "0"}, "price"),
    ({**NEW, "price": "-1.00"}, "price"),
    ({**NEW, "price": "1.005"}, "price"),
    ({**NEW, "price": "abc"}, "price"),
    ({**NEW, "price": "NaN"}, "price"),
    ({**NEW, "price": "Infinity"}, "price"),
    ({**NEW, "price": "100000000.00"}, "price"),
    ({**NEW, "price": True}, "price"),
    ({**NEW, "price": None}, "price"),
    ({**NEW, "price": ["1.00"]}, "price"),
])
def test_a_bad_new_product_is_refused_with_a_field_message(staff, body, field):
    response = staff.post(PRODUCTS, body, format="json")
    assert response.status_code == 400
    assert response.json()[field]
    assert not Product.objects.exists() and not Event.objects.exists()


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001, 10**30, "5", "five", 1.5, 2.0, True,
                                      None, [1], {"n": 1}])
def test_a_bad_quantity_is_refused_with_a_field_message(staff, catalogue, quantity):
    events = Event.objects.count()
    response = receive(staff, "SKU-1", {"quantity": quantity})
    assert response.status_code == 400
    assert response.json()["quantity"]
    assert stock_of("SKU-1") == (10, 3) and Event.objects.count() == events


def test_a_missing_quantity_is_refused(staff, catalogue):
    response = receive(staff, "SKU-1", {})
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "detail": INVALID_DETAIL,
                               "quantity": ["This field is required."]}


@pytest.mark.parametrize("path", [PRODUCTS, f"{PRODUCTS}SKU-1/receive/"])
@pytest.mark.parametrize("raw", ['{"quantity": 5', "not json", "", "[1, 2]", "7", "null"])
def test_a_body_that_is_not_a_json_object_is_refused(staff, catalogue, path, raw):
    events = Event.objects.count()
    response = staff.post(path, raw, content_type="application/json")
    assert response.status_code == 400
    assert json.loads(response.content)
    assert Event.objects.count() == events and stock_of("SKU-1") == (10, 3)


def test_the_largest_receipt_is_accepted(staff, catalogue):
    assert receive(staff, "SKU-1", {"quantity": 1_000_000}).status_code == 200
    assert stock_of("SKU-1") == (1_000_010, 3)


# --- the contract is documented ----------------------------------------------------------------


def test_the_schema_documents_every_answer_including_errors():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    listing, receipt = paths["/api/products/"], paths["/api/products/{sku}/receive/"]
    # 404 (a page past the end), 406 (Accept), 411, 413 and 415 (the body), 503 (the database
    # unreachable) are added for every operation that can answer them (config/api_errors.py).
    assert set(listing["get"]["responses"]) == {"200", "401", "404", "406", "503"}
    body = {"406", "411", "413", "415", "503"}
    assert set(listing["post"]["responses"]) == {"201", "400", "401", "403", "409"} | body
    assert set(receipt["post"]["responses"]) == {"200", "400", "401", "403", "404"} | body
