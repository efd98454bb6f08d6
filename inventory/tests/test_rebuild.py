"""The catalogue, stock and reservation rows rebuilt from the event store equal the rows the
services built one move at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import projections, services
from inventory.models import Product, Reservation, Stock
from inventory.tests.facts import stocked

pytestmark = pytest.mark.django_db


def rows() -> dict[str, list[tuple]]:
    return {
        "products": list(Product.objects.order_by("sku").values_list()),
        "stock": list(Stock.objects.order_by("sku").values_list()),
        "reservations": list(Reservation.objects.order_by("order_id").values_list()),
    }


@pytest.fixture
def history() -> None:
    """A bit of everything: receipts, holds, a failure, releases, commits, a cancellation
    noted before the placement, a renewed hold, and a product sold out."""
    stocked(("SKU-1", 10), ("SKU-2", 4), ("SKU-7", 1), ("SKU-0", 0))
    services.receive_goods("SKU-1", 5)
    services.reserve_stock("held", [("SKU-1", 2), ("SKU-2", 1)])
    services.reserve_stock("failed", [("SKU-7", 2)])
    services.reserve_stock("released", [("SKU-1", 3)])
    services.release_stock("released", "payment declined")
    services.reserve_stock("committed", [("SKU-1", 4), ("SKU-7", 1)])
    services.commit_stock("committed")
    services.release_stock("cancelled-first", "cancelled by customer")
    services.reserve_stock("cancelled-first", [("SKU-2", 1)])
    services.reserve_stock("renewed", [("SKU-2", 2)])
    services.reserve_stock("renewed", [("SKU-2", 2)], now=timezone.now() + timedelta(hours=2))


def test_the_history_left_the_stock_expected(history):
    assert dict(Stock.objects.values_list("sku", "on_hand")) == {
        "SKU-0": 0, "SKU-1": 11, "SKU-2": 4, "SKU-7": 0}
    assert dict(Stock.objects.values_list("sku", "held")) == {
        "SKU-0": 0, "SKU-1": 2, "SKU-2": 3, "SKU-7": 0}


def test_a_rebuild_from_the_events_equals_the_incremental_rows(history):
    incremental = rows()
    Stock.objects.update(held=0)  # a damaged read model
    Reservation.objects.filter(order_id="held").delete()
    Product.objects.filter(sku="SKU-0").update(name="damaged")

    progress: list[tuple[int, int]] = []
    written = services.rebuild_read_models(progress=lambda done, total: progress.append(
        (done, total)))

    assert rows() == incremental
    assert written == 4 + 4 + 6
    assert progress and progress[-1] == (written, written)


def test_the_event_store_alone_says_what_the_rows_say(history):
    catalogue, stock, reservations = projections.read_models_from_events()
    assert sorted(p.sku for p in catalogue) == ["SKU-0", "SKU-1", "SKU-2", "SKU-7"]
    assert {s.sku_id: (s.on_hand, s.held) for s in stock} == {
        row.sku_id: (row.on_hand, row.held) for row in Stock.objects.all()}
    assert {r.order_id: r.status for r in reservations} == dict(
        Reservation.objects.values_list("order_id", "status"))
