"""Lock races never reach a client (issue 14.3, README "Lock order"): the API's write views and
the deliveries run a transaction that lost a race (deadlock 40P01, serialization failure
40001) again, and the reconciler skips the rows a worker holds instead of waiting for them.

A lost race is made real here: PostgreSQL raises the very error (`RAISE ... USING ERRCODE`)
inside the transaction, so it travels through Django's and psycopg's wrappers as a real one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from orders import services as order_services
from orders.models import OrderView
from outbox import delivery
from outbox.models import Delivery
from saga import corrections, reconciler
from saga.models import ReconciliationAction
from tests.saga_world import (
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
    saga,
)
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "London",
           "postal_code": "N1 9GU", "country": "GB"}


def lose_a_lock_race(sqlstate: str = "40P01") -> None:
    """What PostgreSQL does to the loser of a deadlock: abort its transaction."""
    with connection.cursor() as cursor:
        cursor.execute("DO $$ BEGIN RAISE EXCEPTION 'injected lock race' USING ERRCODE = "
                       f"'{sqlstate}'; END $$")


def losing(func: Callable[..., Any], times: int, sqlstate: str = "40P01") -> Callable[..., Any]:
    """`func`, losing a lock race at the end of its transaction on its first `times` calls."""
    calls = {"n": 0}

    def run(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        with transaction.atomic():
            result = func(*args, **kwargs)
            if calls["n"] <= times:
                lose_a_lock_race(sqlstate)
        return result

    return run


def client_of(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_cancel_that_loses_a_lock_race_is_run_again(catalogue, customer, monkeypatch,
                                                      sqlstate):
    order_id = place(customer)
    monkeypatch.setattr(order_services, "cancel_order",
                        losing(order_services.cancel_order, 2, sqlstate))

    response = client_of(customer).post(f"/api/orders/{order_id}/cancel/")

    assert response.status_code == 202, response.content
    assert OrderView.objects.get(pk=order_id).status == "cancelled"


def test_a_placement_that_loses_a_lock_race_is_placed_once(catalogue, customer, monkeypatch):
    monkeypatch.setattr(order_services, "place_order", losing(order_services.place_order, 1))

    response = client_of(customer).post(
        "/api/orders/", {"lines": [{"sku": "SKU-1", "quantity": 1}],
                         "shipping_address": ADDRESS}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 202, response.content
    assert OrderView.objects.count() == 1


def test_a_race_lost_every_time_is_a_json_503_with_retry_after_and_nothing_written(
        catalogue, customer, monkeypatch):
    order_id = place(customer)
    monkeypatch.setattr(order_services, "cancel_order",
                        losing(order_services.cancel_order, 100))

    response = client_of(customer).post(f"/api/orders/{order_id}/cancel/")

    assert response.status_code == 503
    assert response.json()["code"] == "concurrency_conflict"
    assert response["Retry-After"] == "1"
    assert OrderView.objects.get(pk=order_id).status == "pending"


def test_a_delivery_that_loses_a_lock_race_runs_again_uncharged(catalogue, customer,
                                                                 monkeypatch):
    place(customer)
    first = Delivery.objects.order_by("id").first()
    monkeypatch.setattr(delivery, "_handle", losing(delivery._handle, 2))

    assert delivery.run_delivery(first.id) is delivery.DeliveryResult.DONE

    row = Delivery.objects.get(id=first.id)
    assert (row.status, row.attempts, row.last_error) == ("done", 1, "")


def test_a_group_that_loses_a_lock_race_charges_no_delivery(catalogue, customer, monkeypatch,
                                                            settings):
    settings.OUTBOX_INLINE_HOPS = False
    for _ in range(3):
        place(customer)
    ids = list(Delivery.objects.order_by("id").values_list("id", flat=True))
    monkeypatch.setattr(delivery, "_handle", losing(delivery._handle, 2))

    delivery.run_batch(ids)

    rows = Delivery.objects.filter(id__in=ids)
    assert {(r.status, r.attempts, r.last_error) for r in rows} == {("done", 1, "")}


class OtherConnection:
    """Another session (a worker in the middle of its transaction) that locks rows, while
    this connection gives up on any lock wait after a few seconds instead of hanging."""

    def __init__(self) -> None:
        db = connection.settings_dict
        self.session = psycopg.connect(
            host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432,
            user=db["USER"] or "postgres", password=db["PASSWORD"] or None, dbname=db["NAME"])

    def lock(self, table: str, column: str, value: object) -> None:
        self.session.execute(f"SELECT 1 FROM {table} WHERE {column} = %s FOR UPDATE", [value])

    def release(self) -> None:
        self.session.rollback()


@contextmanager
def another_session() -> Iterator[OtherConnection]:
    other = OtherConnection()
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '3s'")
    try:
        yield other
    finally:
        other.release()
        other.session.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


@contextmanager
def saga_locked_after_the_claim(monkeypatch: pytest.MonkeyPatch,
                                order_id: str) -> Iterator[None]:
    """A worker's event locks the saga row after the pass claimed it and before the pass
    writes it (while the pass observes the participants): the race the claim cannot skip."""
    with another_session() as other:
        observe = reconciler.observe

        def observe_then_lose_the_row(sagas: Any) -> Any:
            other.lock("saga_ordersaga", "order_id", order_id)
            return observe(sagas)

        monkeypatch.setattr(reconciler, "observe", observe_then_lose_the_row)
        yield
        monkeypatch.setattr(reconciler, "observe", observe)


def later(minutes: int) -> timezone.datetime:
    return timezone.now() + timedelta(minutes=minutes)


def test_the_reconciler_skips_a_saga_a_worker_holds_and_acts_once_it_is_free(
        catalogue, customer, settings, monkeypatch):
    settings.SAGA_STEP_DEADLINE_SECONDS = 0
    order_id = place(customer)
    drain(lose="payments.")  # the charge step is stuck: the pass wants to retry it

    with saga_locked_after_the_claim(monkeypatch, order_id):
        reconciler.run_pass(now=later(1))
    assert not ReconciliationAction.objects.exists()

    reconciler.run_pass(now=later(3))  # past the skipped pass's lease
    assert [a.kind for a in ReconciliationAction.objects.all()] == ["retry_payment"]


def test_a_quiet_pass_skips_a_saga_a_worker_holds(catalogue, customer, settings, monkeypatch):
    settings.SAGA_BUDGET_SECONDS = 60
    order_id = place(customer)
    Delivery.objects.update(next_attempt_at=later(60))  # in flight: nothing to correct

    with saga_locked_after_the_claim(monkeypatch, order_id):
        reconciler.run_pass(now=later(2))
    assert saga(order_id).state == "running"

    reconciler.run_pass(now=later(4))
    assert saga(order_id).state == "needs_attention"


def test_sending_deliveries_again_skips_one_a_worker_is_running(catalogue, customer):
    place(customer)
    busy, free = Delivery.objects.order_by("id")[:2]
    sent: list[Any] = []

    with another_session() as worker:
        worker.lock("outbox_delivery", "id", busy.id)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(corrections.relay, "send", lambda batch, **kw: sent.extend(batch))
            with transaction.atomic():
                corrections.send_again([busy, free])
    assert sent == [(free.id, free.queue)]
    assert Delivery.objects.get(id=busy.id).next_attempt_at == busy.next_attempt_at
