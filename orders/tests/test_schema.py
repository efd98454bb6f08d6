"""The OpenAPI document describes the order endpoints and their error answers."""

import pytest
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_every_order_endpoint_and_its_errors_are_documented(schema):
    paths = schema["paths"]
    place = paths["/api/orders/"]["post"]
    assert {"202", "400", "401", "411", "413", "415", "422", "429"} <= set(place["responses"])
    assert "Location" in place["responses"]["202"]["headers"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header"
               for p in place["parameters"])
    listing = paths["/api/orders/"]["get"]
    assert {"200", "400", "401"} <= set(listing["responses"])
    status = next(p for p in listing["parameters"] if p["name"] == "status")
    assert set(status["schema"]["enum"]) == {"pending", "confirmed", "cancelled"}
    assert {"page", "page_size"} <= {p["name"] for p in listing["parameters"]}
    detail = paths["/api/orders/{id}/"]["get"]
    assert {"200", "401", "404"} <= set(detail["responses"])
    cancel = paths["/api/orders/{id}/cancel/"]["post"]
    assert {"200", "202", "401", "404", "409"} <= set(cancel["responses"])


def test_the_saga_block_and_the_merge_rule_are_described(schema):
    components = schema["components"]["schemas"]
    assert "saga" in components["OrderDetail"]["properties"]
    assert "merged" in components["PlaceOrder"]["properties"]["lines"]["description"]


def test_every_error_answer_documents_the_code_beside_the_detail(schema):
    refused = schema["components"]["schemas"]["RequestRefused"]
    assert refused["required"] == ["code", "detail"]
    undocumented = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if status[0] not in "45":
                    continue
                content = answer.get("content", {}).get("application/json", {})
                examples = [content["example"]] if "example" in content else [
                    example["value"] for example in content.get("examples", {}).values()]
                if not examples or not all({"code", "detail"} <= set(e) for e in examples):
                    undocumented.append(f"{method.upper()} {path} {status}")
    assert not undocumented
