"""What is actually true of a set of orders, read from the participants themselves: their
aggregates' snapshots, the payment gateway's and the carrier's ledgers (as a real provider's
would be asked, by the order's reference), the order's undelivered messages, and whether the
read models agree with the events.

Everything is read in bulk: a fixed number of queries for any number of orders, so the
reconciler's cost grows with the drift it handles, not with the queries per saga.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils.dateparse import parse_datetime

from inventory.models import ReservationSnapshot
from orders.models import OrderSnapshot, OrderView
from orders.projections import fold_into_view
from outbox.envelope import Envelope
from outbox.models import Delivery, Event
from payments.domain import charge_key
from payments.models import GatewayLedgerEntry, PaymentSnapshot
from saga import desired
from saga.models import OrderSaga
from saga.projections import FACT_FIELDS
from saga.rebuild import fold_events
from shipping.models import CarrierLedgerEntry

PROVIDERS_DB = "providers"
ZERO = Decimal("0.00")

# The inventory reservation's status as a facet of the saga.
STOCK_OF_RESERVATION = {
    "held": desired.Stock.HELD,
    "committed": desired.Stock.COMMITTED,
    "released": desired.Stock.RELEASED,
}
VIEW_FIELDS = ("customer_id", "status", "reason", "lines", "total", "shipping_address",
               "created_at", "confirmed_at", "cancelled_at")


@dataclass(frozen=True)
class LedgerCharge:
    charge_id: str
    idempotency_key: str
    amount: Decimal
    refunded: Decimal


@dataclass(frozen=True)
class Booking:
    idempotency_key: str
    shipment_id: str
    live: bool


@dataclass(frozen=True)
class Pending:
    """A delivery of the order's saga that has not been done (pending or dead)."""

    id: int
    handler: str
    queue: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    event_id: int
    event_type: str


@dataclass
class Observation:
    order_id: str
    order: dict[str, Any] | None = None  # the Order aggregate's snapshot state
    reservation: dict[str, Any] | None = None
    payment: dict[str, Any] | None = None
    charges: list[LedgerCharge] = field(default_factory=list)
    refunded_total: Decimal = ZERO
    bookings: list[Booking] = field(default_factory=list)
    deliveries: list[Pending] = field(default_factory=list)
    saga_drift: list[str] = field(default_factory=list)  # fields of the saga row wrong
    view_drift: list[str] = field(default_factory=list)  # fields of the order view wrong

    # --- the facets, as the participants tell them -------------------------------------

    @property
    def order_status(self) -> str | None:
        return (self.order or {}).get("status")

    @property
    def reservation_status(self) -> str:
        return (self.reservation or {}).get("status", "none")

    @property
    def hold_expires_at(self) -> datetime | None:
        value = (self.reservation or {}).get("expires_at")
        return parse_datetime(value) if value else None

    @property
    def own_charge(self) -> LedgerCharge | None:
        """The charge made under the order's idempotency key (the one the saga asked for)."""
        key = charge_key(self.order_id)
        return next((c for c in self.charges if c.idempotency_key == key), None)

    @property
    def extra_charges(self) -> list[LedgerCharge]:
        """Charges beyond the order's own (a provider's duplicate, or one never asked for),
        with money still held."""
        own = self.own_charge
        return [c for c in self.charges
                if (own is None or c.charge_id != own.charge_id) and c.amount > c.refunded]

    @property
    def payment_captured(self) -> bool:
        return bool((self.payment or {}).get("captured"))

    @property
    def live_bookings(self) -> list[Booking]:
        return [b for b in self.bookings if b.live]

    def seen(self, saga: OrderSaga) -> desired.Observed:
        """The saga's facets from the participants (the saga row fills what they cannot say:
        the total, and whether a step failed)."""
        charged = sum((c.amount for c in self.charges), ZERO)
        live = len(self.live_bookings)
        shipment = (desired.Shipment.BOOKED if live else
                    desired.Shipment.CANCELLED if self.bookings else desired.Shipment.NONE)
        return desired.Observed(
            order_status=self.order_status or saga.order_status,
            total=saga.total,
            stock=STOCK_OF_RESERVATION.get(self.reservation_status, desired.Stock.NONE),
            charged=charged,
            refunded=self.refunded_total,
            shipment=shipment,
            live_shipments=live,
            step_failed=saga.step_failed,
        )


