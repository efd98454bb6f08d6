"""Outages cancel nothing (issue 10 item 5): a payment gateway that is down for a while makes
the charge step wait and retry, past the outbox's attempt limit, while the step's outage budget
lasts; the orders are confirmed once it is back. An outage that outlasts the budget ends in
compensation (orders cancelled, stock released, nothing charged). Real PostgreSQL, Redis, a
Celery worker and beat (sweep and reconciler every second); the outage and the budget are
compressed by settings (`PAYMENTS_OUTAGE_SECONDS`, `SAGA_PROVIDER_OUTAGE_BUDGET_SECONDS`)."""

from __future__ import annotations

import pytest

from inventory.models import Stock
from orders.models import OrderView
from outbox.models import Delivery
from payments.models import GatewayCall, GatewayLedgerEntry
from saga.models import ReconciliationAction
from tests.conftest import wait_for
from tests.saga_world import (
    FAST,
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
)

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "providers"]),
              pytest.mark.e2e]

ORDERS = 4
# Beat runs the sweep and the reconciler every second; a stalled step is due after 1 s and
# compensated after 2 retries; the outbox gives up on an ordinary failure after 4 attempts
# (seconds). Only waiting out the outage keeps these orders alive through it.
QUICK = {**FAST, "SAGA_RECONCILE_INTERVAL_SECONDS": "1", "OUTBOX_SWEEP_INTERVAL_SECONDS": "1",
         "OUTBOX_SWEEP_GRACE_SECONDS": "1", "OUTBOX_MAX_ATTEMPTS": "4",
         "OUTBOX_RETRY_LATER_CAP_SECONDS": "2", "SAGA_BUDGET_SECONDS": "3600"}


def statuses(order_ids: list[str]) -> list[str]:
    return sorted(OrderView.objects.filter(id__in=order_ids).values_list("status", flat=True))


def outage_answers() -> int:
    return GatewayCall.objects.using("providers").filter(detail="outage").count()


def start(start_worker, start_beat, **env: str) -> None:
    settings_env = {**QUICK, **env}
    start_worker(**settings_env)
    start_beat(**settings_env)


def test_an_outage_within_the_budget_is_waited_out_and_every_order_confirmed(
        catalogue, customer, start_worker, start_beat):
    # Placed first, so their charges meet the outage, which starts with the worker.
    order_ids = [place(customer) for _ in range(ORDERS)]
    start(start_worker, start_beat, PAYMENTS_OUTAGE_SECONDS="25",
          SAGA_PROVIDER_OUTAGE_BUDGET_SECONDS="300")

    # The gateway refuses the charges while it is down...
    wait_for(lambda: outage_answers() >= ORDERS, timeout=30, message="the outage to bite")
    # ... and the orders wait: every one is confirmed once it is back.
    wait_for(lambda: statuses(order_ids) == ["confirmed"] * ORDERS, timeout=120, interval=0.5,
             message=f"every order confirmed (now {statuses(order_ids)})")

    # Nothing was dead-lettered (and replayed) or compensated on the way.
    assert not ReconciliationAction.objects.filter(
        kind__in=["compensate", "replay_dead_deliveries"]).exists()
    assert not Delivery.objects.filter(status="dead").exists()
    # The charge step went past the outbox's attempt limit without being dead-lettered.
    assert Delivery.objects.filter(handler="payments.charge_payment", attempts__gt=4).exists()
    charges = GatewayLedgerEntry.objects.using("providers").filter(
        order_id__in=order_ids, kind="charge")
    assert charges.count() == ORDERS


def test_an_outage_past_the_budget_compensates_the_orders(
        catalogue, customer, start_worker, start_beat):
    order_ids = [place(customer) for _ in range(ORDERS)]
    start(start_worker, start_beat, PAYMENTS_OUTAGE_SECONDS="600",
          SAGA_PROVIDER_OUTAGE_BUDGET_SECONDS="6")

    wait_for(lambda: statuses(order_ids) == ["cancelled"] * ORDERS, timeout=90, interval=0.5,
             message=f"every order cancelled (now {statuses(order_ids)})")
    wait_for(lambda: Stock.objects.get(sku="SKU-1").held == 0, timeout=30,
             message="the stock released")

    assert outage_answers() >= ORDERS
    assert not GatewayLedgerEntry.objects.using("providers").filter(
        order_id__in=order_ids).exists(), "nothing was charged"
    compensations = ReconciliationAction.objects.filter(kind="compensate",
                                                        saga_id__in=order_ids)
    assert {a.saga_id for a in compensations} == set(order_ids)
    assert all("unavailable" in a.reason for a in compensations)
