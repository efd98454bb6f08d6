"""The order list: newest first, paginated, filtered by status."""

import pytest

from .conftest import order_body

pytestmark = pytest.mark.django_db


def test_the_list_filters_by_status(alice, place):
    kept, cancelled = place("alice"), place("alice")
    alice.post(f"/api/orders/{cancelled}/cancel/")

    pending = alice.get("/api/orders/", {"status": "pending"}).json()
    gone = alice.get("/api/orders/", {"status": "cancelled"}).json()
    confirmed = alice.get("/api/orders/", {"status": "confirmed"}).json()

    assert [o["id"] for o in pending["results"]] == [kept]
    assert [o["id"] for o in gone["results"]] == [cancelled]
    assert confirmed["count"] == 0


@pytest.mark.parametrize("status", ["shipped", "PENDING", "pending,cancelled"])
def test_an_unknown_status_filter_is_a_400(alice, place, status):
    place("alice")
    response = alice.get("/api/orders/", {"status": status})
    assert response.status_code == 400
    assert "is not a status" in response.json()["status"][0]


def test_the_list_is_paginated_newest_first(alice, place):
    ids = [place("alice") for _ in range(5)]

    first = alice.get("/api/orders/", {"page_size": 2}).json()
    last = alice.get("/api/orders/", {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5
    assert [o["id"] for o in first["results"]] == ids[::-1][:2]
    assert first["next"] is not None and first["previous"] is None
    assert [o["id"] for o in last["results"]] == [ids[0]]
    assert last["next"] is None


def test_a_page_past_the_end_is_a_404(alice, place):
    place("alice")
    assert alice.get("/api/orders/", {"page": 9}).status_code == 404


def test_list_entries_carry_lines_total_and_timestamps(alice, catalogue):
    alice.post("/api/orders/", order_body(("SKU-2", 2)), format="json")

    [order] = alice.get("/api/orders/").json()["results"]

    assert order["total"] == "179.98"
    assert order["lines"][0]["unit_price"] == "89.99"
    assert {"created_at", "updated_at", "confirmed_at", "cancelled_at"} <= set(order)
