"""The stock rules against the real PostgreSQL: guarded, commutative moves; every line or none."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory import services
from inventory.domain import (
    InvalidProduct,
    InvalidQuantity,
    ProductAlreadyExists,
    ReservationNotHeld,
    UnknownProduct,
)
from inventory.events import (
    GoodsReceived,
    OrderCancellationNoted,
    ProductAdded,
    ReservedLine,
    StockCommitted,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from inventory.models import Product, Reservation, Stock
from inventory.tests.facts import reservation_events, stock_of, stocked
from outbox import store
from outbox.models import Event

pytestmark = pytest.mark.django_db


def test_a_new_product_has_no_stock_and_is_on_its_own_stream():
    product = services.add_product("SKU-1", "Widget", Decimal("12.50"))
    assert (product.sku, product.name, product.price) == ("SKU-1", "Widget", Decimal("12.50"))
    assert stock_of("SKU-1") == (0, 0)
    assert [e.event for e in store.read_stream("inventory.Product", "SKU-1")] == [
        ProductAdded("SKU-1", "Widget", Decimal("12.50"))
    ]


def test_a_product_is_added_once():
    services.add_product("SKU-1", "Widget", Decimal("12.50"))
    with pytest.raises(ProductAlreadyExists):
        services.add_product("SKU-1", "Other", Decimal("1.00"))
    assert Product.objects.get().name == "Widget"
    assert Event.objects.filter(stream_type="inventory.Product").count() == 1


def test_an_invalid_product_writes_nothing():
    with pytest.raises(InvalidProduct):
        services.add_product("SKU-1", "Widget", Decimal("-1"))
    assert not Product.objects.exists() and not Event.objects.exists()


def test_goods_received_add_to_stock_on_hand():
    stocked(("SKU-1", 0))
    services.receive_goods("SKU-1", 5)
    services.receive_goods("SKU-1", 7)
    assert stock_of("SKU-1") == (12, 0)
    assert [e.event for e in store.read_stream("inventory.Product", "SKU-1")][1:] == [
        GoodsReceived("SKU-1", 5), GoodsReceived("SKU-1", 7)
    ]


def test_goods_for_an_unknown_product_are_refused():
    with pytest.raises(UnknownProduct, match="unknown product: NOPE"):
        services.receive_goods("NOPE", 5)
    assert not Event.objects.exists()


@pytest.mark.parametrize("quantity", [0, -5, 1_000_001, True, 2.5, "5"])
def test_goods_in_a_bad_quantity_are_refused_and_nothing_moves(quantity):
    stocked(("SKU-1", 3))
    with pytest.raises(InvalidQuantity):
        services.receive_goods("SKU-1", quantity)
    assert stock_of("SKU-1") == (3, 0)
    assert Event.objects.filter(event_type="inventory.GoodsReceived").count() == 1


def test_a_reservation_holds_every_line():
    stocked(("SKU-1", 5), ("SKU-2", 5))
    [reserved] = services.reserve_stock("o1", [("SKU-1", 2), ("SKU-2", 3)])
    assert isinstance(reserved, StockReserved)
    assert reserved.lines == (ReservedLine("SKU-1", 2), ReservedLine("SKU-2", 3))
    assert stock_of("SKU-1") == (5, 2) and stock_of("SKU-2") == (5, 3)
    row = Reservation.objects.get(order_id="o1")
    assert row.status == "held"
    assert row.lines == [{"sku": "SKU-1", "quantity": 2}, {"sku": "SKU-2", "quantity": 3}]


def test_the_hold_expires_after_the_configured_time(settings):
    settings.INVENTORY_HOLD_SECONDS = 60
    stocked(("SKU-1", 5))
    before = timezone.now()
    services.reserve_stock("o1", [("SKU-1", 1)])
    expires_at = Reservation.objects.get(order_id="o1").expires_at
    assert before + timedelta(seconds=60) <= expires_at <= timezone.now() + timedelta(seconds=60)


def test_a_short_line_holds_nothing_of_the_other_lines():
    stocked(("SKU-1", 5), ("SKU-2", 5), ("SKU-7", 1))
    events = services.reserve_stock("o1", [("SKU-1", 2), ("SKU-2", 2), ("SKU-7", 2)])
    assert events == [StockReservationFailed("o1", "out of stock: SKU-7")]
    assert [stock_of(s) for s in ("SKU-1", "SKU-2", "SKU-7")] == [(5, 0), (5, 0), (1, 0)]
    assert Reservation.objects.get(order_id="o1").status == "failed"


def test_the_first_short_sku_is_named():
    stocked(("SKU-1", 0), ("SKU-2", 0))
    assert services.reserve_stock("o1", [("SKU-2", 1), ("SKU-1", 1)]) == [
        StockReservationFailed("o1", "out of stock: SKU-1")
    ]


def test_an_unknown_product_fails_the_reservation_and_holds_nothing():
    stocked(("SKU-1", 5))
    assert services.reserve_stock("o1", [("SKU-1", 1), ("SKU-X", 1)]) == [
        StockReservationFailed("o1", "unknown product: SKU-X")
    ]
    assert stock_of("SKU-1") == (5, 0)


def test_held_stock_is_not_available_to_another_order():
    stocked(("SKU-1", 3))
    services.reserve_stock("o1", [("SKU-1", 2)])
    assert services.reserve_stock("o2", [("SKU-1", 2)]) == [
        StockReservationFailed("o2", "out of stock: SKU-1")
    ]
    [held] = services.reserve_stock("o3", [("SKU-1", 1)])
    assert isinstance(held, StockReserved)
    assert stock_of("SKU-1") == (3, 3)


def test_reserving_again_for_the_same_order_holds_nothing_more():
    stocked(("SKU-1", 5))
    services.reserve_stock("o1", [("SKU-1", 2)])
    assert services.reserve_stock("o1", [("SKU-1", 2)]) == []
    assert stock_of("SKU-1") == (5, 2)


def test_release_gives_the_held_units_back():
    stocked(("SKU-1", 5), ("SKU-2", 5))
    services.reserve_stock("o1", [("SKU-1", 2), ("SKU-2", 1)])
    events = services.release_stock("o1", "payment declined")
    assert events == [StockReleased("o1", (ReservedLine("SKU-1", 2), ReservedLine("SKU-2", 1)),
                                    "payment declined")]
    assert stock_of("SKU-1") == (5, 0) and stock_of("SKU-2") == (5, 0)
    assert services.release_stock("o1", "payment declined") == []
    assert stock_of("SKU-1") == (5, 0)


def test_commit_takes_the_held_units_off_the_shelf():
    stocked(("SKU-1", 5), ("SKU-2", 5))
    services.reserve_stock("o1", [("SKU-1", 2), ("SKU-2", 1)])
    services.reserve_stock("o2", [("SKU-1", 1)])
    assert services.commit_stock("o1") == [
        StockCommitted("o1", (ReservedLine("SKU-1", 2), ReservedLine("SKU-2", 1)))
    ]
    assert stock_of("SKU-1") == (3, 1) and stock_of("SKU-2") == (4, 0)
    assert services.commit_stock("o1") == []
    assert stock_of("SKU-1") == (3, 1)
    assert services.release_stock("o1", "too late") == []
    assert stock_of("SKU-1") == (3, 1)


def test_commit_without_a_hold_is_refused_and_moves_nothing():
    stocked(("SKU-1", 5))
    services.reserve_stock("o1", [("SKU-1", 2)])
    services.release_stock("o1", "payment declined")
    # The refusal dooms the caller's transaction (the services take no savepoints).
    with pytest.raises(ReservationNotHeld), transaction.atomic():
        services.commit_stock("o1")
    assert stock_of("SKU-1") == (5, 0)


def test_a_cancellation_before_the_placement_means_the_order_never_holds():
    stocked(("SKU-1", 5))
    assert services.release_stock("o1", "cancelled by customer") == [
        OrderCancellationNoted("o1", "cancelled by customer")
    ]
    assert services.reserve_stock("o1", [("SKU-1", 2)]) == []
    assert stock_of("SKU-1") == (5, 0)
    assert Reservation.objects.get(order_id="o1").status == "cancelled"


def test_an_expired_hold_asked_again_is_renewed_with_the_same_units():
    stocked(("SKU-1", 5))
    services.reserve_stock("o1", [("SKU-1", 2)])
    later = timezone.now() + timedelta(seconds=3600)
    [renewed] = services.reserve_stock("o1", [("SKU-1", 2)], now=later)
    assert isinstance(renewed, StockReserved)
    assert stock_of("SKU-1") == (5, 2)
    assert Reservation.objects.get(order_id="o1").expires_at > later


def test_the_reservation_events_carry_the_order_as_correlation_id():
    stocked(("SKU-1", 5))
    services.reserve_stock("o1", [("SKU-1", 1)])
    assert Event.objects.get(stream_type="inventory.Reservation").correlation_id == "o1"
    assert reservation_events("o1")[0].lines == (ReservedLine("SKU-1", 1),)


def test_the_database_refuses_holding_more_than_is_on_hand():
    stocked(("SKU-1", 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(sku="SKU-1").update(held=2)
