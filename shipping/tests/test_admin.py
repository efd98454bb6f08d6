"""An operator can read the shipments and the carrier's ledger in the admin."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User
from django.test import Client

from shipping.tests.facts import BOOK, captured, placed
from tests.support.delivery import announce

pytestmark = pytest.mark.django_db(databases=["default", "providers"])


def test_shipments_and_the_carrier_ledger_are_listed(settings):
    operator = Client()
    operator.force_login(User.objects.create_superuser("olga", "olga@example.com", None))
    order_id = uuid.uuid4().hex
    announce(placed(order_id), BOOK)
    announce(captured(order_id), BOOK)

    shipments = operator.get("/admin/shipping/shipment/")
    assert shipments.status_code == 200 and order_id in shipments.content.decode()
    ledger = operator.get("/admin/shipping/carrierledgerentry/", {"q": order_id})
    assert ledger.status_code == 200 and order_id in ledger.content.decode()
