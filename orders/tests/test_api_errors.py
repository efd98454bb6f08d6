"""Every error answer carries a stable `code` beside `detail` (and, for invalid input, the
messages per field): one representative answer per status (config/api_errors.py). The 503 of
an unreachable database is proven against a stopped cluster in tests/test_outage_database.py."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import override_settings

from config.api_errors import INVALID_DETAIL

from .conftest import order_body, written

pytestmark = pytest.mark.django_db


def assert_refusal(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_invalid_input_keeps_its_messages_per_field_beside_the_code(alice, catalogue):
    body = order_body(("SKU-404", 1), shipping_address={"country": "XX"})
    refused = assert_refusal(alice.post("/api/orders/", body, format="json"), 400, "invalid")
    assert refused["detail"] == INVALID_DETAIL
    assert "SKU-404" in str(refused["lines"])
    assert "city" in refused["shipping_address"]


def test_malformed_json_is_a_parse_error(alice):
    response = alice.post("/api/orders/", "{not json", content_type="application/json")
    assert "JSON parse error" in assert_refusal(response, 400, "parse_error")["detail"]


def test_no_credentials_is_not_authenticated(client_for):
    assert_refusal(client_for(None).get("/api/orders/"), 401, "not_authenticated")


def test_a_customer_on_a_staff_list_is_permission_denied(alice):
    assert_refusal(alice.get("/api/sagas/"), 403, "permission_denied")


def test_another_customers_order_is_not_found(client_for, place):
    order = place("alice")
    assert_refusal(client_for("bob").get(f"/api/orders/{order}/"), 404, "not_found")


def test_a_method_the_endpoint_lacks_is_method_not_allowed(alice):
    assert_refusal(alice.delete("/api/orders/"), 405, "method_not_allowed")


def test_a_taken_sku_is_a_409_naming_the_field(client_for, users, catalogue):
    users["staff"].user_permissions.add(Permission.objects.get(codename="add_product"))
    response = client_for("staff").post(
        "/api/products/", {"sku": "SKU-1", "name": "Again", "price": "1.00"}, format="json")
    assert_refusal(response, 409, "product_exists")
    assert response.json()["sku"]


def test_an_oversized_body_is_request_too_large(alice):
    response = alice.post("/api/orders/", "x" * (65 * 1024), content_type="application/json")
    assert_refusal(response, 413, "request_too_large")


def test_a_body_that_is_not_json_is_unsupported_media_type(alice):
    response = alice.post("/api/orders/", "lines=1", content_type="text/plain")
    assert_refusal(response, 415, "unsupported_media_type")


def test_a_reused_idempotency_key_with_another_body_is_a_422(alice, catalogue):
    headers = {"HTTP_IDEMPOTENCY_KEY": "key-1"}
    assert alice.post("/api/orders/", order_body(), format="json", **headers).status_code == 202
    again = alice.post("/api/orders/", order_body(("SKU-2", 1)), format="json", **headers)
    assert_refusal(again, 422, "idempotency_key_reused")


def test_throttled_placement_is_a_429(alice, catalogue):
    rates = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"place_order": "1/minute"}}
    with override_settings(REST_FRAMEWORK=rates):
        assert alice.post("/api/orders/", order_body(), format="json").status_code == 202
        before = written()
        assert_refusal(alice.post("/api/orders/", order_body(), format="json"), 429, "throttled")
        assert written() == before


def test_an_api_path_no_route_matches_is_a_json_not_found(alice):
    response = alice.post("/api/sagas/x/corrections/not-a-number/approve/")
    assert_refusal(response, 404, "not_found")
