"""What an operator sees of orders in the admin, and the cancel action."""

import pytest
from django.contrib.auth import get_user_model

from orders.models import OrderView

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    admin = get_user_model().objects.create_superuser("operator", "op@example.com")
    client.force_login(admin)
    return client


def test_orders_are_listed_and_found_by_id(operator, place):
    order_id = place("alice")
    place("bob")

    page = operator.get("/admin/orders/orderview/", {"q": order_id})

    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    assert order_id in page.content.decode()
    assert "alice" in page.content.decode()


def test_the_operator_cancels_pending_orders_from_the_list(operator, place):
    order_id = place("alice")

    operator.post("/admin/orders/orderview/", {
        "action": "cancel_orders", "_selected_action": [order_id]})

    view = OrderView.objects.get(pk=order_id)
    assert (view.status, view.reason) == ("cancelled", "cancelled by operator")
