"""Fixtures of the orders tests: a catalogue fed the way inventory feeds it (a `ProductAdded`
appended to the event store; the orders projector builds its price list in that transaction),
customers and staff with tokens (tests.support.delivery makes participants' facts happen)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import transaction
from rest_framework.test import APIClient

from inventory.events import ProductAdded
from orders.models import IdempotencyKey, OrderSnapshot, OrderView
from outbox import store
from outbox.models import Delivery, Event
from tests.support.people import token_for

PRICES = {"SKU-1": "12.50", "SKU-2": "89.99", "SKU-3": "0.35"}


def address(**overrides: Any) -> dict[str, str]:
    return {"name": "Alice Example", "line1": "1 Main Street", "city": "Berlin",
            "postal_code": "10115", "country": "DE", **overrides}


def order_body(*lines: tuple[Any, Any], **overrides: Any) -> dict[str, Any]:
    lines = lines or (("SKU-1", 2),)
    body: dict[str, Any] = {
        "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
        "shipping_address": address(),
    }
    body.update(overrides)
    return body


def add_product(sku: str, name: str, price: str) -> None:
    with transaction.atomic():
        added = ProductAdded(sku=sku, name=name, price=Decimal(price))
        store.append("inventory.Product", sku, 0, [added])


def written() -> dict[str, int]:
    """Counts of everything a placement or a cancellation could write."""
    return {
        "events": Event.objects.count(),
        "deliveries": Delivery.objects.count(),
        "views": OrderView.objects.count(),
        "snapshots": OrderSnapshot.objects.count(),
        "idempotency_keys": IdempotencyKey.objects.count(),
    }


@pytest.fixture(autouse=True)
def fresh_throttle_history() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def broker_db() -> Iterator[None]:
    """Committed events and retries ring the broker; empty this run's broker database after."""
    yield
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    client.close()


@pytest.fixture
def catalogue(db: None) -> dict[str, str]:
    for sku, price in PRICES.items():
        add_product(sku, f"Product {sku}", price)
    return PRICES


@pytest.fixture
def users(db: None) -> dict[str, Any]:
    model = get_user_model()
    staff = model.objects.create_user("staff", "staff@example.com", is_staff=True)
    # An operator: seeing every customer's orders and cancelling one take these permissions
    # (orders/api.py).
    staff.user_permissions.add(*Permission.objects.filter(
        codename__in=["cancel_order", "view_all_orders"]))
    return {
        # No passwords (tokens authenticate): hashing one costs more than a whole test.
        "alice": model.objects.create_user("alice", "alice@example.com"),
        "bob": model.objects.create_user("bob", "bob@example.com"),
        "staff": staff,
    }


@pytest.fixture
def client_for(users: dict[str, Any]) -> Callable[[str | None], APIClient]:
    """An API client authenticated with the named user's token (None: anonymous)."""

    def make(name: str | None) -> APIClient:
        client = APIClient()
        if name is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(users[name])}")
        return client

    return make


@pytest.fixture
def alice(client_for: Callable[[str | None], APIClient]) -> APIClient:
    return client_for("alice")


@pytest.fixture
def place(
    client_for: Callable[[str | None], APIClient], catalogue: dict[str, str]
) -> Callable[..., str]:
    """Place an order through the API as `who`; returns its id."""

    def place_as(who: str = "alice", *lines: tuple[str, int]) -> str:
        response = client_for(who).post("/api/orders/", order_body(*lines), format="json")
        assert response.status_code == 202, response.content
        return response.json()["id"]

    return place_as
