"""Orders racing for the same stock, each on its own connection (a thread each), against the
real PostgreSQL. The guarded UPDATE's row lock decides: no retry, no oversell, no deadlock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction

from inventory import services
from inventory.events import StockReservationFailed, StockReserved
from inventory.tests.facts import stock_of
from outbox import relay
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def in_thread(target: Callable[[], Any], results: dict[str, Any], name: str) -> threading.Thread:
    """Run `target` on a thread of its own (so on a database connection of its own)."""

    def run() -> None:
        try:
            with relay.suppressed():  # the deliveries stay in the database; no broker needed
                results[name] = target()
        except BaseException as exc:  # reported by the test, not lost in the thread
            results[name] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def sessions_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def stocked(sku: str, quantity: int) -> None:
    with relay.suppressed():
        services.add_product(sku, "Last one", Decimal("5.00"))
        services.receive_goods(sku, quantity)


def test_the_last_unit_raced_by_two_orders_goes_to_exactly_one():
    """The first order holds the unit and keeps its transaction open until the second order's
    UPDATE is queued behind its row lock; then it commits. The second must fail at once."""
    stocked("SKU-LAST", 1)
    first_holds, first_may_commit = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def first() -> list:
        with transaction.atomic():
            events = services.reserve_stock("order-1", [("SKU-LAST", 1)])
            first_holds.set()
            assert first_may_commit.wait(30), "the second order never queued up"
        return events

    def second() -> list:
        assert first_holds.wait(30)
        return services.reserve_stock("order-2", [("SKU-LAST", 1)])

    threads = [in_thread(first, results, "first"), in_thread(second, results, "second")]
    wait_for(lambda: sessions_waiting_on_a_lock() >= 1, timeout=30,
             message="the second order to wait on the first one's row lock")
    first_may_commit.set()
    for thread in threads:
        thread.join(30)

    assert [type(e) for e in results["first"]] == [StockReserved]
    assert results["second"] == [StockReservationFailed("order-2", "out of stock: SKU-LAST")]
    assert stock_of("SKU-LAST") == (1, 1)


def test_a_rolled_back_hold_leaves_the_unit_to_the_order_waiting_for_it():
    stocked("SKU-LAST", 1)
    first_holds, first_may_end = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def first() -> str:
        try:
            with transaction.atomic():
                services.reserve_stock("order-1", [("SKU-LAST", 1)])
                first_holds.set()
                first_may_end.wait(30)
                raise RuntimeError("the delivery failed after holding")
        except RuntimeError:
            return "rolled back"

    def second() -> list:
        assert first_holds.wait(30)
        return services.reserve_stock("order-2", [("SKU-LAST", 1)])

    threads = [in_thread(first, results, "first"), in_thread(second, results, "second")]
    wait_for(lambda: sessions_waiting_on_a_lock() >= 1, timeout=30,
             message="the second order to wait on the first one's row lock")
    first_may_end.set()
    for thread in threads:
        thread.join(30)

    assert results["first"] == "rolled back"
    assert [type(e) for e in results["second"]] == [StockReserved]
    assert stock_of("SKU-LAST") == (1, 1)


def test_many_orders_racing_for_a_few_units_never_oversell():
    stocked("SKU-FEW", 3)
    start = threading.Barrier(8)
    results: dict[str, Any] = {}

    def order(n: int) -> Callable[[], list]:
        def reserve() -> list:
            start.wait(30)
            return services.reserve_stock(f"order-{n}", [("SKU-FEW", 1)])
        return reserve

    threads = [in_thread(order(n), results, f"order-{n}") for n in range(8)]
    for thread in threads:
        thread.join(60)

    outcomes = [type(events[0]) for events in results.values()]
    assert outcomes.count(StockReserved) == 3
    assert outcomes.count(StockReservationFailed) == 5
    assert stock_of("SKU-FEW") == (3, 3)


def test_multi_line_orders_locking_the_same_skus_do_not_deadlock():
    """Lines come in opposite orders; rows are locked in sku order, so no cycle can form
    (a deadlock would surface as an exception in one of the threads)."""
    with relay.suppressed():
        for sku in ("SKU-A", "SKU-B", "SKU-C"):
            services.add_product(sku, sku, Decimal("1.00"))
            services.receive_goods(sku, 1000)
    start = threading.Barrier(6)
    results: dict[str, Any] = {}
    orders = [["SKU-A", "SKU-B", "SKU-C"], ["SKU-C", "SKU-B", "SKU-A"], ["SKU-B", "SKU-A"]]

    def order(n: int) -> Callable[[], list]:
        def reserve() -> list:
            start.wait(30)
            held = []
            for round_ in range(10):
                skus = orders[(n + round_) % len(orders)]
                held += services.reserve_stock(f"o{n}-{round_}", [(s, 1) for s in skus])
            return held

        return reserve

    threads = [in_thread(order(n), results, f"t{n}") for n in range(6)]
    for thread in threads:
        thread.join(120)

    errors = [r for r in results.values() if isinstance(r, BaseException)]
    assert errors == []
    assert all(isinstance(e, StockReserved) for events in results.values() for e in events)
    total_held = sum(stock_of(s)[1] for s in ("SKU-A", "SKU-B", "SKU-C"))
    assert total_held == sum(len(e.lines) for events in results.values() for e in events)
