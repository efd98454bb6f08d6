"""A broker (Redis) that stops: the API still takes orders and answers reads, readiness says
the broker is down while liveness stays up, and the orders placed meanwhile complete once it is
back, through the outbox sweep, with nobody resending anything.

Everything is real: a redis-server the test started and stops (not a flush), gunicorn, a
Celery worker and beat, all on the test database.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from inventory import services as inventory
from orders.models import OrderView
from outbox.models import Delivery
from tests.conftest import Proc, wait_for
from tests.probe.pings import OUTBOX_TEST_APPS, effect_count, unsent_ping
from tests.probe.workers import is_being_handled
from tests.support.people import token_for

ADDRESS = {"name": "Ada", "line1": "1 Lane", "city": "London", "postal_code": "N1",
           "country": "GB"}


def _customer_token() -> str:
    user = get_user_model().objects.create_user("ada", "ada@example.com", "pw")
    return token_for(user)


def _status(order_id: str) -> str | None:
    return OrderView.objects.filter(pk=order_id).values_list("status", flat=True).first()


def _assert_outlived_the_outage(*procs: Proc) -> None:
    for proc in procs:
        log = proc.output()
        assert proc.popen.poll() is None, f"{proc.name} exited:\n{log[-4000:]}"
        assert "Unrecoverable error" not in log, f"{proc.name} crashed:\n{log[-4000:]}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.e2e
def test_placements_and_reads_outlast_a_stopped_broker(own_redis, process_env, start_web,
                                                        start_worker, start_beat):
    inventory.add_product("SKU-1", "Kettle", Decimal("10.00"))
    inventory.receive_goods("SKU-1", 50)
    auth = {"Authorization": f"Token {_customer_token()}"}
    env = {**process_env, "REDIS_URL": own_redis.url(0)}
    worker = start_worker(REDIS_URL=own_redis.url(0))
    beat = start_beat(REDIS_URL=own_redis.url(0))
    web = start_web(env)

    def place() -> str:
        answer = web.request("POST", "/api/orders/", {"lines": [{"sku": "SKU-1", "quantity": 1}],
                                                       "shipping_address": ADDRESS}, auth)
        assert answer.status == 202, answer.body
        return answer.json()["id"]

    before = place()
    wait_for(lambda: _status(before) == "confirmed", timeout=60, message="a first order")

    own_redis.stop()
    during = [place() for _ in range(3)]
    read = web.request("GET", f"/api/orders/{during[0]}/", headers=auth)
    assert read.status == 200, read.body
    assert web.request("GET", "/api/products/", headers=auth).status == 200
    ready = web.request("GET", "/healthz")
    assert ready.status == 503
    assert set(ready.json()["failed"]) == {"broker"}
    assert web.request("GET", "/livez").status == 200
    assert {_status(order_id) for order_id in during} == {"pending"}

    own_redis.start()
    wait_for(lambda: all(_status(order_id) == "confirmed" for order_id in during), timeout=90,
             interval=0.5, message="the orders placed while the broker was down to complete")
    assert web.request("GET", "/healthz").status == 200
    assert " 500" not in web.output()
    _assert_outlived_the_outage(worker, beat)


@pytest.mark.django_db(transaction=True, available_apps=OUTBOX_TEST_APPS)
@pytest.mark.e2e
def test_a_worker_busy_when_the_broker_stops_finishes_its_task_and_reconnects(
        own_redis, settings, start_worker, start_beat):
    """The crash path: a broker that stops while one task runs (acks_late: its message is
    unacknowledged) and the worker's other process waits for the next message in BRPOP."""
    settings.OUTBOX_SWEEP_GRACE_SECONDS = 0  # the sweep, on the test's own broker, sends them
    worker = start_worker(concurrency=2, REDIS_URL=own_redis.url(0))
    beat = start_beat(REDIS_URL=own_redis.url(0))
    busy = unsent_ping("in-flight", sleep=3.0)
    wait_for(lambda: is_being_handled(busy.id), message="the handler to be running")

    own_redis.stop()
    wait_for(lambda: "Connection to broker lost" in worker.output(),
             message="the worker to notice the broker is gone")
    own_redis.start()
    wait_for(lambda: Delivery.objects.filter(id=busy.id, status="done").exists(), timeout=60,
             message="the task in flight during the outage to finish")

    after = unsent_ping("after-the-outage")
    wait_for(lambda: effect_count("after-the-outage") == 1 or worker.popen.poll() is not None,
             timeout=60, message="a delivery after the outage")
    _assert_outlived_the_outage(worker, beat)
    assert effect_count("in-flight") == 1
    assert Delivery.objects.get(id=after.id).status == "done"


CLOSED_PORT_CACHE = "redis://127.0.0.1:1/0"  # nothing listens on port 1: a refused connection


@pytest.fixture
def cache_down(settings: Any) -> None:
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": CLOSED_PORT_CACHE}}


@pytest.mark.django_db
def test_throttles_count_in_the_process_while_the_cache_is_down(cache_down, settings, broker):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                   "auth_token": "2/minute", "place_order": "2/minute"}}
    inventory.add_product("SKU-1", "Kettle", Decimal("10.00"))
    inventory.receive_goods("SKU-1", 10)
    get_user_model().objects.create_user("alice", "alice@example.com", "right")
    client = APIClient()
    guesses = [client.post("/api/auth/token/", {"username": "alice", "password": "wrong"},
                           format="json").status_code for _ in range(3)]
    assert guesses == [400, 400, 429]  # still limited, per process, not failing open

    client.credentials(HTTP_AUTHORIZATION=f"Token {_customer_token()}")
    body = {"lines": [{"sku": "SKU-1", "quantity": 1}], "shipping_address": ADDRESS}
    placed = [client.post("/api/orders/", body, format="json").status_code for _ in range(3)]
    assert placed == [202, 202, 429]