def observe(sagas: list[OrderSaga]) -> dict[str, Observation]:
    """Observe every order of `sagas` (in a fixed number of queries)."""
    ids = [s.order_id for s in sagas]
    seen = {order_id: Observation(order_id) for order_id in ids}
    if not ids:
        return seen
    for model, attr in ((OrderSnapshot, "order"), (ReservationSnapshot, "reservation"),
                        (PaymentSnapshot, "payment")):
        for stream_id, state in model.objects.filter(stream_id__in=ids).values_list(
                "stream_id", "state"):
            setattr(seen[stream_id], attr, state)
    _read_gateway(seen, ids)
    for entry in CarrierLedgerEntry.objects.using(PROVIDERS_DB).filter(order_id__in=ids):
        seen[entry.order_id].bookings.append(Booking(
            entry.idempotency_key, entry.shipment_id,
            entry.status == CarrierLedgerEntry.Status.BOOKED))
    for row in (Delivery.objects.filter(event__correlation_id__in=ids,
                                        status__in=[Delivery.Status.PENDING, Delivery.Status.DEAD])
                .select_related("event").order_by("id")):
        order = seen.get(row.event.correlation_id)
        if order is not None:
            order.deliveries.append(Pending(
                row.id, row.handler, row.queue, row.status, row.attempts, row.next_attempt_at,
                row.last_error, row.event_id, row.event.event_type))
    _compare_read_models(seen, sagas)
    return seen


def _read_gateway(seen: dict[str, Observation], ids: list[str]) -> None:
    entries = list(GatewayLedgerEntry.objects.using(PROVIDERS_DB).filter(order_id__in=ids)
                   .order_by("id"))
    refunds: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for entry in entries:
        if entry.kind == GatewayLedgerEntry.Kind.REFUND:
            refunds[entry.refunded_charge_id] += entry.amount
            seen[entry.order_id].refunded_total += entry.amount
    for entry in entries:
        if entry.kind == GatewayLedgerEntry.Kind.CHARGE:
            seen[entry.order_id].charges.append(LedgerCharge(
                entry.entry_id, entry.idempotency_key, entry.amount, refunds[entry.entry_id]))


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """Run the reads inside in one REPEATABLE READ snapshot. A read model is written in the
    same transaction as its events, so in one snapshot they agree unless one truly drifted;
    read at different moments, an event landing in between would look like drift. (Inside
    a caller's transaction, the caller's isolation applies.)"""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _compare_read_models(seen: dict[str, Observation], sagas: list[OrderSaga]) -> None:
    """Fold the orders' events once (one query) into what the saga rows and the order views
    should hold, and note every field that differs. The rows compared are read again with
    the events: the `sagas` given may have been read (claimed) before the latest event."""
    ids = [saga.order_id for saga in sagas]
    with _one_snapshot():
        events = list(Event.objects.filter(correlation_id__in=list(seen)).order_by("id"))
        rows = OrderSaga.objects.in_bulk(ids)
        views: dict[str, Any] = {}
        for row in events:
            if row.stream_type == "orders.Order":
                views[row.stream_id] = fold_into_view(
                    views.get(row.stream_id), Envelope.from_model(row).event, row.recorded_at)
        stored = OrderView.objects.in_bulk(list(views))
    rebuilt = fold_events(events)
    for order_id, saga in rows.items():
        fresh = rebuilt.get(order_id)
        if fresh is not None:
            seen[order_id].saga_drift = [
                f for f in FACT_FIELDS if getattr(fresh, f) != getattr(saga, f)]
    for order_id, view in views.items():
        if view is None:
            continue
        row = stored.get(order_id)
        seen[order_id].view_drift = (
            ["missing"] if row is None
            else [f for f in VIEW_FIELDS if getattr(row, f) != getattr(view, f)])
