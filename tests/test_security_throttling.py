"""Throttles: order placement per user, signing in per client address and per account, the
admin's login form per client address, all configurable, and holding across web processes
because their counters live in Redis (the cache).

The cross-process test runs two gunicorn servers of one process each on the test database: a
client that spreads its requests over them gets no more than the rate in all, where a
per-process counter would give it the rate at each.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from config.api_errors import INVALID_DETAIL
from inventory import services as inventory
from tests.conftest import ROOT, Proc, wait_for
from tests.support.people import token_for

pytestmark = pytest.mark.usefixtures("fresh_throttles")

ADDRESS = {"name": "Ada", "line1": "1 Way", "city": "Town", "postal_code": "12345",
           "country": "DE"}
ORDER = {"lines": [{"sku": "SKU-1", "quantity": 1}], "shipping_address": ADDRESS}


@pytest.fixture
def rates(settings: Any) -> Callable[..., None]:
    def set_rates(**rates: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                       **rates}}

    return set_rates


def sign_in(client: APIClient, password: str, address: str = "192.0.2.1", username: str = "alice",
            **headers: str) -> Any:
    return client.post("/api/auth/token/", {"username": username, "password": password},
                       format="json", REMOTE_ADDR=address, **headers)


@pytest.mark.django_db
def test_the_rates_come_from_the_environment():
    probe = ("import django; django.setup(); from django.conf import settings; "
             "print(json.dumps(settings.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']))")
    env = {**os.environ, "ORDER_THROTTLE_RATE": "7/hour", "AUTH_THROTTLE_RATE": "3/minute",
           "AUTH_ACCOUNT_THROTTLE_RATE": "5/hour", "ADMIN_LOGIN_THROTTLE_RATE": "4/minute",
           "DJANGO_SETTINGS_MODULE": "tests.settings"}
    out = subprocess.run([sys.executable, "-c", f"import json; {probe}"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(out) == {"place_order": "7/hour", "auth_token": "3/minute",
                               "auth_account": "5/hour", "admin_login": "4/minute"}


@pytest.mark.django_db
def test_signing_in_gives_a_new_token_and_wrong_credentials_a_400():
    user = get_user_model().objects.create_user("alice", "alice@example.com", "s3cret-pass")
    client = APIClient()
    first = sign_in(client, "s3cret-pass")
    assert first.status_code == 200
    [stored] = AuthToken.objects.filter(user=user)
    assert first.json()["token"].startswith(stored.token_key)  # only a prefix is kept
    assert sign_in(client, "s3cret-pass").json() != first.json()  # a new one each time
    wrong = sign_in(client, "guess")
    assert wrong.status_code == 400
    assert wrong.json() == {"code": "invalid", "detail": INVALID_DETAIL,
                            "non_field_errors": ["Unable to log in with provided credentials."]}
    stale = APIClient()
    stale.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert sign_in(stale, "s3cret-pass").status_code == 200, "a stale header must not block"


@pytest.mark.django_db
def test_signing_in_is_throttled_per_client_address_whatever_the_headers_say(rates):
    rates(auth_token="3/minute")
    get_user_model().objects.create_user("alice", "alice@example.com", "s3cret-pass")
    client = APIClient()
    for attempt in range(3):
        assert sign_in(client, f"guess-{attempt}").status_code == 400
    throttled = sign_in(client, "s3cret-pass")  # even the right password, now
    assert throttled.status_code == 429
    assert "throttled" in throttled.json()["detail"]
    forged = sign_in(client, "s3cret-pass", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert forged.status_code == 429, "a forged X-Forwarded-For must not reset the count"
    assert sign_in(client, "s3cret-pass", address="192.0.2.2").status_code == 200


@pytest.mark.django_db
def test_signing_in_is_throttled_per_account_from_any_address(rates):
    rates(auth_token="100/minute", auth_account="3/minute")
    users = get_user_model().objects
    users.create_user("alice", "alice@example.com", "s3cret-pass")
    users.create_user("bob", "bob@example.com", "bobs-pass")
    client = APIClient()
    for attempt in range(3):  # a distributed guesser: a new address each time
        assert sign_in(client, f"guess-{attempt}", address=f"203.0.113.{attempt}").status_code \
            == 400
    assert sign_in(client, "s3cret-pass", address="203.0.113.99").status_code == 429
    assert sign_in(client, "s3cret-pass", address="203.0.113.99",
                   username="ALICE").status_code == 429, "the account, whatever its case"
    assert sign_in(client, "bobs-pass", address="203.0.113.99",
                   username="bob").status_code == 200, "another account is not locked out"


@pytest.mark.django_db
def test_behind_the_proxy_each_client_has_its_own_sign_in_bucket(rates, settings):
    # NUM_PROXIES=1: the TLS proxy appends the client's address; every request comes from it.
    rates(auth_token="2/minute", auth_account="100/minute")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    get_user_model().objects.create_user("alice", "alice@example.com", "s3cret-pass")
    client = APIClient()
    proxy = "10.0.0.2"
    for attempt in range(2):
        assert sign_in(client, f"guess-{attempt}", address=proxy,
                       HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 400
    assert sign_in(client, "s3cret-pass", address=proxy,
                   HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    assert sign_in(client, "s3cret-pass", address=proxy,
                   HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 200


@pytest.mark.django_db
def test_the_admin_login_form_is_throttled_per_client_address(rates, settings):
    rates(admin_login="3/minute")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    get_user_model().objects.create_user("root", "root@example.com", "r00t-pass",
                                         is_staff=True)
    client = Client()

    def post(password: str, forwarded: str) -> Any:
        return client.post("/admin/login/", {"username": "root", "password": password},
                           REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    assert client.get("/admin/login/", REMOTE_ADDR="10.0.0.2").status_code == 200
    for attempt in range(3):
        assert post(f"guess-{attempt}", "198.51.100.1").status_code == 200  # the form again
    throttled = post("r00t-pass", "198.51.100.1")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    assert post("r00t-pass", "198.51.100.2").status_code == 302, "another client signs in"


@pytest.mark.django_db
def test_order_placement_is_throttled_per_user(rates):
    rates(place_order="2/minute")
    inventory.add_product("SKU-1", "Widget", Decimal("12.50"))
    inventory.receive_goods("SKU-1", 100)
    users = get_user_model().objects
    clients = {}
    for name in ("alice", "bob"):
        clients[name] = APIClient()
        key = token_for(users.create_user(name, f"{name}@example.com"))
        clients[name].credentials(HTTP_AUTHORIZATION=f"Token {key}")
    for _ in range(2):
        assert clients["alice"].post("/api/orders/", ORDER, format="json").status_code == 202
    assert clients["alice"].post("/api/orders/", ORDER, format="json").status_code == 429
    assert clients["bob"].post("/api/orders/", ORDER, format="json").status_code == 202
    assert clients["alice"].get("/api/orders/").status_code == 200, "reading is not throttled"


# --- across processes ---------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def two_web_processes(process_env: dict[str, str]) -> Iterator[list[str]]:
    """Two gunicorn servers, one process each, on the test database and the shared cache."""
    servers: list[Proc] = []
    urls = []
    env = {**process_env, "WEB_WORKERS": "1", "WEB_THREADS": "2", "LOG_FORMAT": "text",
           "AUTH_THROTTLE_RATE": "3/minute", "ORDER_THROTTLE_RATE": "3/minute"}
    for _ in range(2):
        port = free_port()
        servers.append(Proc([sys.executable, "-m", "gunicorn", "config.wsgi"],
                            {**env, "PORT": str(port)}, f"web-{port}", ready="Booting worker"))
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        wait_for(lambda url=url: call(url, "GET", "/healthz")[0] == 200, timeout=30,
                 message=f"{url} to answer")
    yield urls
    for server in servers:
        server.stop()


def call(base: str, method: str, path: str, body: dict[str, Any] | None = None,
         token: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:  # not listening yet
        return 0, str(error)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_throttles_hold_across_web_processes(two_web_processes, broker):
    first, second = two_web_processes
    inventory.add_product("SKU-1", "Widget", Decimal("12.50"))
    inventory.receive_goods("SKU-1", 100)
    user = get_user_model().objects.create_user("alice", "alice@example.com", "s3cret-pass")
    key = token_for(user)

    signing_in = [call(base, "POST", "/api/auth/token/",
                       {"username": "alice", "password": "s3cret-pass"})[0]
                  for base in (first, second, first, second)]
    assert signing_in == [200, 200, 200, 429]

    placing = [call(base, "POST", "/api/orders/", ORDER, token=key)[0]
               for base in (second, first, second, first)]
    assert placing == [202, 202, 202, 429]
