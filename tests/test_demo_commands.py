"""`manage.py seed_demo` and `manage.py rebuild_read_models`, on the real database."""

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from knox.models import AuthToken

from accounts.groups import GROUPS
from orders.models import CatalogueEntry, OrderView
from outbox.models import Event

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def tokens_printed(output: str) -> dict[str, str]:
    listed = output.split("API tokens")[1].splitlines()[1:]
    return {line.split()[0]: line.split()[-1] for line in listed if line.strip()}


def test_seed_demo_creates_a_stocked_catalogue_and_users_and_prints_their_tokens():
    output = run("seed_demo")

    users = get_user_model().objects.in_bulk(["staff", "alice", "bob"], field_name="username")
    assert users["staff"].is_staff and not users["alice"].is_staff
    printed = tokens_printed(output)
    for name, user in users.items():
        [stored] = AuthToken.objects.filter(user=user)
        assert printed[name].startswith(stored.token_key) and stored.digest != printed[name]
    # Production settings (DEBUG off): no superuser; the staff user has the job groups.
    assert not users["staff"].is_superuser
    assert set(users["staff"].groups.values_list("name", flat=True)) == set(GROUPS)
    assert users["staff"].has_perm("inventory.add_product")


def test_seed_demo_makes_the_staff_user_a_superuser_only_with_debug_on():
    with override_settings(DEBUG=True):
        run("seed_demo")
    assert get_user_model().objects.get(username="staff").is_superuser
    assert CatalogueEntry.objects.count() == 7
    assert Event.objects.filter(event_type="inventory.GoodsReceived").count() == 6


def test_seed_demo_run_twice_changes_nothing_the_second_time():
    first = run("seed_demo")
    events = Event.objects.count()

    second = run("seed_demo")

    assert Event.objects.count() == events
    assert get_user_model().objects.count() == 3
    assert "already in the catalogue" in second
    assert tokens_printed(first).keys() == tokens_printed(second).keys()


def test_the_seeded_customer_can_place_an_order_with_the_printed_token(client):
    output = run("seed_demo")
    token = next(line.split()[-1] for line in output.splitlines() if "alice" in line)

    response = client.post(
        "/api/orders/",
        {"lines": [{"sku": "SKU-1", "quantity": 2}],
         "shipping_address": {"name": "Alice", "line1": "1 Main St", "city": "Berlin",
                              "postal_code": "10115", "country": "DE"}},
        content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}",
    )

    assert response.status_code == 202
    assert response.json()["total"] == "49.00"


def test_rebuild_read_models_rebuilds_every_context_and_shows_progress(client):
    output = run("seed_demo")
    token = next(line.split()[-1] for line in output.splitlines() if "bob" in line)
    order_id = client.post(
        "/api/orders/",
        {"lines": [{"sku": "SKU-2", "quantity": 1}],
         "shipping_address": {"name": "Bob", "line1": "2 Side St", "city": "Lyon",
                              "postal_code": "69001", "country": "FR"}},
        content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}",
    ).json()["id"]
    OrderView.objects.all().delete()

    output = run("rebuild_read_models")

    assert OrderView.objects.get(pk=order_id).total == Decimal("89.99")
    for context in ("orders", "inventory", "payments", "shipping", "saga"):
        assert f"{context}:" in output
    # the orders context replays 8 events: 7 products added and 1 order placed
    assert "orders: 8/8 (100%" in output
    assert "orders: done, 8" in output


def test_rebuild_read_models_refuses_an_unknown_context():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown context"):
        run("rebuild_read_models", "--only", "billing")
