"""Rotating `SECRET_KEY` the Django way (the old key moved to `SECRET_KEY_FALLBACKS`) keeps
the payment tokens sealed under the old key readable, so orders in flight still confirm."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from rest_framework.test import APIClient

from common.sealing import seal, unseal
from inventory import services as inventory
from orders.models import OrderView
from outbox.models import Event
from payments.models import GatewayLedgerEntry
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])

OLD_SECRET = "old-secret-key-0123456789-0123456789-0123456789-0123456789-abcdef"
NEW_SECRET = "new-secret-key-9876543210-9876543210-9876543210-9876543210-fedcba"
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "London",
           "postal_code": "N1 9GU", "country": "GB"}


def test_a_token_sealed_before_the_rotation_opens_after_it_and_the_order_confirms():
    inventory.add_product("SKU-1", "Widget", Decimal("12.50"))
    inventory.receive_goods("SKU-1", 10)
    client = APIClient()
    client.force_authenticate(User.objects.create_user("ada", "ada@example.com", "pw"))

    with override_settings(SECRET_KEY=OLD_SECRET, SECRET_KEY_FALLBACKS=[],
                           PAYMENT_TOKEN_KEY=""):
        response = client.post("/api/orders/", {
            "lines": [{"sku": "SKU-1", "quantity": 2}], "shipping_address": ADDRESS,
            "payment": {"token": "tok_ok"}}, format="json")
        assert response.status_code == 202, response.content
        order_id = response.json()["id"]
        sealed = Event.objects.get(stream_id=order_id,
                                   event_type="orders.OrderPlaced").payload["payment_token"]

    # Mid-saga: the secret is rotated before any delivery ran.
    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET],
                           PAYMENT_TOKEN_KEY=""):
        assert unseal(sealed) == "tok_ok"
        assert unseal(seal("tok_ok")) == "tok_ok"  # the new key seals
        drain()

    assert OrderView.objects.get(id=order_id).status == "confirmed"
    assert GatewayLedgerEntry.objects.filter(order_id=order_id).exists()
