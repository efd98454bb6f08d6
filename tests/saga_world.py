"""The world the saga tests run in: a catalogue, a customer, orders placed through the orders
service, and ways to wait for the saga and to run the reconciler the way beat does.

A test module imports the fixtures it uses by their function names (`catalogue_fixture`...);
pytest knows them by their short names (`catalogue`...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connections

from inventory import services as inventory
from orders import services as orders
from orders.events import ShippingAddress
from outbox.models import Delivery
from payments.models import GatewayLedgerEntry
from saga import reconciler
from saga.models import OrderSaga
from shipping.models import CarrierLedgerEntry
from tests.conftest import wait_for

ADDRESS = ShippingAddress(name="Ada Lovelace", line1="1 Analytical Way", city="London",
                          postal_code="N1 9GU", country="GB")
REFUSED = ShippingAddress(name="Ada Lovelace", line1="1 Nowhere", city="London",
                          postal_code="00000", country="GB")
# The timings a saga test runs with, in the test process (settings) and its worker (env).
FAST_SETTINGS: dict[str, float | int] = {
    "SAGA_STEP_DEADLINE_SECONDS": 1.0,
    "SAGA_BACKOFF_BASE_SECONDS": 0.2,
    "SAGA_BACKOFF_CAP_SECONDS": 1.0,
    "SAGA_STEP_RETRIES": 2,
}
FAST = {name: str(value) for name, value in FAST_SETTINGS.items()}


@pytest.fixture(name="fast_saga")
def fast_saga_fixture(settings: Any) -> dict[str, str]:
    """Short deadlines and backoff here; pass the returned env to `start_worker(**env)`."""
    for name, value in FAST_SETTINGS.items():
        setattr(settings, name, value)
    return dict(FAST)


@pytest.fixture(scope="module", autouse=True)
def providers_closed() -> Iterator[None]:
    """The "providers" alias (the simulated providers' own connection) is closed after each
    module, so that the test database can be dropped at the end of the run."""
    yield
    connections["providers"].close()


@pytest.fixture(name="catalogue")
def catalogue_fixture() -> None:
    inventory.add_product("SKU-1", "Widget", Decimal("12.50"))
    inventory.receive_goods("SKU-1", 100)
    inventory.add_product("SKU-2", "Gadget", Decimal("7.25"))
    inventory.receive_goods("SKU-2", 100)


@pytest.fixture(name="customer")
def customer_fixture() -> User:
    return User.objects.create_user("ada", "ada@example.com", "pw")


def place(customer: User, lines: list[tuple[str, int]] | None = None, *, token: str = "tok_ok",
          address: ShippingAddress = ADDRESS) -> str:
    return orders.place_order(customer_id=str(customer.pk), lines=lines or [("SKU-1", 2)],
                              shipping_address=address, payment_token=token)


def saga(order_id: str) -> OrderSaga:
    return OrderSaga.objects.get(order_id=order_id)


def settled(order_id: str, timeout: float = 30) -> OrderSaga:
    """Wait for the saga to converge (the choreography alone, no reconciler)."""
    return wait_for(lambda: OrderSaga.objects.filter(order_id=order_id, state="converged")
                    .first(), timeout=timeout, interval=0.1, message=f"saga {order_id}")


def quiet(timeout: float = 30) -> None:
    wait_for(lambda: not Delivery.objects.filter(status="pending").exists(), timeout=timeout,
             message="every delivery to be handled")


def reconcile_until(done: Callable[[], object], *, timeout: float = 40,
                    message: str = "the saga to converge") -> object:
    """Run the reconciler the way beat does (verify the converged, then a pass over the due)
    until `done()` holds."""

    def step() -> object:
        reconciler.verify_converged()
        reconciler.run_pass()
        return done()

    return wait_for(step, timeout=timeout, interval=0.3, message=message)


def converged(order_id: str) -> Callable[[], bool]:
    return lambda: OrderSaga.objects.filter(order_id=order_id, state="converged").exists()


def ledger_net(order_id: str) -> Decimal:
    net = Decimal("0")
    for kind, amount in GatewayLedgerEntry.objects.using("providers").filter(
            order_id=order_id).values_list("kind", "amount"):
        net += amount if kind == "charge" else -amount
    return net


def live_bookings(order_id: str) -> int:
    return CarrierLedgerEntry.objects.using("providers").filter(
        order_id=order_id, status="booked").count()
