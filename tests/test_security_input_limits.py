"""Bad input on every endpoint that takes a body: a clear 4xx in JSON, and nothing written.

The limits are the project's (config/request_limits.py), not each view's: a body over 64 KiB
is a 413, a chunked body without a length a 411, a body that is not JSON a 415, a document
nested deeper than 16 levels or malformed a 400; an order has 1 to 100 lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from knox.models import AuthToken
from rest_framework.test import APIClient

from config.request_limits import MAX_JSON_DEPTH
from inventory import services as inventory
from inventory.models import Product, Stock
from orders import services as orders
from orders.events import ShippingAddress
from orders.models import OrderView
from outbox.models import Event
from tests.support.people import CATALOGUE, give_jobs, token_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]

LIMIT = 64 * 1024
ADDRESS = {"name": "Ada", "line1": "1 Way", "city": "Town", "postal_code": "12345",
           "country": "DE"}


@pytest.fixture
def world() -> dict[str, Any]:
    inventory.add_product("SKU-1", "Widget", Decimal("12.50"))
    inventory.receive_goods("SKU-1", 100)
    users = get_user_model().objects
    alice = users.create_user("alice", "alice@example.com", "alice-password")
    staff = users.create_user("staff", "staff@example.com", is_staff=True)
    order_id = orders.place_order(customer_id=str(alice.pk), lines=[("SKU-1", 1)],
                                  shipping_address=ShippingAddress(**ADDRESS))
    give_jobs(staff, CATALOGUE)
    keys = {name: token_for(user) for name, user in (("alice", alice), ("staff", staff))}
    return {"keys": keys, "order_id": order_id}


# (name, method, path, who): every operation that takes a body.
WRITES = [
    ("place an order", "POST", "/api/orders/", "alice"),
    ("cancel an order", "POST", "/api/orders/{order_id}/cancel/", "alice"),
    ("add a product", "POST", "/api/products/", "staff"),
    ("receive goods", "POST", "/api/products/SKU-1/receive/", "staff"),
    ("sign in", "POST", "/api/auth/token/", None),
    ("sign out", "DELETE", "/api/auth/token/", "alice"),
]
# Those that read the body they are sent.
PARSING = [write for write in WRITES if write[0] not in ("cancel an order", "sign out")]


def written() -> dict[str, Any]:
    return {"events": Event.objects.count(), "products": Product.objects.count(),
            "on_hand": list(Stock.objects.values_list("sku", "on_hand")),
            "orders": list(OrderView.objects.values_list("id", "status")),
            "tokens": AuthToken.objects.count()}


@pytest.fixture
def send(world: dict[str, Any]) -> Callable[..., Any]:
    def send_to(method: str, path: str, who: str | None, body: bytes | str,
                content_type: str = "application/json", **extra: str) -> Any:
        client = APIClient()
        if who is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {world['keys'][who]}")
        return client.generic(method, path.format(order_id=world["order_id"]), body,
                              content_type=content_type, **extra)

    return send_to


def refused(response: Any, status: int) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()["detail"]


@pytest.mark.parametrize(("name", "method", "path", "who"), WRITES)
def test_a_body_over_64_kib_is_a_413(send, name, method, path, who):
    before = written()
    body = json.dumps({"padding": "x" * LIMIT})
    detail = refused(send(method, path, who, body), 413)
    assert detail == f"The request body exceeds {LIMIT} bytes."
    assert written() == before


@pytest.mark.parametrize(("name", "method", "path", "who"), WRITES)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml"])
def test_a_body_that_is_not_json_is_a_415(send, name, method, path, who, content_type):
    before = written()
    detail = refused(send(method, path, who, "quantity=5", content_type=content_type), 415)
    assert detail == f'Unsupported media type "{content_type}" in request.'
    assert written() == before


@pytest.mark.parametrize(("name", "method", "path", "who"), WRITES)
def test_a_chunked_body_without_a_length_is_a_411(send, name, method, path, who):
    before = written()
    response = send(method, path, who, b"", HTTP_TRANSFER_ENCODING="chunked")
    assert "Content-Length" in refused(response, 411)
    assert written() == before


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(("name", "method", "path", "who"), PARSING)
@pytest.mark.parametrize("body", [nested(MAX_JSON_DEPTH + 1), '{"a": ' + nested(30_000) + "}"])
def test_json_nested_too_deep_is_a_400(send, name, method, path, who, body):
    before = written()
    detail = refused(send(method, path, who, body), 400)
    assert detail == f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."
    assert written() == before


@pytest.mark.parametrize(("name", "method", "path", "who"), PARSING)
@pytest.mark.parametrize("body", ['{"quantity": ', "{'quantity': 1}", '{"quantity": NaN}',
                                  b"\xff\xfe{"])
def test_malformed_json_is_a_400(send, name, method, path, who, body):
    before = written()
    assert refused(send(method, path, who, body), 400).startswith("JSON parse error")
    assert written() == before


def test_a_document_as_deep_as_the_limit_is_read(send):
    # Depth alone is no reason to refuse: this one is refused for its fields, not its depth.
    response = send("POST", "/api/products/", "staff",
                    json.dumps({"sku": json.loads(nested(MAX_JSON_DEPTH - 1))}))
    assert response.status_code == 400
    assert "sku" in response.json()


def order(lines: list[dict[str, Any]]) -> str:
    return json.dumps({"lines": lines, "shipping_address": ADDRESS})


@pytest.mark.parametrize(("lines", "field_error"), [
    ([{"sku": "SKU-1", "quantity": 1}] * 101, "no more than 100"),
    ([], "may not be empty"),
    ([{"sku": "SKU-1", "quantity": 1001}], "less than or equal to 1000"),
    ([{"sku": "SKU-1", "quantity": 0}], "greater than or equal to 1"),
])
def test_an_order_has_1_to_100_lines_of_1_to_1000_units(send, lines, field_error):
    before = written()
    response = send("POST", "/api/orders/", "alice", order(lines))
    assert response.status_code == 400
    assert field_error in json.dumps(response.json()["lines"])
    assert written() == before


def test_a_body_of_exactly_64_kib_is_read_and_one_byte_more_is_not(send):
    lines = [{"sku": "SKU-1", "quantity": 1}] * 2
    padded = order(lines)[:-1] + ', "pad": ""}'
    exact = padded.replace('"pad": ""', '"pad": "' + "x" * (LIMIT - len(padded)) + '"')
    assert len(exact.encode()) == LIMIT
    assert send("POST", "/api/orders/", "alice", exact).status_code == 202
    assert send("POST", "/api/orders/", "alice", exact + " ").status_code == 413


def test_an_accept_the_api_cannot_answer_is_a_406(send):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    response = send("POST", "/api/products/", "staff", json.dumps({"sku": "X"}),
                    HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert response.json() == {"code": "not_acceptable",
                               "detail": "Could not satisfy the request Accept header."}
