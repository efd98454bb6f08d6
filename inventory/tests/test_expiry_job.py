"""The expiry job against the real PostgreSQL: holds past their time give their units back,
a bounded batch at a time, oldest first, skipping a reservation another transaction writes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from inventory import selectors, services
from inventory.events import (
    ReservationExpired,
    ReservedLine,
    StockReservationFailed,
    StockReserved,
)
from inventory.models import Reservation
from inventory.tests.facts import reservation_events, stock_of, stocked

HOUR = timedelta(hours=1)


@pytest.mark.django_db
def test_expired_holds_give_their_units_back_once(settings):
    settings.INVENTORY_HOLD_SECONDS = 60
    stocked(("SKU-1", 5))
    services.reserve_stock("o1", [("SKU-1", 2)])
    services.reserve_stock("o2", [("SKU-1", 1)], now=timezone.now() + HOUR)  # still in time
    later = timezone.now() + timedelta(seconds=61)

    assert services.expire_holds(now=later) == ["o1"]

    assert reservation_events("o1")[-1] == ReservationExpired(
        "o1", (ReservedLine("SKU-1", 2),),
        Reservation.objects.get(order_id="o1").expires_at.isoformat(), "hold expired")
    assert stock_of("SKU-1") == (5, 1), "o1's two units are free again, o2's one still held"
    assert Reservation.objects.get(order_id="o1").status == "expired"
    assert services.expire_holds(now=later) == [], "a second run finds nothing"
    [figures] = selectors.stock_figures()
    assert figures.held == figures.held_by_reservations == 1, "the events say the same"


@pytest.mark.django_db
def test_the_freed_units_go_to_another_order_and_the_late_request_fails_saying_why(settings):
    settings.INVENTORY_HOLD_SECONDS = 60
    stocked(("SKU-7", 1))
    services.reserve_stock("o1", [("SKU-7", 1)])
    services.expire_holds(now=timezone.now() + HOUR)
    [taken] = services.reserve_stock("o2", [("SKU-7", 1)])
    assert isinstance(taken, StockReserved), taken
    assert services.reserve_stock("o1", [("SKU-7", 1)]) == [StockReservationFailed(
        "o1", "the hold expired and could not be renewed: out of stock: SKU-7")]
    assert stock_of("SKU-7") == (1, 1)


@pytest.mark.django_db
def test_a_run_takes_one_bounded_batch_oldest_first(settings):
    settings.INVENTORY_HOLD_SECONDS = 60
    stocked(("SKU-1", 10))
    start = timezone.now()
    for n in range(5):
        services.reserve_stock(f"o{n}", [("SKU-1", 1)], now=start + timedelta(seconds=n))
    assert services.expire_holds(now=start + HOUR, batch=2) == ["o0", "o1"]
    assert services.expire_holds(now=start + HOUR, batch=2) == ["o2", "o3"]
    assert stock_of("SKU-1") == (10, 1)


@pytest.mark.django_db(transaction=True)
def test_a_reservation_being_written_is_skipped_not_waited_for(settings):
    settings.INVENTORY_HOLD_SECONDS = 60
    stocked(("SKU-1", 5))
    services.reserve_stock("o1", [("SKU-1", 1)])
    services.reserve_stock("o2", [("SKU-1", 1)])
    locked, done = threading.Event(), threading.Event()

    def write_o1() -> None:  # another transaction holds o1's row (as a projector writing it)
        try:
            with transaction.atomic():
                Reservation.objects.select_for_update().get(order_id="o1")
                locked.set()
                done.wait(timeout=30)
        finally:
            connection.close()

    writer = threading.Thread(target=write_o1)
    writer.start()
    try:
        assert locked.wait(timeout=10)
        assert services.expire_holds(now=timezone.now() + HOUR) == ["o2"]
    finally:
        done.set()
        writer.join()
    assert services.expire_holds(now=timezone.now() + HOUR) == ["o1"], "the next run takes it"
    assert stock_of("SKU-1") == (5, 0)
