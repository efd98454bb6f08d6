"""`Idempotency-Key` on placement: replay, conflict, refusals not remembered, scope, races."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from orders.models import IdempotencyKey, OrderView
from orders.services import forget_idempotency_keys

from .conftest import order_body, written

KEY = {"Idempotency-Key": "7c1d-order-1"}


@pytest.mark.django_db
def test_the_same_key_and_body_replays_the_first_answer_and_creates_nothing(alice, catalogue):
    first = alice.post("/api/orders/", order_body(), format="json", headers=KEY)
    before = written()

    again = alice.post("/api/orders/", order_body(), format="json", headers=KEY)

    assert again.status_code == first.status_code == 202
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert written() == before


@pytest.mark.django_db
def test_the_replay_is_the_first_answer_even_after_the_order_moved_on(alice, catalogue):
    first = alice.post("/api/orders/", order_body(), format="json", headers=KEY).json()
    alice.post(f"/api/orders/{first['id']}/cancel/")

    again = alice.post("/api/orders/", order_body(), format="json", headers=KEY)

    assert again.json() == first
    assert again.json()["status"] == "pending"


@pytest.mark.django_db
def test_key_order_and_spacing_of_the_json_do_not_make_another_body(alice, catalogue):
    alice.post("/api/orders/", order_body(), format="json", headers=KEY)
    shipping = json.dumps(dict(reversed(order_body()["shipping_address"].items())))
    lines = '[{"quantity": 2, "sku": "SKU-1"}]'
    reordered = '{"shipping_address": ' + shipping + ',\n "lines": ' + lines + "}"

    again = alice.post("/api/orders/", reordered, content_type="application/json", headers=KEY)

    assert again.status_code == 202
    assert OrderView.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_422(alice, catalogue):
    alice.post("/api/orders/", order_body(("SKU-1", 2)), format="json", headers=KEY)
    before = written()

    other = alice.post("/api/orders/", order_body(("SKU-1", 3)), format="json", headers=KEY)

    assert other.status_code == 422
    assert "different request body" in other.json()["detail"]
    assert written() == before


@pytest.mark.django_db
def test_a_refused_request_is_not_remembered_so_the_corrected_one_may_reuse_the_key(
        alice, catalogue):
    refused = alice.post("/api/orders/", order_body(("SKU-404", 1)), format="json", headers=KEY)
    assert refused.status_code == 400
    assert IdempotencyKey.objects.count() == 0

    corrected = alice.post("/api/orders/", order_body(("SKU-1", 1)), format="json", headers=KEY)

    assert corrected.status_code == 202
    assert IdempotencyKey.objects.get().order_id == corrected.json()["id"]


@pytest.mark.django_db
def test_keys_are_scoped_to_the_customer(client_for, catalogue):
    alices = client_for("alice").post("/api/orders/", order_body(), format="json", headers=KEY)
    bobs = client_for("bob").post("/api/orders/", order_body(), format="json", headers=KEY)

    assert bobs.status_code == 202
    assert bobs.json()["id"] != alices.json()["id"]
    assert OrderView.objects.count() == 2


@pytest.mark.django_db
def test_without_a_key_every_request_places_an_order(alice, catalogue):
    alice.post("/api/orders/", order_body(), format="json")
    alice.post("/api/orders/", order_body(), format="json")
    assert OrderView.objects.count() == 2


@pytest.mark.django_db
def test_a_key_is_remembered_for_24_hours_then_forgotten(alice, catalogue):
    first = alice.post("/api/orders/", order_body(), format="json", headers=KEY).json()
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=23, minutes=59))
    assert forget_idempotency_keys() == 0
    assert alice.post("/api/orders/", order_body(), format="json",
                      headers=KEY).json()["id"] == first["id"]

    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    fresh = alice.post("/api/orders/", order_body(), format="json", headers=KEY)

    assert fresh.status_code == 202
    assert fresh.json()["id"] != first["id"]
    assert IdempotencyKey.objects.get().order_id == fresh.json()["id"]
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert forget_idempotency_keys() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_place_one_order(client_for, catalogue, broker_db):
    clients = [client_for("alice") for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    answers: list = [None] * len(clients)

    def post(i: int) -> None:
        try:
            barrier.wait()
            answers[i] = clients[i].post("/api/orders/", order_body(), format="json",
                                         headers={"Idempotency-Key": "race"})
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.status_code for a in answers] == [202] * len(clients)
    assert len({a.json()["id"] for a in answers}) == 1
    assert OrderView.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1
