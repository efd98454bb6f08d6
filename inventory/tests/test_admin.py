"""An operator can read the catalogue with its stock, and the reservations, in the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from inventory import services
from inventory.tests.facts import stocked

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("olga", "olga@example.com", None))
    return client


def test_products_are_listed_with_on_hand_held_and_available(operator):
    stocked(("SKU-1", 10))
    services.reserve_stock("o1", [("SKU-1", 3)])
    page = operator.get("/admin/inventory/product/").content.decode()
    assert "SKU-1" in page
    for figure in ('field-on_hand">10<', 'field-held">3<', 'field-available">7<'):
        assert figure in page


def test_reservations_are_listed_with_status_lines_and_expiry(operator):
    stocked(("SKU-1", 10))
    services.reserve_stock("o1", [("SKU-1", 3)], now=timezone.now() - timedelta(days=1))
    page = operator.get("/admin/inventory/reservation/").content.decode()
    assert "o1" in page and "3 x SKU-1" in page and "held" in page
    assert "&#10006; expired" in page  # a hold past its time reads as a failure, not a tick


def test_the_admin_cannot_edit_stock_by_hand(operator):
    stocked(("SKU-1", 10))
    assert operator.get("/admin/inventory/product/add/").status_code == 403
    assert operator.post("/admin/inventory/product/SKU-1/change/", {"name": "x"}).status_code == 403
