"""Who sees and cancels what: anonymous (401), the owner, another customer (404), staff."""

import pytest

from orders.models import OrderView

from .conftest import order_body, written

# The order's saga block reads the providers' books too.
pytestmark = pytest.mark.django_db(databases=["default", "providers"])


@pytest.fixture
def alices_order(place):
    return place("alice")


@pytest.mark.parametrize("who, expected", [(None, 401), ("alice", 200), ("bob", 404),
                                           ("staff", 200)])
def test_reading_alices_order(client_for, alices_order, who, expected):
    response = client_for(who).get(f"/api/orders/{alices_order}/")
    assert response.status_code == expected
    if expected == 200:
        assert response.json()["id"] == alices_order


@pytest.mark.parametrize("who, expected", [(None, 401), ("alice", 202), ("bob", 404),
                                           ("staff", 202)])
def test_cancelling_alices_order(client_for, alices_order, who, expected):
    before = written()
    response = client_for(who).post(f"/api/orders/{alices_order}/cancel/")
    assert response.status_code == expected
    status = OrderView.objects.get(pk=alices_order).status
    if expected == 202:
        assert status == "cancelled"
    else:
        assert status == "pending"
        assert written() == before


@pytest.mark.parametrize("who, sees", [("alice", {"alice"}), ("bob", {"bob"}),
                                       ("staff", {"alice", "bob"})])
def test_listing_shows_customers_their_own_orders_and_staff_all(client_for, place, who, sees):
    place("alice")
    place("alice")
    place("bob")
    response = client_for(who).get("/api/orders/")
    assert response.status_code == 200
    owners = {order["customer"] for order in response.json()["results"]}
    assert owners == sees
    expected = {"alice": 2, "bob": 1, "staff": 3}[who]
    assert len(response.json()["results"]) == expected  # staff pages by cursor: no count


def test_anonymous_may_not_list_orders(client_for, place):
    place("alice")
    response = client_for(None).get("/api/orders/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_anonymous_may_not_place_an_order(client_for, catalogue):
    before = written()
    response = client_for(None).post("/api/orders/", order_body(), format="json")
    assert response.status_code == 401
    assert written() == before


def test_a_wrong_token_is_a_401(client_for, catalogue):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get("/api/orders/").status_code == 401


@pytest.mark.parametrize("who", ["alice", "staff"])
@pytest.mark.parametrize("order_id", ["not-a-uuid", "123", "00000000-0000-0000-0000-000000000000",
                                      "%20", "..."])
def test_a_malformed_or_unknown_order_id_is_a_json_404(client_for, catalogue, who, order_id):
    client = client_for(who)
    for response in (client.get(f"/api/orders/{order_id}/"),
                     client.post(f"/api/orders/{order_id}/cancel/")):
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "detail": "No such order."}


def test_session_login_works_for_the_browsable_api(users, place):
    from rest_framework.test import APIClient

    order_id = place("alice")
    client = APIClient()
    client.force_login(users["alice"])
    assert client.get(f"/api/orders/{order_id}/").status_code == 200
    assert client.get("/api/orders/", HTTP_ACCEPT="text/html").status_code == 200
