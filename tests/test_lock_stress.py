"""Lock races under load (issue 14.3): customers place multi-line orders whose lines come in
opposite orders (A,B and B,A) from several threads, cancel some at once, while reconciler
passes run beside a real Celery worker. No answer is a 500, no log of the API (this process)
or of the worker says "deadlock detected" or shows a traceback, and every order settles."""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections
from rest_framework.test import APIClient

from inventory import services as inventory
from orders.models import OrderView
from saga import reconciler
from saga.models import OrderSaga
from tests.conftest import wait_for
from tests.saga_world import fast_saga_fixture, providers_closed  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "providers"]),
              pytest.mark.e2e]

CUSTOMERS = 4
ORDERS_EACH = 12
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "London",
           "postal_code": "N1 9GU", "country": "GB"}
SKUS = ("SKU-A", "SKU-B", "SKU-C")


class Recorder(logging.Handler):
    """Every log line of this process (web's views, the reconciler), formatted."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


def deadlocks_counted() -> int:
    """PostgreSQL's own count of deadlocks it broke in this database (its log's figure)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = "
                       "current_database()")
        return cursor.fetchone()[0]


def customer(index: int, statuses: list[int], order_ids: list[str]) -> None:
    user = User.objects.get(username=f"c{index}")
    client = APIClient()
    client.force_authenticate(user)
    try:
        for n in range(ORDERS_EACH):
            first, second = ("SKU-A", "SKU-B") if (index + n) % 2 else ("SKU-B", "SKU-A")
            lines = [{"sku": first, "quantity": 1}, {"sku": second, "quantity": 2}]
            if n % 3 == 2:
                lines.append({"sku": "SKU-C", "quantity": 1})
            placed = client.post("/api/orders/", {"lines": lines, "shipping_address": ADDRESS},
                                 format="json")
            statuses.append(placed.status_code)
            if placed.status_code != 202:
                continue
            order_ids.append(placed.json()["id"])
            if n % 3 == 0:  # changes their mind while the saga runs
                statuses.append(client.post(f"/api/orders/{order_ids[-1]}/cancel/").status_code)
    finally:
        connections.close_all()


def reconciling(stop: threading.Event, errors: list[BaseException]) -> None:
    try:
        while not stop.is_set():
            reconciler.verify_converged()
            reconciler.run_pass()
            time.sleep(0.05)
    except BaseException as exc:  # reported by the test, not lost in the thread
        errors.append(exc)
    finally:
        connections.close_all()


def test_opposite_order_lines_cancels_and_reconciler_passes_never_surface_a_deadlock(
        start_worker: Any, broker: Any, fast_saga: dict[str, str]) -> None:
    for sku in SKUS:
        inventory.add_product(sku, sku.title(), Decimal("3.00"))
        inventory.receive_goods(sku, 10_000)
    for index in range(CUSTOMERS):
        User.objects.create_user(f"c{index}", f"c{index}@example.com", "pw")
    worker = start_worker(concurrency=2, **fast_saga)
    recorder = Recorder()
    logging.getLogger().addHandler(recorder)
    deadlocks_before = deadlocks_counted()
    statuses: list[int] = []
    order_ids: list[str] = []
    stop, errors = threading.Event(), []
    try:
        passes = threading.Thread(target=reconciling, args=(stop, errors))
        passes.start()
        customers = [threading.Thread(target=customer, args=(i, statuses, order_ids))
                     for i in range(CUSTOMERS)]
        for thread in customers:
            thread.start()
        for thread in customers:
            thread.join()
        wait_for(lambda: not OrderView.objects.filter(status="pending").exists()
                 and not OrderSaga.objects.exclude(state="converged").exists(),
                 timeout=120, interval=0.5, message="every order to settle")
    finally:
        stop.set()
        passes.join()
        logging.getLogger().removeHandler(recorder)

    assert not errors, errors
    assert 500 not in statuses and set(statuses) <= {200, 202, 409}, statuses
    assert len(order_ids) == CUSTOMERS * ORDERS_EACH
    assert set(OrderView.objects.values_list("status", flat=True)) <= {"confirmed", "cancelled"}
    for name, log in (("worker", worker.output()),
                      ("API and reconciler", "\n".join(recorder.lines))):
        assert "deadlock detected" not in log, f"the {name} log reports a deadlock"
        assert "Traceback" not in log, f"the {name} log shows an error:\n{log[-3000:]}"
    retried = [line for line in recorder.lines + worker.output().splitlines()
               if "lost a lock race" in line]
    print("\n".join(retried))
    print(f"\nlock races retried: {len(retried)}; deadlocks PostgreSQL broke: "
          f"{deadlocks_counted() - deadlocks_before}; answers: "
          f"{ {s: statuses.count(s) for s in set(statuses)} }")
