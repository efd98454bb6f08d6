"""Every bad placement gets a 4xx with a message where the fault is, and writes nothing."""

import json
from typing import Any

import pytest

from .conftest import address, order_body, written

pytestmark = pytest.mark.django_db


def refuse(client: Any, body: Any, *, status: int = 400, **kwargs: Any) -> Any:
    before = written()
    kwargs.setdefault("format", "json") if "content_type" not in kwargs else None
    response = client.post("/api/orders/", body, **kwargs)
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert written() == before, "a refused placement wrote something"
    return response.json()


def line_error(errors: dict, index: int, field: str) -> str:
    """Line errors are keyed by the line's index; lines without faults are left out."""
    return " ".join(errors["lines"][str(index)][field])


@pytest.mark.parametrize("quantity, message", [
    (0, "greater than or equal to 1"),
    (-3, "greater than or equal to 1"),
    (1001, "less than or equal to 1000"),
    (10**30, "less than or equal to 1000"),
    ("3", "JSON integer"),
    (2.5, "JSON integer"),
    (3.0, "JSON integer"),
    (True, "JSON integer"),
    (None, "may not be null"),
    ([1], "JSON integer"),
])
def test_a_quantity_must_be_a_json_integer_from_1_to_1000(alice, catalogue, quantity, message):
    errors = refuse(alice, order_body(("SKU-2", 1), ("SKU-1", quantity)))
    assert list(errors["lines"]) == ["1"]
    assert message in line_error(errors, 1, "quantity")


def test_a_line_without_quantity_is_refused(alice, catalogue):
    errors = refuse(alice, {"lines": [{"sku": "SKU-1"}], "shipping_address": address()})
    assert "required" in line_error(errors, 0, "quantity")


@pytest.mark.parametrize("sku, message", [
    (None, "may not be null"), (123, "Must be a string"), ("", "may not be blank"),
    ("X" * 65, "no more than 64"), ("SKU-\u0000", "Null characters"),
])
def test_a_sku_must_be_a_short_string(alice, catalogue, sku, message):
    errors = refuse(alice, order_body((sku, 1)))
    assert message in line_error(errors, 0, "sku")


def test_an_unknown_sku_is_named_on_its_line(alice, catalogue):
    errors = refuse(alice, order_body(("SKU-1", 1), ("SKU-404", 2)))
    assert list(errors["lines"]) == ["1"]
    assert line_error(errors, 1, "sku") == "Unknown sku 'SKU-404'."


@pytest.mark.parametrize("lines, message", [
    ([], "may not be empty"),
    ("SKU-1", "Expected a list"),
    ({"sku": "SKU-1", "quantity": 1}, "Expected a list"),
    (None, "may not be null"),
    ([{"sku": "SKU-1", "quantity": 1}] * 101, "no more than 100"),
    (["SKU-1"], "Expected a dictionary"),
])
def test_lines_must_be_a_list_of_1_to_100_lines(alice, catalogue, lines, message):
    errors = refuse(alice, {"lines": lines, "shipping_address": address()})
    assert message in json.dumps(errors["lines"])


def test_missing_lines_are_refused(alice, catalogue):
    errors = refuse(alice, {"shipping_address": address()})
    assert errors["lines"] == ["This field is required."]


def test_merged_lines_of_one_sku_may_not_exceed_1000(alice, catalogue):
    errors = refuse(alice, order_body(("SKU-1", 600), ("SKU-2", 1), ("SKU-1", 401)))
    assert "SKU-1 (1001)" in errors["lines"][0]


def test_a_hundred_lines_are_accepted(alice, catalogue):
    response = alice.post("/api/orders/", order_body(*[("SKU-1", 1)] * 100), format="json")
    assert response.status_code == 202
    assert response.json()["lines"][0]["quantity"] == 100


@pytest.mark.parametrize("field", ["name", "line1", "city", "postal_code", "country"])
def test_each_required_address_field_is_named_when_missing(alice, catalogue, field):
    shipping = address()
    del shipping[field]
    errors = refuse(alice, order_body(shipping_address=shipping))
    assert errors["shipping_address"][field] == ["This field is required."]


@pytest.mark.parametrize("country, message", [
    ("XX", "not an ISO 3166-1 alpha-2 code"), ("Germany", "no more than 2"),
    ("D", "at least 2"), (49, "Must be a string"),
])
def test_the_country_must_be_an_iso_3166_alpha_2_code(alice, catalogue, country, message):
    errors = refuse(alice, order_body(shipping_address=address(country=country)))
    assert message in " ".join(errors["shipping_address"]["country"])


@pytest.mark.parametrize("shipping", [None, "Berlin", [], {}])
def test_the_shipping_address_must_be_an_object_with_its_fields(alice, catalogue, shipping):
    errors = refuse(alice, order_body(shipping_address=shipping))
    assert "shipping_address" in errors


@pytest.mark.parametrize("payment, where", [
    ({"token": 5}, "token"), ({}, "token"), ("tok_ok", "non_field_errors"),
])
def test_a_payment_must_carry_a_string_token(alice, catalogue, payment, where):
    errors = refuse(alice, order_body(payment=payment))
    assert where in errors["payment"]


@pytest.mark.parametrize("body", [[], "an order", 42, None])
def test_the_body_must_be_a_json_object(alice, catalogue, body):
    errors = refuse(alice, json.dumps(body), content_type="application/json")
    assert "non_field_errors" in errors or "lines" in errors


@pytest.mark.parametrize("raw", [
    '{"lines": [', "{'lines': []}", '{"lines": NaN}', "\xff\xfe", "[" * 30_000 + "]" * 30_000,
])
def test_malformed_json_is_a_400(alice, catalogue, raw):
    errors = refuse(alice, raw, content_type="application/json")
    assert errors["detail"].startswith("JSON parse error")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/xml"])
def test_a_body_that_is_not_json_is_a_415(alice, catalogue, content_type):
    errors = refuse(alice, "lines=SKU-1", content_type=content_type, status=415)
    assert "Unsupported media type" in errors["detail"]


def test_a_body_over_64_kib_is_a_413(alice, catalogue):
    body = order_body(shipping_address=address(name="x" * 70_000))
    errors = refuse(alice, json.dumps(body), content_type="application/json", status=413)
    assert errors["detail"] == "The request body exceeds 65536 bytes."


def test_a_body_just_under_64_kib_is_read(alice, catalogue):
    body = order_body(note="")
    body["note"] = "x" * (64 * 1024 - len(json.dumps(body)))  # an unknown field is ignored
    raw = json.dumps(body)
    assert len(raw) == 64 * 1024
    response = alice.post("/api/orders/", raw, content_type="application/json")
    assert response.status_code == 202, response.content


def test_a_chunked_body_without_a_length_is_a_411_not_a_missing_field(alice, catalogue):
    errors = refuse(alice, "", content_type="application/json", status=411,
                    HTTP_TRANSFER_ENCODING="chunked")
    assert "Content-Length" in errors["detail"]


@pytest.mark.parametrize("key, message", [
    ("", "blank"), ("k" * 256, "at most 255"), ("caf\u00e9", "printable ASCII"),
])
def test_an_unusable_idempotency_key_is_a_400(alice, catalogue, key, message):
    errors = refuse(alice, order_body(), headers={"Idempotency-Key": key})
    assert message in errors["Idempotency-Key"][0]
