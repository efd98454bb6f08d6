"""What is actually true of a set of orders, read from the participants themselves through
their selectors: their aggregates' state, the payment gateway's and the carrier's books (asked
through their ports, by the order's reference, as a real provider's list API is), the order's
undelivered messages, and whether the read models agree with the events.

Everything is read in bulk: a fixed number of queries for any number of orders, so the
reconciler's cost grows with the drift it handles, not with the queries per saga.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction

from inventory import selectors as inventory
from inventory.selectors import Hold
from orders import selectors as orders
from orders.selectors import OrderState
from outbox.models import Delivery, Event
from payments import selectors as payments
from payments.selectors import ChargeAtProvider, MoneyAtProvider, PaymentState
from saga import desired
from saga.models import OrderSaga
from saga.projections import FACT_FIELDS
from saga.rebuild import fold_events
from shipping import selectors as shipping
from shipping.selectors import Booking, ShipmentRecord

# The inventory reservation's status as a facet of the saga.
STOCK_OF_RESERVATION = {
    "held": desired.Stock.HELD,
    "committed": desired.Stock.COMMITTED,
    "released": desired.Stock.RELEASED,
    "expired": desired.Stock.EXPIRED,
}


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
    order: OrderState | None = None
    reservation: Hold | None = None
    payment: PaymentState | None = None
    money: MoneyAtProvider | None = None  # the gateway's books, through its port
    bookings: list[Booking] = field(default_factory=list)  # the carrier's, through its port
    shipment: ShipmentRecord | None = None  # shipping's own record: which booking is ours
    deliveries: list[Pending] = field(default_factory=list)
    saga_drift: list[str] = field(default_factory=list)  # fields of the saga row wrong
    view_drift: list[str] = field(default_factory=list)  # fields of the order view wrong

    # --- the facets, as the participants tell them -------------------------------------

    @property
    def order_status(self) -> str | None:
        return self.order.status or None if self.order else None

    @property
    def reservation_status(self) -> str:
        return self.reservation.status if self.reservation else "none"

    @property
    def hold_expires_at(self) -> datetime | None:
        return self.reservation.expires_at if self.reservation else None

    @property
    def charges(self) -> tuple[ChargeAtProvider, ...]:
        return self.money.charges if self.money else ()

    @property
    def own_charge(self) -> ChargeAtProvider | None:
        """The charge made under the order's idempotency key (the one the saga asked for)."""
        return self.money.own_charge if self.money else None

    @property
    def extra_charges(self) -> list[ChargeAtProvider]:
        """Charges beyond the order's own (a provider's duplicate, or one never asked for),
        with money still held."""
        return self.money.extra_charges if self.money else []

    @property
    def payment_captured(self) -> bool:
        return bool(self.payment and self.payment.captured)

    @property
    def payment_token(self) -> str:
        return self.order.payment_token if self.order else ""

    @property
    def live_bookings(self) -> list[Booking]:
        return [b for b in self.bookings if b.live]

    def seen(self, saga: OrderSaga) -> desired.Observed:
        """The saga's facets from the participants (the saga row fills what they cannot say:
        the total, and whether a step failed)."""
        live = len(self.live_bookings)
        shipment = (desired.Shipment.BOOKED if live else
                    desired.Shipment.CANCELLED if self.bookings else desired.Shipment.NONE)
        return desired.Observed(
            order_status=self.order_status or saga.order_status,
            total=saga.total,
            stock=STOCK_OF_RESERVATION.get(self.reservation_status, desired.Stock.NONE),
            charged=self.money.charged if self.money else desired.ZERO,
            refunded=self.money.refunded if self.money else desired.ZERO,
            shipment=shipment,
            live_shipments=live,
            step_failed=saga.step_failed,
        )


def observe(sagas: list[OrderSaga]) -> dict[str, Observation]:
    """Observe every order of `sagas` (in a fixed number of queries and provider calls)."""
    ids = [s.order_id for s in sagas]
    seen = {order_id: Observation(order_id) for order_id in ids}
    if not ids:
        return seen
    for order_id, order in orders.orders(ids).items():
        seen[order_id].order = order
    for order_id, hold in inventory.holds(ids).items():
        seen[order_id].reservation = hold
    for order_id, payment in payments.payments(ids).items():
        seen[order_id].payment = payment
    for order_id, money in payments.money_at_provider(ids).items():
        seen[order_id].money = money
    for order_id, bookings in shipping.bookings_at_carrier(ids).items():
        seen[order_id].bookings = bookings
    for order_id, record in shipping.shipments(ids).items():
        seen[order_id].shipment = record
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
    """Fold the orders' events once (one query) into what the saga rows should hold, ask the
    orders context which order views disagree with their events, and note every field that
    differs. The rows compared are read again with the events, in one snapshot: the `sagas`
    given may have been read (claimed) before the latest event."""
    ids = [saga.order_id for saga in sagas]
    with _one_snapshot():
        events = list(Event.objects.filter(correlation_id__in=list(seen)).order_by("id"))
        rows = OrderSaga.objects.in_bulk(ids)
        view_drift = orders.view_drift(ids)
    rebuilt = fold_events(events)
    for order_id, saga in rows.items():
        fresh = rebuilt.get(order_id)
        if fresh is not None:
            seen[order_id].saga_drift = [
                f for f in FACT_FIELDS if getattr(fresh, f) != getattr(saga, f)]
    for order_id, fields in view_drift.items():
        seen[order_id].view_drift = fields
