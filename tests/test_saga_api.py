"""The saga over HTTP: the staff list of sagas with its filters, the order's `saga` block, and
/metrics. Orders are driven through the real handlers here, in-process (`drain`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from saga.models import OrderSaga, ReconciliationAction
from saga.tasks import refresh_metrics
from tests.saga_world import (
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
)
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])


def client_of(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def staff() -> User:
    return User.objects.create_user("operator", "op@example.com", "pw", is_staff=True)


@pytest.fixture
def two_sagas(catalogue: None, customer: User) -> tuple[str, str]:
    """One order confirmed, one declined (cancelled), both converged."""
    confirmed = place(customer)
    declined = place(customer, token="tok_decline")
    drain()
    return confirmed, declined


def test_only_staff_may_list_the_sagas(two_sagas, customer, staff):
    assert client_of(None).get("/api/sagas/").status_code == 401
    assert client_of(customer).get("/api/sagas/").status_code == 403
    response = client_of(staff).get("/api/sagas/")
    assert response.status_code == 200
    assert {row["order_id"] for row in response.json()["results"]} == set(two_sagas)


def test_the_saga_list_filters_by_state_gap_and_age(two_sagas, staff):
    confirmed, declined = two_sagas
    OrderSaga.objects.filter(order_id=declined).update(
        state="needs_attention", gap=2, attention_reason="refund refused",
        started_at=timezone.now() - timedelta(hours=2))
    api = client_of(staff)

    def ids(query: str) -> set[str]:
        response = api.get(f"/api/sagas/?{query}")
        assert response.status_code == 200, response.content
        return {row["order_id"] for row in response.json()["results"]}

    assert ids("state=needs_attention") == {declined}
    assert ids("state=converged") == {confirmed}
    assert ids("min_gap=1") == {declined}
    assert ids("min_gap=0") == {confirmed, declined}
    assert ids("older_than=3600") == {declined}
    assert ids("older_than=3600&state=converged") == set()
    row = api.get("/api/sagas/?state=needs_attention").json()["results"][0]
    assert row["attention_reason"] == "refund refused"
    assert row["participants"]["payment"]["desired_net"] == "0.00"


@pytest.mark.parametrize(("query", "field"), [
    ("state=asleep", "state"), ("min_gap=-1", "min_gap"), ("min_gap=many", "min_gap"),
    ("older_than=1.5", "older_than"), ("older_than=-3", "older_than"),
])
def test_a_bad_filter_is_refused_with_the_field_named(query, field, staff):
    response = client_of(staff).get(f"/api/sagas/?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_an_order_carries_its_saga_block(two_sagas, customer):
    confirmed, declined = two_sagas
    body = client_of(customer).get(f"/api/orders/{confirmed}/").json()
    block = body["saga"]
    assert block["state"] == "converged"
    assert block["desired_outcome"] == "fulfilled"
    assert (block["gap"], block["current_step"], block["attention_reason"]) == (0, "done", None)
    # Each participant as the events say, beside its own records / the provider's ledger.
    assert block["participants"] == {
        "stock": {"observed": "committed", "desired": "committed",
                  "at_participant": "committed"},
        "payment": {"charged": "25.00", "refunded": "0.00", "net": "25.00",
                    "desired_net": "25.00", "net_at_provider": "25.00"},
        "shipment": {"observed": "booked", "desired": "booked", "at_provider": "booked"},
    }
    assert block["disagreements"] == []
    types = [entry["type"] for entry in block["timeline"]]
    assert types[0] == "orders.OrderPlaced" and "orders.OrderConfirmed" in types
    assert {entry["source"] for entry in block["timeline"]} >= {"orders", "inventory",
                                                                "payments", "shipping"}
    cancelled = client_of(customer).get(f"/api/orders/{declined}/").json()["saga"]
    assert cancelled["desired_outcome"] == "cancelled"
    assert cancelled["participants"]["stock"] == {"observed": "released", "desired": "released",
                                                  "at_participant": "released"}


FAMILIES = {"saga_metrics_age_seconds", "saga_sagas", "saga_gap_total",
            "saga_oldest_in_flight_seconds",
            "saga_compensations", "saga_corrections", "outbox_dead_deliveries",
            "outbox_pending_deliveries", "outbox_oldest_pending_seconds",
            "saga_reconcile_passes", "saga_reconcile_pass_seconds",
            "saga_reconcile_last_pass_seconds", "saga_reconcile_last_pass_sagas",
            "saga_api_requests"}


def test_metrics_expose_every_family_from_the_database(two_sagas, staff):
    confirmed, _ = two_sagas
    ReconciliationAction.objects.create(saga_id=confirmed, kind="refund_extra_charge",
                                        reason="a duplicate charge")
    client_of(staff).get("/api/sagas/")
    refresh_metrics()  # what beat runs every SAGA_METRICS_REFRESH_SECONDS
    text = Client().get("/metrics").content.decode()
    assert FAMILIES <= {family.name for family in text_string_to_metric_families(text)}
    assert 'saga_sagas{state="converged"} 2.0' in text
    assert 'saga_compensations_total{kind="release_stock"} 1.0' in text
    assert ('saga_corrections_total{kind="refund_extra_charge",status="applied"} 1.0'
            in text)
    assert 'saga_api_requests_total{method="GET",route="/api/sagas/",status="200"}' in text


def test_metrics_want_the_bearer_token_when_one_is_set(settings):
    settings.METRICS_TOKEN = "s3cret"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
