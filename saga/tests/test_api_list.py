"""`GET /api/sagas/`: the filters through django-filter (a bad or empty value is a 400 naming
the field) and cursor pages that never count the table."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from config.filtering import EMPTY_VALUE
from saga.models import OrderSaga

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.create_user("operator", is_staff=True))
    return client


@pytest.fixture
def sagas() -> list[str]:
    """Five sagas, started an hour apart (the oldest first), the two oldest with a gap."""
    now = timezone.now()
    ids = []
    for n in range(5):
        saga = OrderSaga.objects.create(
            order_id=f"order-{n}", started_at=now - timedelta(hours=5 - n),
            gap=2 if n < 2 else 0, state="needs_attention" if n < 2 else "converged")
        ids.append(saga.order_id)
    return ids


def ids_of(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["order_id"] for row in response.json()["results"]]


def test_filters_by_state_gap_and_age(staff, sagas):
    assert ids_of(staff.get("/api/sagas/?state=needs_attention")) == sagas[1::-1]
    assert ids_of(staff.get("/api/sagas/?min_gap=1")) == sagas[1::-1]
    assert ids_of(staff.get("/api/sagas/?older_than=12600")) == sagas[1::-1]
    assert ids_of(staff.get("/api/sagas/?older_than=12600&state=converged")) == []
    assert ids_of(staff.get("/api/sagas/")) == sagas[::-1]


@pytest.mark.parametrize(("query", "field"), [
    ("state=asleep", "state"), ("state=", "state"), ("min_gap=", "min_gap"),
    ("min_gap=1.5", "min_gap"), ("min_gap=101", "min_gap"), ("older_than=-3", "older_than"),
    ("older_than=soon", "older_than"),
])
def test_a_bad_or_empty_filter_is_a_400_naming_the_field(staff, sagas, query, field):
    response = staff.get(f"/api/sagas/?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body[field]
    if query.endswith("="):
        assert body[field] == [EMPTY_VALUE]


def test_cursor_pages_walk_newest_first_without_counting(staff, sagas):
    seen, url, pages = [], "/api/sagas/?page_size=2&min_gap=0", []
    with CaptureQueriesContext(connection) as queries:
        while url:
            page = staff.get(url).json()
            pages.append(page)
            seen += [row["order_id"] for row in page["results"]]
            url = page["next"]
    assert not [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert seen == sagas[::-1] and len(pages) == 3
    assert "count" not in pages[0] and pages[0]["previous"] is None
    assert ids_of(staff.get(pages[-1]["previous"])) == sagas[::-1][2:4]


def test_a_cursor_not_issued_by_the_api_is_a_404(staff, sagas):
    response = staff.get("/api/sagas/?cursor=forged")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
