"""Inventory's use cases: load the aggregate, decide, move the stock and save the events, all in
one transaction (the caller's, when there is one: a delivery's or a request's)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from common.sql import upsert
from inventory import domain, stock
from inventory.events import StockCommitted, StockReleased
from inventory.models import Product, ProductSnapshot, Reservation, ReservationSnapshot, Stock
from outbox.contracts import DomainEvent
from outbox.models import Event
from outbox.repository import AggregateRepository
from outbox.store import ConcurrencyError, envelope

# progress(done, total), called while a rebuild writes its rows.
Progress = Callable[[int, int], None]

products = AggregateRepository(domain.Product, ProductSnapshot)
reservations = AggregateRepository(domain.Reservation, ReservationSnapshot)


def add_product(sku: str, name: str, price: Decimal, *, actor: str | None = None) -> Product:
    """Add a product to the catalogue, with no stock.

    Raises ProductAlreadyExists, InvalidProduct."""
    with transaction.atomic():  # a savepoint: callers go on after a refusal
        product = products.get(sku) or domain.Product(sku)
        events = product.add(name, price)
        try:
            rows = products.save(product, events, actor=actor)
        except ConcurrencyError:
            # Another request added the same sku between our read and our write.
            raise domain.ProductAlreadyExists(
                f"a product with sku {sku!r} already exists"
            ) from None
        row = Product.objects.create(
            sku=sku, name=product.name, price=product.price, added_at=rows[0].recorded_at
        )
        Stock.objects.create(sku=row)
    return row


def receive_goods(sku: str, quantity: int, *, actor: str | None = None) -> None:
    """Goods arrived: on hand += quantity. Raises UnknownProduct, InvalidQuantity."""
    with transaction.atomic():  # a savepoint: callers go on after a refusal
        product = products.get(sku) or domain.Product(sku)
        events = product.receive(quantity)
        products.save(product, events, actor=actor)
        stock.receive(sku, quantity)


def _save_reservation(reservation: domain.Reservation, events: Sequence[DomainEvent]) -> None:
    if not events:
        return
    rows = reservations.save(reservation, events, correlation_id=reservation.id)
    _write_reservation_row(reservation, rows[-1].recorded_at)


def _write_reservation_row(reservation: domain.Reservation, at: datetime) -> None:
    expires_at = reservation.expires_at
    upsert(Reservation(
        order_id=reservation.id,
        status=str(reservation.status),
        lines=[{"sku": line.sku, "quantity": line.quantity} for line in reservation.lines],
        expires_at=datetime.fromisoformat(expires_at) if expires_at else None,
        reason=reservation.reason,
        updated_at=at,
    ))


def reserve_stock(
    order_id: str, lines: Iterable[Any], *, now: datetime | None = None
) -> list[DomainEvent]:
    """Hold every line of the order or none → StockReserved | StockReservationFailed.

    `lines`: (sku, quantity) pairs, order lines, or {"sku", "quantity"} mappings. Ignored when
    the reservation exists already or the order is known cancelled; renews an expired hold.
    """
    with transaction.atomic(savepoint=False):
        reservation = reservations.get(order_id) or domain.Reservation(order_id)
        events = reservation.reserve(
            lines,
            now=now or timezone.now(),
            hold_for=timedelta(seconds=settings.INVENTORY_HOLD_SECONDS),
            hold=stock.hold_all,
        )
        _save_reservation(reservation, events)
    return events


def release_stock(order_id: str, reason: str) -> list[DomainEvent]:
    """Release the order's hold (held -= q) → StockReleased. Nothing held yet: the reservation
    is closed all the same, so it never holds for this order. Released already: no-op."""
    with transaction.atomic(savepoint=False):
        reservation = reservations.get(order_id) or domain.Reservation(order_id)
        events = reservation.release(reason)
        for ev in events:
            if isinstance(ev, StockReleased):
                stock.release(ev.lines)
        _save_reservation(reservation, events)
    return events


def commit_stock(order_id: str) -> list[DomainEvent]:
    """The order is confirmed: its held units leave (on hand -= q, held -= q) → StockCommitted.
    Raises ReservationNotHeld when there is no hold to commit."""
    with transaction.atomic(savepoint=False):
        reservation = reservations.get(order_id) or domain.Reservation(order_id)
        events = reservation.commit()
        for ev in events:
            if isinstance(ev, StockCommitted):
                stock.commit(ev.lines)
        _save_reservation(reservation, events)
    return events


# --- Read models from the event store -------------------------------------------------------


def _streams(stream_type: str) -> Iterable[tuple[str, list[Any]]]:
    """Every stream of a type, in stream order, as (stream id, envelopes in version order)."""
    rows = Event.objects.filter(stream_type=stream_type).order_by("stream_id", "version")
    current = ""
    batch: list[Any] = []
    for row in rows.iterator(chunk_size=2000):
        if row.stream_id != current and batch:
            yield current, batch
            batch = []
        current = row.stream_id
        batch.append(envelope(row))
    if batch:
        yield current, batch


def read_models_from_events() -> tuple[list[Product], list[Stock], list[Reservation]]:
    """The catalogue, stock and reservation rows as the event store alone says they are:
    on hand = received - committed; held = reserved - released - committed."""
    catalogue: dict[str, Product] = {}
    received: dict[str, int] = {}
    for sku, envelopes in _streams(domain.Product.stream_type):
        product = domain.Product(sku).fold(e.event for e in envelopes)
        if product.exists:
            catalogue[sku] = Product(sku=sku, name=product.name, price=product.price,
                                     added_at=envelopes[0].recorded_at)
            received[sku] = product.received
    held = dict.fromkeys(catalogue, 0)
    committed = dict.fromkeys(catalogue, 0)
    bookings: list[Reservation] = []
    for order_id, envelopes in _streams(domain.Reservation.stream_type):
        reservation = domain.Reservation(order_id).fold(e.event for e in envelopes)
        tally = {domain.ReservationStatus.HELD: held,
                 domain.ReservationStatus.COMMITTED: committed}.get(reservation.status)
        for line in reservation.lines if tally is not None else ():
            tally[line.sku] = tally.get(line.sku, 0) + line.quantity
        expires_at = reservation.expires_at
        bookings.append(Reservation(
            order_id=order_id,
            status=str(reservation.status),
            lines=[{"sku": line.sku, "quantity": line.quantity} for line in reservation.lines],
            expires_at=datetime.fromisoformat(expires_at) if expires_at else None,
            reason=reservation.reason,
            updated_at=envelopes[-1].recorded_at,
        ))
    stocks = [
        Stock(sku_id=sku, on_hand=received[sku] - committed[sku], held=held[sku])
        for sku in catalogue
    ]
    return list(catalogue.values()), stocks, bookings


def rebuild_read_models(progress: Progress | None = None) -> int:
    """Rewrite the catalogue, stock and reservation rows from the event store; returns how many
    rows were written. Writers of these tables wait meanwhile, so no move is lost between the
    read of the events and the write of the rows."""
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
        for model, rows in ((Product, catalogue), (Stock, stocks), (Reservation, bookings)):
            for start in range(0, len(rows), 1000):
                chunk = rows[start : start + 1000]
                model.objects.bulk_create(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    return total
