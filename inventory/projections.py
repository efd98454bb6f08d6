"""Inventory's read models: the catalogue (`Product`), the `Stock` counters and the
`Reservation` rows, projected in the transaction that appends their events, and rebuilt from
the event store by the same folds (so a rebuild equals them).

The moves of the semantic lock (hold, release, commit) are not projected: they are the
reservation's decision, made by the service with its events (see inventory.stock); the rebuild
counts them with the same `moves_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from common import sql
from inventory import domain
from inventory.events import (
    GoodsReceived,
    OrderCancellationNoted,
    ProductAdded,
    ReservationExpired,
    StockCommitted,
    StockReleased,
    StockReservationFailed,
    StockReserved,
    StockRowRepaired,
)
from inventory.models import Product, Reservation, Stock
from inventory.stock import StockMove, move_all, moves_of
from outbox.contracts import DomainEvent
from outbox.envelope import Envelope
from outbox.models import Event
from outbox.registry import projects

# progress(done, total), called while a rebuild writes its sql.
Progress = Callable[[int, int], None]
READ_MODELS = (Product, Stock, Reservation)
RESERVATION_EVENTS = (StockReserved, StockReservationFailed, StockReleased, StockCommitted,
                      OrderCancellationNoted, ReservationExpired)
Status = domain.ReservationStatus
# What a later ProductAdded of a known sku changes (the stream says so: a re-pricing).
PRODUCT_CHANGES = ("name", "price")


def catalogue_rows(event: ProductAdded, at: datetime) -> tuple[Product, Stock]:
    """A new product's catalogue row and its (empty) stock row."""
    product = Product(sku=event.sku, name=event.name, price=event.price, added_at=at)
    return product, Stock(sku_id=event.sku, on_hand=0, held=0)


def reservation_changes(event: DomainEvent) -> dict[str, Any]:
    """The columns one event sets (as `domain.Reservation.apply` sets its fields): a change
    never depends on the row before it, so the live projector writes it in one upsert."""
    match event:
        case StockReserved(lines=lines, expires_at=expires_at):
            return {"status": str(Status.HELD),
                    "lines": [{"sku": line.sku, "quantity": line.quantity} for line in lines],
                    "expires_at": datetime.fromisoformat(expires_at)}
        case StockReservationFailed(reason=reason):
            return {"status": str(Status.FAILED), "reason": reason}
        case StockReleased(reason=reason):
            return {"status": str(Status.RELEASED), "reason": reason}
        case ReservationExpired(reason=reason):
            return {"status": str(Status.EXPIRED), "reason": reason}
        case StockCommitted():
            return {"status": str(Status.COMMITTED)}
        case OrderCancellationNoted(reason=reason):
            return {"status": str(Status.CANCELLED), "reason": reason}
    return {}


def new_reservation(order_id: str) -> Reservation:
    return Reservation(order_id=order_id, status=str(Status.NONE), lines=[], expires_at=None,
                       reason="")


def fold_reservation(row: Reservation, event: DomainEvent, at: datetime) -> dict[str, Any]:
    """Apply one event to the row in memory; the columns it set."""
    changed = {**reservation_changes(event), "updated_at": at}
    for name, value in changed.items():
        setattr(row, name, value)
    return changed


@projects(ProductAdded)
def project_product(event: ProductAdded, env: Envelope) -> None:
    product, stock = catalogue_rows(event, env.recorded_at)
    sql.upsert(product, fields=PRODUCT_CHANGES)
    sql.insert(stock, unless_present=True)


@projects(GoodsReceived)
def project_goods_received(event: GoodsReceived, env: Envelope) -> None:
    move_all(moves_of(event))


@projects(StockRowRepaired)
def project_stock_row_repaired(event: StockRowRepaired, env: Envelope) -> None:
    # The one absolute write to a stock row: the repair's figures are what the events say.
    Stock.objects.filter(sku_id=event.sku).update(on_hand=event.on_hand, held=event.held)


@projects(*RESERVATION_EVENTS)
def project_reservation(event: DomainEvent, env: Envelope) -> None:
    row = new_reservation(env.stream_id)
    changed = fold_reservation(row, event, env.recorded_at)
    sql.upsert(row, fields=tuple(changed))


def _stream_events(stream_type: str) -> Iterator[tuple[str, DomainEvent, datetime]]:
    events = Event.objects.filter(stream_type=stream_type).order_by("stream_id", "version")
    for row in events.iterator(chunk_size=2000):
        yield row.stream_id, Envelope.from_model(row).event, row.recorded_at


def _apply(stocks: dict[str, Stock], moves: Iterable[StockMove]) -> None:
    for move in moves:
        stock = stocks.get(move.sku)
        if stock is None:
            continue  # a product never added: live, the move would have been refused
        stock.on_hand += move.on_hand
        stock.held += move.held


def read_models_from_events() -> tuple[list[Product], list[Stock], list[Reservation]]:
    """The catalogue, stock and reservation rows as the event store alone says they are."""
    catalogue: dict[str, Product] = {}
    stocks: dict[str, Stock] = {}
    for _, event, at in _stream_events(domain.Product.stream_type):
        if isinstance(event, ProductAdded) and event.sku in catalogue:
            for name in PRODUCT_CHANGES:
                setattr(catalogue[event.sku], name, getattr(event, name))
        elif isinstance(event, ProductAdded):
            catalogue[event.sku], stocks[event.sku] = catalogue_rows(event, at)
        _apply(stocks, moves_of(event))
    bookings: dict[str, Reservation] = {}
    for order_id, event, at in _stream_events(domain.Reservation.stream_type):
        row = bookings.setdefault(order_id, new_reservation(order_id))
        _apply(stocks, moves_of(event, renewal=row.status == Status.HELD))
        fold_reservation(row, event, at)
    return list(catalogue.values()), list(stocks.values()), list(bookings.values())


def stock_row_from_events(sku: str) -> Stock | None:
    """One product's stock row as the event store alone says it is (None: no such product)."""
    _, stocks, _ = read_models_from_events()
    return next((stock for stock in stocks if stock.sku_id == sku), None)


def rebuild_read_models(progress: Progress | None = None) -> int:
    """Rewrite the catalogue, stock and reservation rows from the event store; returns how many
    rows were written. Writers of these tables wait meanwhile, so no move is lost between the
    read of the events and the write of the sql."""
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute(
                "LOCK TABLE inventory_product, inventory_stock, inventory_reservation "
                "IN SHARE ROW EXCLUSIVE MODE"
            )
        catalogue, stocks, bookings = read_models_from_events()
        total = len(catalogue) + len(stocks) + len(bookings)
        Reservation.objects.all().delete()
        Stock.objects.all().delete()
        Product.objects.all().delete()
        done = 0
        for model, built in ((Product, catalogue), (Stock, stocks), (Reservation, bookings)):
            for start in range(0, len(built), 1000):
                chunk = built[start : start + 1000]
                model.objects.bulk_create(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    return total
