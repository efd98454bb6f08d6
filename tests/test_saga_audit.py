"""`manage.py audit` passes on a clean run and fails on each kind of violation planted in the
data, naming the broken invariant. Orders run through the real handlers, in-process (`drain`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from inventory.models import Stock
from orders.models import OrderView
from outbox.models import Delivery
from payments.models import GatewayLedgerEntry
from saga.audit.run import run_audit
from saga.models import OrderSaga
from shipping.models import CarrierLedgerEntry
from tests.saga_world import (
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
)
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])


@pytest.fixture
def orders(catalogue: None, customer: User) -> dict[str, str]:
    placed = {"confirmed": place(customer), "declined": place(customer, token="tok_decline")}
    drain()
    return placed


def broken(strict: bool = True) -> dict[int, list[str]]:
    return {c.number: c.violations for c in run_audit(strict=strict) if not c.ok}


def test_a_clean_run_passes_every_invariant(orders, capsys):
    assert broken() == {}
    call_command("audit", "--strict")
    assert "all invariants hold" in capsys.readouterr().out


def lose_a_delivery(orders: dict[str, str]) -> None:
    Delivery.objects.filter(event__correlation_id=orders["confirmed"],
                            handler="inventory.commit_stock").delete()


def kill_a_delivery(orders: dict[str, str]) -> None:
    Delivery.objects.filter(event__correlation_id=orders["confirmed"],
                            handler="orders.send_confirmation_email").update(
        status="dead", last_error="SMTPServerDisconnected: gone")


def lose_stock(orders: dict[str, str]) -> None:
    Stock.objects.filter(sku="SKU-1").update(on_hand=90)


def hold_too_much(orders: dict[str, str]) -> None:
    Stock.objects.filter(sku="SKU-2").update(held=3)


def charge_twice(orders: dict[str, str]) -> None:
    GatewayLedgerEntry.objects.using("providers").create(
        entry_id="ch_twice", kind="charge", idempotency_key="twice", order_id=orders["confirmed"],
        amount="25.00")


def ship_a_cancelled_order(orders: dict[str, str]) -> None:
    CarrierLedgerEntry.objects.using("providers").create(
        idempotency_key="stray", shipment_id="shp_stray", tracking_code="T",
        order_id=orders["declined"], address={})


def leave_a_saga_running(orders: dict[str, str]) -> None:
    OrderSaga.objects.filter(order_id=orders["confirmed"]).update(
        state="running", gap=1, started_at=timezone.now() - timedelta(days=1))


def attention_without_a_reason(orders: dict[str, str]) -> None:
    OrderSaga.objects.filter(order_id=orders["declined"]).update(
        state="needs_attention", attention_reason="")


def alter_a_read_model(orders: dict[str, str]) -> None:
    OrderView.objects.filter(id=orders["confirmed"]).update(total="1.00")


@pytest.mark.parametrize(("plant", "invariant", "words"), [
    (lose_a_delivery, 1, "no delivery to inventory.commit_stock"),
    (kill_a_delivery, 1, "is dead: SMTPServerDisconnected"),
    (lose_stock, 2, "on hand 90 + shipped 2 != received 100"),
    (hold_too_much, 2, "held 3 but the reservations hold 0"),
    (charge_twice, 3, "the gateway's net is 50.00, it should be 25.00"),
    (ship_a_cancelled_order, 4, "cancelled with 1 live shipment"),
    (leave_a_saga_running, 5, "is still running"),
    (attention_without_a_reason, 5, "gives no reason"),
    (alter_a_read_model, 6, "order view"),
])
def test_each_planted_violation_fails_its_invariant(
        orders, plant: Callable[[dict[str, str]], None], invariant: int, words: str):
    plant(orders)
    failed = broken()
    assert invariant in failed, failed
    assert any(words in v for v in failed[invariant]), failed[invariant]


def test_the_command_exits_non_zero_and_reports_in_json(orders, capsys):
    charge_twice(orders)
    with pytest.raises(SystemExit) as exit_:
        call_command("audit", "--json")
    assert exit_.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    money = next(c for c in report["checks"] if c["invariant"] == 3)
    assert money["violation_count"] == 1 and not money["ok"]


def test_a_young_saga_in_flight_is_not_a_violation_unless_strict(catalogue, customer):
    place(customer)  # nothing delivered yet: pending, in flight, within its budget
    assert 5 not in broken(strict=False)
    assert "is still running" in broken(strict=True)[5][0]
