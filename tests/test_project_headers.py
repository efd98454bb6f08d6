"""Headers and metric labels: no header value causes a 5xx, no client picks a metric label."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from config.middleware import REQUEST_ID_MAX_LENGTH
from outbox.models import Event
from saga.metrics import api_requests
from tests.support.people import CATALOGUE, give_jobs, token_for

CORRELATION_COLUMN = Event._meta.get_field("correlation_id").max_length


@pytest.fixture
def staff_api() -> APIClient:
    staff = get_user_model().objects.create_user("stocker", "s@example.com", "pw", is_staff=True)
    client = APIClient()
    give_jobs(staff, CATALOGUE)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(staff)}")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("length", [56, 57, 60, 64])
def test_a_long_request_id_never_overflows_the_correlation_column(staff_api, broker, length):
    given = "r" * length
    response = staff_api.post("/api/products/", {"sku": f"LONG-{length}", "name": "Long",
                                                 "price": "1.00"},
                              format="json", HTTP_X_REQUEST_ID=given)
    assert response.status_code == 201, response.content
    echoed = response["X-Request-ID"]
    assert len(echoed) <= REQUEST_ID_MAX_LENGTH
    assert (echoed == given) == (length <= REQUEST_ID_MAX_LENGTH)
    event = Event.objects.get(stream_id=f"LONG-{length}")
    assert event.correlation_id == f"request:{echoed}"
    assert len(event.correlation_id) <= CORRELATION_COLUMN


@pytest.mark.django_db
@pytest.mark.parametrize("given", ["a b", "ä", "x" * 500, "id\x7f", "<script>", ""])
def test_an_unusable_request_id_is_replaced(client, given):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=given)
    assert response["X-Request-ID"] != given
    assert len(response["X-Request-ID"]) <= REQUEST_ID_MAX_LENGTH


def test_the_request_id_limit_leaves_room_for_the_prefix():
    assert len("request:") + REQUEST_ID_MAX_LENGTH <= CORRELATION_COLUMN


@pytest.mark.django_db
def test_a_long_sku_outside_a_request_still_fits_the_correlation_column(broker):
    from inventory import services as inventory

    sku = "S" * 64
    inventory.add_product(sku, "Long", Decimal("1.00"))
    assert len(Event.objects.get(stream_id=sku).correlation_id) <= CORRELATION_COLUMN


def _series(method: str) -> float:
    return sum(sample.value for metric in api_requests.collect() for sample in metric.samples
               if sample.labels.get("method") == method and sample.name.endswith("_total"))


@pytest.mark.django_db
def test_made_up_http_methods_count_as_other():
    client = APIClient()
    before = _series("other")
    for method in ("FOO", "BREW", "PROPFIND"):
        assert client.generic(method, "/api/products/").status_code < 500
    assert _series("other") == before + 3
    assert not any(_series(method) for method in ("FOO", "BREW", "PROPFIND"))
