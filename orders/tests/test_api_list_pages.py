"""The order list's filter (django-filter, strict) and pages: customers get numbered pages
with a count, staff cursor pages that never count the table."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.filtering import EMPTY_VALUE

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["status=", "status=pending&status="])
def test_an_empty_status_filter_is_refused_not_ignored(alice, place, query):
    place("alice")
    response = alice.get(f"/api/orders/?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["status"] == [EMPTY_VALUE]


def test_staff_walk_every_order_by_cursor_without_counting(client_for, place):
    ids = [place("alice" if n % 2 else "bob") for n in range(5)]
    staff = client_for("staff")

    seen, url, pages = [], "/api/orders/?page_size=2", []
    with CaptureQueriesContext(connection) as queries:
        while url:
            page = staff.get(url).json()
            pages.append(page)
            seen += [order["id"] for order in page["results"]]
            url = page["next"]
    assert not [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert seen == ids[::-1]
    assert "count" not in pages[0] and pages[0]["previous"] is None

    back = staff.get(pages[-1]["previous"]).json()
    assert [order["id"] for order in back["results"]] == ids[::-1][2:4]


def test_staff_cursor_pages_honour_the_status_filter(client_for, place):
    kept, cancelled = place("alice"), place("bob")
    client_for("bob").post(f"/api/orders/{cancelled}/cancel/")
    page = client_for("staff").get("/api/orders/", {"status": "pending"}).json()
    assert [order["id"] for order in page["results"]] == [kept]


@pytest.mark.parametrize("query", ["cursor=bogus", "page_size=0", "page_size=101"])
def test_a_bad_cursor_or_page_size_is_refused(client_for, place, query):
    place("alice")
    response = client_for("staff").get(f"/api/orders/?{query}")
    assert response.status_code in (400, 404)
    assert response.json()["code"] in ("invalid", "not_found")


def test_customers_keep_numbered_pages_with_a_count(alice, place):
    place("alice")
    body = alice.get("/api/orders/").json()
    assert body["count"] == 1 and body["next"] is None
