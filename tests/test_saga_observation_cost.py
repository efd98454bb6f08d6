"""The reconciler's observation reads the contexts through their selectors and the providers
through their ports in bulk: observing many orders issues the queries of observing one, on our
database and on the providers' books alike (counted in queries, never in time)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test.utils import CaptureQueriesContext

from saga.models import OrderSaga
from saga.observation import observe
from shipping import carrier
from shipping.domain import idempotency_key
from tests.saga_world import (
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
)
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(databases=["default", "providers"])


def queries_to_observe(order_ids: list[str]) -> tuple[int, int]:
    sagas = list(OrderSaga.objects.filter(order_id__in=order_ids))
    with CaptureQueriesContext(connections["default"]) as ours, \
            CaptureQueriesContext(connections["providers"]) as providers:
        seen = observe(sagas)
    assert set(seen) == set(order_ids)
    return len(ours), len(providers)


def test_observing_many_orders_costs_the_queries_of_observing_one(catalogue: None,
                                                                 customer: User):
    order_ids = [place(customer) for _ in range(8)]
    drain()
    # One booking cancelled at the carrier, so the orders do not all look alike.
    carrier.SimulatedCarrier().cancel(idempotency_key(order_ids[0]))

    one = queries_to_observe(order_ids[:1])
    many = queries_to_observe(order_ids)

    assert many == one
    seen = observe(list(OrderSaga.objects.filter(order_id__in=order_ids)))
    assert all(obs.order is not None and obs.payment_captured and obs.own_charge is not None
               for obs in seen.values())
    assert [len(obs.live_bookings) for obs in seen.values()].count(0) == 1
