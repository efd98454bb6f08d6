"""Invariant 6, context by context: after a scenario run through the real handlers, each
context's read models rebuilt from the event store alone (its tables emptied first) equal the
rows its projectors wrote live, column by column; and the audit agrees."""

from __future__ import annotations

import importlib
from dataclasses import replace

import pytest
from django.contrib.auth.models import User
from django.db import models

from inventory import services as inventory
from orders import services as orders
from saga.audit.read_models import check_read_models
from tests.saga_world import (
    ADDRESS,
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
)
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])
CONTEXTS = ["orders", "inventory", "shipping", "saga"]


@pytest.fixture
def scenario(catalogue: None, customer: User) -> None:
    """Confirmed, declined, refused by the carrier, cancelled by the customer before the
    pivot, goods received meanwhile, a product added late."""
    place(customer, [("SKU-1", 2), ("SKU-2", 1)])
    place(customer, token="tok_decline")
    place(customer, address=replace(ADDRESS, postal_code="00000"))
    cancelled = place(customer, [("SKU-2", 3)])
    orders.cancel_order(cancelled, reason="changed my mind", requested_by=str(customer.pk))
    inventory.receive_goods("SKU-1", 7)
    inventory.add_product("SKU-3", "Gizmo", "3.10")
    drain()


def read_models(context: str) -> tuple[type[models.Model], ...]:
    return importlib.import_module(f"{context}.projections").READ_MODELS


def table(model: type[models.Model]) -> list[dict[str, object]]:
    return list(model.objects.order_by("pk").values())


@pytest.mark.parametrize("context", CONTEXTS)
def test_a_rebuild_equals_what_the_projectors_wrote(scenario, context):
    live = {model.__name__: table(model) for model in read_models(context)}
    assert all(live.values()), "the scenario leaves rows in every read model"
    for model in reversed(read_models(context)):
        model.objects.all().delete()

    importlib.import_module(f"{context}.services").rebuild_read_models()

    assert {model.__name__: table(model) for model in read_models(context)} == live


def test_the_audit_finds_the_live_read_models_equal_to_their_events(scenario):
    check = check_read_models()
    assert check.ok, check.violations
    assert check.checked > 0
