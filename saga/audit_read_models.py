"""Invariant 6: every read model equals what its events say, row by row.

Each context's own folding code rebuilds its rows in memory (nothing is written) and they
are compared with the tables: the orders view and price list, inventory's catalogue, stock
and reservations, shipping's shipments, the payment snapshots, and the saga rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from typing import TYPE_CHECKING

from django.db import models

from inventory import projections as inventory_projections
from inventory.models import Product, Reservation, Stock
from orders import projections as orders_projections
from orders.models import CatalogueEntry, OrderView
from outbox.envelope import Envelope
from outbox.models import Event
from payments.domain import Payment
from payments.models import PaymentSnapshot
from saga.models import OrderSaga
from saga.projections import FACT_FIELDS
from saga.rebuild import fold_events
from shipping import projections as shipping_projections
from shipping.models import Shipment

if TYPE_CHECKING:
    from saga.audit import Check


def check_read_models() -> Check:
    from saga.audit import Check

    check = Check(6, "the read models equal a rebuild from the event store")
    _orders(check)
    products, stocks, reservations = inventory_projections.read_models_from_events()
    _compare(check, "inventory product", products, Product.objects.all())
    _compare(check, "inventory stock", stocks, Stock.objects.all())
    _compare(check, "inventory reservation", reservations, Reservation.objects.all())
    _compare(check, "shipment", shipping_projections.read_models_from_events(),
             Shipment.objects.all())
    _payments(check)
    _sagas(check)
    return check


def _fields(model: type[models.Model], only: Iterable[str] | None = None) -> list[str]:
    names = [f.attname for f in model._meta.concrete_fields]
    return [n for n in names if only is None or n in only]


def _compare(check: Check, what: str, expected: Iterable[models.Model],
             actual: Iterable[models.Model], fields: Iterable[str] | None = None) -> None:
    wanted = {row.pk: row for row in expected}
    stored = {row.pk: row for row in actual}
    if not wanted and not stored:
        return
    names = _fields(type(next(iter((wanted or stored).values()))), fields)
    for key in wanted.keys() | stored.keys():
        check.checked += 1
        if key not in stored:
            check.violations.append(f"{what} {key} is missing (its events say it exists)")
        elif key not in wanted:
            check.violations.append(f"{what} {key} exists but no event supports it")
        else:
            differs = [n for n in names
                       if getattr(stored[key], n) != getattr(wanted[key], n)]
            if differs:
                detail = ", ".join(f"{n}: {getattr(stored[key], n)!r} instead of "
                                   f"{getattr(wanted[key], n)!r}" for n in differs[:3])
                check.violations.append(f"{what} {key} differs from its events ({detail})")


def _orders(check: Check) -> None:
    views, entries = orders_projections.read_models_from_events()
    _compare(check, "order view", views, OrderView.objects.all())
    _compare(check, "order price list entry", entries, CatalogueEntry.objects.all())


def _payments(check: Check) -> None:
    rows = (Event.objects.filter(stream_type=Payment.stream_type)
            .order_by("stream_id", "version"))
    snapshots = {s.stream_id: s for s in PaymentSnapshot.objects.all()}
    seen = set()
    for stream_id, stream in groupby(rows.iterator(chunk_size=5000), key=lambda r: r.stream_id):
        seen.add(stream_id)
        check.checked += 1
        payment = Payment(stream_id).fold(Envelope.from_model(r).event for r in stream)
        snapshot = snapshots.get(stream_id)
        if snapshot is None:
            check.violations.append(f"payment {stream_id} has events but no snapshot")
        elif snapshot.version != payment.version or snapshot.state != payment.snapshot():
            check.violations.append(f"payment {stream_id}'s snapshot (v{snapshot.version}) "
                                    f"differs from its events (v{payment.version})")
    for stream_id in set(snapshots) - seen:
        check.violations.append(f"payment {stream_id} has a snapshot but no events")


def _sagas(check: Check) -> None:
    rows = Event.objects.exclude(correlation_id="").order_by("id").iterator(chunk_size=5000)
    fresh = fold_events(rows)
    _compare(check, "saga", fresh.values(), OrderSaga.objects.all(),
             fields=(*FACT_FIELDS, "order_id"))
