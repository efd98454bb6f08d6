"""The order view and the price list equal a rebuild from the event store."""

from decimal import Decimal

import pytest
from django.db import transaction

from inventory.events import ProductAdded, ReservedLine, StockReservationFailed, StockReserved
from orders import services
from orders.models import CatalogueEntry, OrderView
from outbox import store
from payments.events import PaymentCaptured
from shipping.events import ShipmentBooked
from tests.support.delivery import deliver_pending, publish

pytestmark = pytest.mark.django_db


def rows(model):
    return list(model.objects.order_by("pk").values())


def make_history(place, client_for):
    """Orders in every state, for two customers, and a product whose price changed."""
    confirmed, declined, cancelled = place("alice"), place("alice"), place("bob")
    place("bob", ("SKU-2", 1), ("SKU-3", 4))  # stays pending
    publish(StockReserved(
        confirmed, (ReservedLine("SKU-1", 2),), "2030-01-01T00:00:00+00:00"))
    publish(PaymentCaptured(confirmed, Decimal("25.00"), "c1"))
    publish(ShipmentBooked(confirmed, "s1", "T1"))
    publish(StockReservationFailed(declined, "out of stock: SKU-1"))
    deliver_pending("orders.advance_order")
    deliver_pending("orders.cancel_order")
    client_for("bob").post(f"/api/orders/{cancelled}/cancel/")
    with transaction.atomic():
        store.append("inventory.Product", "SKU-3", 1,
                     [ProductAdded(sku="SKU-3", name="Renamed", price=Decimal("0.40"))])


def test_a_rebuild_gives_the_rows_built_incrementally(place, client_for):
    make_history(place, client_for)
    assert set(OrderView.objects.values_list("status", flat=True)) == {
        "pending", "confirmed", "cancelled"}
    incremental_views, incremental_prices = rows(OrderView), rows(CatalogueEntry)
    OrderView.objects.filter(status="confirmed").update(status="pending", confirmed_at=None)
    OrderView.objects.filter(status="pending").first().delete()
    CatalogueEntry.objects.filter(sku="SKU-3").update(price=Decimal("1.00"))
    progress: list[tuple[int, int]] = []

    replayed = services.rebuild_read_models(progress=lambda done, total: progress.append(
        (done, total)))

    assert rows(OrderView) == incremental_views
    assert rows(CatalogueEntry) == incremental_prices
    assert CatalogueEntry.objects.get(sku="SKU-3").price == Decimal("0.40")
    # 4 placed + 1 confirmed + 2 cancelled, 3 products added + 1 changed
    assert replayed == 11
    assert progress[-1] == (11, 11)


def test_a_rebuild_of_an_empty_store_empties_the_views(db):
    OrderView.objects.all().delete()
    assert services.rebuild_read_models() == 0
    assert OrderView.objects.count() == 0


def test_a_lost_view_row_is_rebuilt_from_the_stream_by_the_next_event(place):
    order_id = place("alice")
    OrderView.objects.filter(pk=order_id).delete()

    services.cancel_order(order_id, reason="cancelled by customer", requested_by="customer")

    view = OrderView.objects.get(pk=order_id)
    assert (view.status, view.reason, view.total) == (
        "cancelled", "cancelled by customer", Decimal("25.00"))
