"""How the saga admin presents a saga to an operator: the why early, age sortable, failure
shown as failure, links between an order, its saga, customer and deliveries, and a page whose
panels come first with the raw columns folded away."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from inventory.models import Reservation
from saga.models import OrderSaga
from tests.saga_world import (
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
)
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])
LIST = "/admin/saga/ordersaga/"


@pytest.fixture
def admin_client_() -> Client:
    user = User.objects.create_user("watcher", "w@example.com", "pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=[
        "view_ordersaga", "view_orderview", "view_delivery", "view_event", "view_user"]))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def two_sagas(catalogue: None, customer: User) -> dict[str, str]:
    """An old saga that needs attention after a failed step, and a young converged one."""
    old, young = place(customer), place(customer)
    drain()
    OrderSaga.objects.filter(order_id=old).update(
        state=OrderSaga.State.NEEDS_ATTENTION, step_failed=True, converged_at=None,
        attention_reason="payment answered neither yes nor no",
        started_at=timezone.now() - timedelta(hours=2))
    return {"old": old, "young": young}


def headers(body: str) -> list[str]:
    return re.findall(r'<th scope="col" class="[^"]*column-(\w+)', body)


def test_the_why_comes_early_and_failure_reads_as_failure(two_sagas, admin_client_):
    body = admin_client_.get(LIST).content.decode()
    columns = headers(body)
    assert columns.index("why") < columns.index("age") < columns.index("gap")
    assert "payment answered neither yes nor no" in body
    assert "&#10006; needs attention" in body or "\u2716 needs attention" in body
    assert "icon-yes" not in body  # nothing that means failure is a green tick


def test_age_sorts_by_when_the_saga_started(two_sagas, admin_client_):
    age = headers(admin_client_.get(LIST).content.decode()).index("age")
    assert age >= 0
    oldest_first = admin_client_.get(f"{LIST}?o=-{age}").content.decode()
    youngest_first = admin_client_.get(f"{LIST}?o={age}").content.decode()
    assert oldest_first.index(two_sagas["old"]) < oldest_first.index(two_sagas["young"])
    assert youngest_first.index(two_sagas["young"]) < youngest_first.index(two_sagas["old"])


def test_order_saga_customer_and_deliveries_link_each_other(two_sagas, admin_client_,
                                                            customer):
    order_id = two_sagas["young"]
    listing = admin_client_.get(LIST).content.decode()
    page = admin_client_.get(f"{LIST}{order_id}/change/").content.decode()
    deliveries = f"/admin/outbox/delivery/?q={order_id}"
    for body in (listing, page):
        assert f"/admin/orders/orderview/{order_id}/change/" in body
        assert f"/admin/auth/user/{customer.pk}/change/" in body
        assert deliveries in body
    orders = admin_client_.get("/admin/orders/orderview/").content.decode()
    assert f"/admin/saga/ordersaga/{order_id}/change/" in orders and deliveries in orders
    filtered = admin_client_.get(deliveries)
    assert filtered.status_code == 200
    assert "orders.OrderPlaced" in filtered.content.decode()


def test_the_page_shows_its_panels_first_and_folds_the_raw_fields(two_sagas, admin_client_):
    body = admin_client_.get(f"{LIST}{two_sagas['old']}/change/").content.decode()
    order = [body.index(h) for h in ("Why", "Act", "Participants: desired and observed",
                                     "Timeline", "Raw fields")]
    assert order == sorted(order)
    raw = body[body.index("Raw fields") - 400:body.index("Raw fields")]
    assert "collapse" in raw and "<details" in raw
    assert "&#10006; needs attention" in body


def test_the_page_draws_the_saga_as_a_swimlane_of_participants(two_sagas, admin_client_):
    body = admin_client_.get(f"{LIST}{two_sagas['young']}/change/").content.decode()
    svg = body[body.index('<div class="saga-swimlane"'):]
    svg = svg[:svg.index("</svg>")]
    lanes = re.findall(r'data-lane-row="(\w+)"', svg)
    assert lanes[:5] == ["orders", "inventory", "payments", "shipping", "reconciler"]
    marks = re.findall(r'data-lane="(\w+)" data-label="([\w.]+)"', svg)
    assert ("orders", "orders.OrderPlaced") in marks
    assert ("inventory", "inventory.StockReserved") in marks
    assert {lane for lane, _ in marks} >= {"orders", "inventory", "payments", "shipping"}
    for lane, label in marks:  # each event in the lane of the context that wrote it
        assert label.split(".")[0] == lane or lane == "reconciler"


def test_an_expired_hold_reads_as_failure_not_as_a_tick():
    column = admin.site._registry[Reservation].expired
    past, future = timezone.now() - timedelta(minutes=1), timezone.now() + timedelta(minutes=1)
    expired = str(column(Reservation(status=Reservation.Status.HELD, expires_at=past)))
    held = str(column(Reservation(status=Reservation.Status.HELD, expires_at=future)))
    assert "&#10006; expired" in expired and "#a61b0f" in expired
    assert "expired" not in held and "#a61b0f" not in held
