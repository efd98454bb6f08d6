"""A reconciler pass costs in proportion to the drift, not to the number of orders: counted in
SQL queries (never in time), a pass over 10,000 converged sagas plus 5 drifted ones issues
exactly the queries of a pass over the 5 alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory import services as inventory
from outbox.models import Delivery
from saga.models import OrderSaga, ReconciliationAction
from saga.reconciler import PassReport, run_pass
from tests.saga_world import (
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
)

pytestmark = pytest.mark.django_db(databases=["default", "providers"])


@pytest.fixture(autouse=True)
def steps_stall_at_once(settings: Any) -> None:
    settings.SAGA_STEP_DEADLINE_SECONDS = 0
    # Sagas acted on wait an hour for their next check, so however slow the machine, the
    # second pass sees only the second batch.
    settings.SAGA_BACKOFF_BASE_SECONDS = 3600
    settings.SAGA_BACKOFF_CAP_SECONDS = 3600


def stalled_sagas(customer: User, count: int) -> list[str]:
    """Orders whose stock is held and whose charge never happened, with nothing in flight
    (their messages all handled): each needs the reconciler to ask the payment to settle."""
    ids = []
    for _ in range(count):
        order_id = place(customer)
        inventory.reserve_stock(order_id, [("SKU-1", 2)])
        ids.append(order_id)
    Delivery.objects.filter(event__correlation_id__in=ids).update(status="done")
    return ids


def converged_sagas(count: int) -> None:
    now = timezone.now()
    OrderSaga.objects.bulk_create([
        OrderSaga(order_id=f"old-{i:05d}", state=OrderSaga.State.CONVERGED, gap=0,
                  order_status="confirmed", stock="committed", shipment="booked",
                  current_step="done", started_at=now - timedelta(days=1), converged_at=now)
        for i in range(count)
    ], batch_size=2000)


def counted_pass() -> tuple[int, PassReport]:
    with (CaptureQueriesContext(connection) as default,
          CaptureQueriesContext(connections["providers"]) as providers):
        report = run_pass()
    return len(default) + len(providers), report


def test_a_pass_over_ten_thousand_converged_sagas_costs_what_the_drifted_ones_cost(
        catalogue, customer):
    drifted = stalled_sagas(customer, 5)
    alone, first = counted_pass()
    assert sorted(o.order_id for o in first.outcomes) == sorted(drifted)
    assert {a.kind for a in first.actions} == {"retry_payment"}

    converged_sagas(10_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE saga_ordersaga")
    drifted_again = stalled_sagas(customer, 5)
    among_many, second = counted_pass()

    assert sorted(o.order_id for o in second.outcomes) == sorted(drifted_again)
    assert among_many == alone
    assert ReconciliationAction.objects.filter(kind="retry_payment").count() == 10


def test_the_due_sagas_are_found_through_the_partial_index(catalogue, customer):
    converged_sagas(10_000)
    stalled_sagas(customer, 5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE saga_ordersaga")
        cursor.execute("EXPLAIN SELECT order_id FROM saga_ordersaga WHERE NOT (state = "
                       "'converged') AND next_check_at <= now() ORDER BY next_check_at LIMIT 200")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "saga_due_idx" in plan, plan
