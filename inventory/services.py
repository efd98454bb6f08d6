"""Inventory's use cases: load the aggregate, decide, move the stock and save the events, all in
one transaction (the caller's, when there is one: a delivery's or a request's)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inventory import domain, projections, stock
from inventory.events import StockRowRepaired
from inventory.models import Product, ProductSnapshot, Reservation, ReservationSnapshot, Stock
from outbox.contracts import DomainEvent
from outbox.repository import AggregateRepository
from outbox.store import ConcurrencyError

products = AggregateRepository(domain.Product, ProductSnapshot)
reservations = AggregateRepository(domain.Reservation, ReservationSnapshot)


def add_product(sku: str, name: str, price: Decimal, *, actor: str | None = None) -> Product:
    """Add a product to the catalogue, with no stock.

    Raises ProductAlreadyExists, InvalidProduct."""
    with transaction.atomic():  # a savepoint: callers go on after a refusal
        product = products.get(sku) or domain.Product(sku)
        events = product.add(name, price)
        try:
            products.save(product, events, actor=actor)
        except ConcurrencyError:
            # Another request added the same sku between our read and our write.
            raise domain.ProductAlreadyExists(
                f"a product with sku {sku!r} already exists"
            ) from None
    # Its catalogue and stock rows were written by inventory.projections, in the transaction.
    return Product.objects.get(sku=sku)


def receive_goods(sku: str, quantity: int, *, actor: str | None = None) -> None:
    """Goods arrived: on hand += quantity. Raises UnknownProduct, InvalidQuantity."""
    with transaction.atomic():  # a savepoint: callers go on after a refusal
        product = products.get(sku) or domain.Product(sku)
        events = product.receive(quantity)
        products.save(product, events, actor=actor)  # on hand += quantity: a projector


def _save_reservation(reservation: domain.Reservation, events: Sequence[DomainEvent]) -> None:
    # The reservation row is written by inventory.projections, in this transaction.
    reservations.save(reservation, events, correlation_id=reservation.id)


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
            stock.move_all(stock.moves_of(ev))  # held -= q: the semantic lock's, with its event
        _save_reservation(reservation, events)
    return events


def expire_holds(*, now: datetime | None = None, batch: int | None = None) -> list[str]:
    """Expire up to `batch` holds past their time (oldest first), giving their units back to
    stock (held -= q) → ReservationExpired each; returns their order ids.

    One transaction. `SKIP LOCKED`: a reservation another transaction is writing (its row is
    locked by its projector) is left for the next run, so the job never waits on a saga and
    two runs never take the same hold."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Reservation.objects.select_for_update(skip_locked=True)
            .filter(status=Reservation.Status.HELD, expires_at__lte=now)
            .order_by("expires_at")
            .values_list("order_id", flat=True)[: batch or settings.INVENTORY_EXPIRY_BATCH]
        )
        expired = []
        for order_id in due:
            try:
                with transaction.atomic():  # a savepoint: one lost race skips one hold
                    reservation = reservations.get(order_id) or domain.Reservation(order_id)
                    events = reservation.expire(now)
                    for ev in events:
                        stock.move_all(stock.moves_of(ev))  # held -= q, with its event
                    _save_reservation(reservation, events)
            except ConcurrencyError:
                continue  # written meanwhile (renewed, committed): its new state decides
            if events:
                expired.append(order_id)
    return expired


def commit_stock(order_id: str) -> list[DomainEvent]:
    """The order is confirmed: its held units leave (on hand -= q, held -= q) → StockCommitted.
    Raises ReservationNotHeld when there is no hold to commit."""
    with transaction.atomic(savepoint=False):
        reservation = reservations.get(order_id) or domain.Reservation(order_id)
        events = reservation.commit()
        for ev in events:
            stock.move_all(stock.moves_of(ev))  # the held units leave: with its event
        _save_reservation(reservation, events)
    return events


def repair_stock_row(sku: str, reason: str, *, actor: str | None = None) -> list[DomainEvent]:
    """Rewrite one product's stock row from its events → StockRowRepaired (with the row's
    figures before). Nothing when the row agrees with its events by now, or the events
    themselves break `0 <= held <= on hand` (a rewrite would not make it right)."""
    with transaction.atomic(savepoint=False):
        # The row lock first: a writer that moved this row has committed its event by the
        # time we hold it, and none moves it until we are done (the one absolute write).
        row = Stock.objects.select_for_update().filter(sku_id=sku).first()
        rebuilt = projections.stock_row_from_events(sku)
        product = products.get(sku)
        if row is None or rebuilt is None or product is None:
            return []
        if (row.on_hand, row.held) == (rebuilt.on_hand, rebuilt.held) or not (
                0 <= rebuilt.held <= rebuilt.on_hand):
            return []
        events: list[DomainEvent] = [StockRowRepaired(
            sku=sku, on_hand_before=row.on_hand, held_before=row.held,
            on_hand=rebuilt.on_hand, held=rebuilt.held, reason=reason)]
        products.save(product, events, actor=actor)  # its projector rewrites the row
    return events


def rebuild_read_models(progress: projections.Progress | None = None) -> int:
    """Rewrite the catalogue, stock and reservation rows (see inventory.projections)."""
    return projections.rebuild_read_models(progress)
