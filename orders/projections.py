"""Read models of the orders context, projected in the transaction that appends their events,
and rebuilt from the event store by the same folding functions (so a rebuild equals them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from common import sql
from inventory.events import ProductAdded
from orders.domain import Order, OrderStatus
from orders.events import OrderCancelled, OrderConfirmed, OrderPlaced, ShippingAddress
from orders.models import CatalogueEntry, OrderView
from outbox.contracts import DomainEvent
from outbox.envelope import Envelope
from outbox.models import Event
from outbox.registry import projects
from outbox.store import read_stream

Progress = Callable[[int, int], None]
READ_MODELS = (OrderView, CatalogueEntry)
VIEW_EVENTS = (OrderPlaced, OrderConfirmed, OrderCancelled)
BATCH = 1000


def address_json(address: ShippingAddress) -> dict[str, str]:
    return {
        "name": address.name,
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "postal_code": address.postal_code,
        "country": address.country,
    }


def fold_into_view(view: OrderView | None, event: DomainEvent, at: datetime) -> OrderView | None:
    """One event of an order's stream applied to its view row (in memory)."""
    match event:
        case OrderPlaced():
            return OrderView(
                id=event.order_id,
                customer_id=int(event.customer_id),
                status=OrderStatus.PENDING,
                reason="",
                lines=[
                    {
                        "sku": line.sku,
                        "quantity": line.quantity,
                        "unit_price": f"{line.unit_price:.2f}",
                        "line_total": f"{line.unit_price * line.quantity:.2f}",
                    }
                    for line in event.lines
                ],
                total=event.total,
                shipping_address=address_json(event.shipping_address),
                created_at=at,
                updated_at=at,
            )
        case OrderConfirmed() if view is not None:
            view.status = OrderStatus.CONFIRMED
            view.confirmed_at = at
            view.updated_at = at
        case OrderCancelled() if view is not None:
            view.status = OrderStatus.CANCELLED
            view.reason = event.reason
            view.cancelled_at = at
            view.updated_at = at
    return view


@projects(*VIEW_EVENTS)
def project_order_view(event: DomainEvent, env: Envelope) -> None:
    if isinstance(event, OrderPlaced):
        sql.insert(fold_into_view(None, event, env.recorded_at))  # type: ignore[arg-type]
        return
    view = sql.load(OrderView, env.stream_id)
    if view is None:
        # A view row lost (or never built): the stream, this event included, is the truth.
        view = view_from_stream(env.stream_id)
        if view is not None:
            view.save(force_insert=True)
        return
    before = sql.values_of(view)
    fold_into_view(view, event, env.recorded_at)
    sql.update_changed(view, before)


def view_from_stream(order_id: str) -> OrderView | None:
    view = None
    for env in read_stream(Order.stream_type, order_id):
        view = fold_into_view(view, env.event, env.recorded_at)
    return view


def repair_view(order_id: str) -> bool:
    """Rewrite the order's view row from its stream (the events are the truth); False when
    the order has no events."""
    view = view_from_stream(order_id)
    if view is None:
        return False
    sql.upsert(view)
    return True


def catalogue_entry(event: ProductAdded) -> CatalogueEntry:
    return CatalogueEntry(sku=event.sku, name=event.name, price=event.price)


@projects(ProductAdded)
def project_catalogue_entry(event: ProductAdded, env: Envelope) -> None:
    sql.upsert(catalogue_entry(event))


def _lock(model: Any) -> None:
    # Writers of the table wait until the rebuild commits, then apply their own events on top.
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(model._meta.db_table)
        cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


def _order_views(events: Iterator[Event], done: Callable[[], None]) -> Iterator[OrderView]:
    """Views folded from events sorted by (stream id, version): one order at a time."""
    current: OrderView | None = None
    current_id = None
    for row in events:
        if row.stream_id != current_id and current is not None:
            yield current
            current = None
        current_id = row.stream_id
        current = fold_into_view(current, Envelope.from_model(row).event, row.recorded_at)
        done()
    if current is not None:
        yield current


def _view_events() -> Any:
    view_types = [cls.event_type for cls in VIEW_EVENTS]
    return Event.objects.filter(stream_type=Order.stream_type, event_type__in=view_types)


def _catalogue(product_events: Iterator[Event], done: Callable[[], None]) -> list[CatalogueEntry]:
    entries: dict[str, CatalogueEntry] = {}
    for row in product_events:
        ev = Envelope.from_model(row).event
        entries[ev.sku] = catalogue_entry(ev)
        done()
    return list(entries.values())


def read_models_from_events() -> tuple[list[OrderView], list[CatalogueEntry]]:
    """The order views and the price list as the event store alone says they are (in memory:
    for the audit; the rebuild streams the views instead)."""
    rows = _view_events().order_by("stream_id", "version").iterator(chunk_size=5000)
    views = list(_order_views(rows, lambda: None))
    product_events = Event.objects.filter(event_type=ProductAdded.event_type).order_by("id")
    return views, _catalogue(product_events.iterator(chunk_size=5000), lambda: None)


def rebuild_read_models(progress: Progress | None = None) -> int:
    """Rebuild OrderView and CatalogueEntry from the event store; returns the events replayed."""
    with transaction.atomic():
        _lock(OrderView)
        _lock(CatalogueEntry)
        view_events = _view_events()
        product_events = Event.objects.filter(event_type=ProductAdded.event_type)
        total = view_events.count() + product_events.count()
        replayed = 0

        def done() -> None:
            nonlocal replayed
            replayed += 1
            if progress is not None and (replayed % 500 == 0 or replayed == total):
                progress(replayed, total)

        entries = _catalogue(product_events.order_by("id").iterator(chunk_size=2000), done)
        CatalogueEntry.objects.all().delete()
        CatalogueEntry.objects.bulk_create(entries, batch_size=BATCH)

        OrderView.objects.all().delete()
        batch: list[OrderView] = []
        rows = view_events.order_by("stream_id", "version").iterator(chunk_size=2000)
        for view in _order_views(rows, done):
            batch.append(view)
            if len(batch) >= BATCH:
                OrderView.objects.bulk_create(batch)
                batch.clear()
        OrderView.objects.bulk_create(batch)
        if progress is not None and replayed != total:
            progress(replayed, total)
    return replayed
