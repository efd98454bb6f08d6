"""What an operator sees: the payment with its money, and the provider's books."""

import uuid

import pytest

from common.sealing import seal
from payments import services
from payments.tests.facts import TOTAL

pytestmark = [pytest.mark.django_db(databases=["default", "providers"]),
              pytest.mark.usefixtures("provider_connection_closed_after")]


def test_an_operator_sees_a_captured_payment_and_its_ledger_entry(admin_client):
    order_id = uuid.uuid4().hex
    services.charge_payment(order_id, amount=TOTAL, token=seal("tok_ok"), stock_held=True)

    payments = admin_client.get("/admin/payments/paymentsnapshot/", {"status": "captured"})
    assert payments.status_code == 200
    assert order_id in payments.content.decode() and "32.25" in payments.content.decode()
    declined = admin_client.get("/admin/payments/paymentsnapshot/", {"status": "declined"})
    assert order_id not in declined.content.decode()

    ledger = admin_client.get("/admin/payments/gatewayledgerentry/", {"q": order_id})
    assert ledger.status_code == 200 and order_id in ledger.content.decode()
    calls = admin_client.get("/admin/payments/gatewaycall/", {"q": f"order-{order_id}-charge"})
    assert calls.status_code == 200 and "succeeded" in calls.content.decode()
