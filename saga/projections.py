"""The coordination state as a projection: every event of an order's saga is folded into its
`OrderSaga` row inside the transaction that appends it (a synchronous projector, so no Celery
hop is added per event), and the same fold rebuilds the rows from the event store.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from common import sql
from inventory.events import (
    ReservationExpired,
    StockCommitted,
    StockReleased,
    StockReleaseRequested,
    StockReservationFailed,
    StockReservationRequested,
    StockReserved,
)
from orders.events import (
    ConfirmationEmailSent,
    OrderCancellationRequested,
    OrderCancelled,
    OrderConfirmed,
    OrderPlaced,
    OrderStatus,
    OrderViewRepairRequested,
)
from outbox.envelope import Envelope
from outbox.registry import projects
from payments.events import (
    ExtraChargeRefunded,
    ExtraChargeRefundRequested,
    PaymentCaptured,
    PaymentDeclined,
    PaymentRefunded,
    PaymentSettlementRequested,
    ShortfallChargeRequested,
)
from saga import desired, steps
from saga.models import OrderSaga
from shipping.events import (
    ExtraBookingCancellationRequested,
    ShipmentBooked,
    ShipmentCancellationRequested,
    ShipmentCancelled,
    ShipmentFailed,
    ShipmentRebookingRequested,
)

READ_MODELS = (OrderSaga,)
FACT_EVENTS = (
    OrderPlaced, OrderConfirmed, OrderCancelled, ConfirmationEmailSent,
    StockReserved, StockReservationFailed, StockReleased, ReservationExpired, StockCommitted,
    PaymentCaptured, PaymentDeclined, PaymentRefunded, ExtraChargeRefunded,
    ShipmentBooked, ShipmentFailed, ShipmentCancelled,
)
# The reconciler's commands: seen (last event), but they change no fact until answered.
COMMAND_EVENTS = (
    OrderCancellationRequested, OrderViewRepairRequested, StockReleaseRequested,
    StockReservationRequested, PaymentSettlementRequested, ExtraChargeRefundRequested,
    ExtraBookingCancellationRequested, ShipmentCancellationRequested,
    ShipmentRebookingRequested, ShortfallChargeRequested,
)

# What the projection owns; the rest of the row is the reconciler's bookkeeping.
PROJECTED_FIELDS = (
    "customer_id", "total", "order_status", "reason", "step_failed", "stock", "hold_expires_at",
    "charged", "refunded", "net", "captures", "shipment", "email_sent", "desired_outcome", "gap",
    "current_step", "step_started_at", "step_deadline", "last_event_id", "last_event_type",
    "last_event_at", "started_at", "converged_at",
)
# The facts a stored row must agree with its events on; the gap and the time of convergence
# are also the reconciler's word (what it observed at the participants), so they may differ.
FACT_FIELDS = tuple(f for f in PROJECTED_FIELDS if f not in ("gap", "converged_at"))


def fold(saga: OrderSaga, event: Any) -> None:
    """Record one fact of the order's saga on its row. Order-independent where it can be:
    a terminal status is never walked back by a late event."""
    match event:
        case OrderPlaced():
            saga.customer_id = event.customer_id
            saga.total = event.total
        case OrderConfirmed():
            saga.order_status = OrderStatus.CONFIRMED
        case OrderCancelled():
            if saga.order_status != OrderStatus.CONFIRMED:
                saga.order_status = OrderStatus.CANCELLED
                saga.reason = saga.reason or event.reason
        case ConfirmationEmailSent():
            saga.email_sent = True
        case StockReserved():
            if saga.stock != desired.Stock.COMMITTED:
                saga.stock = desired.Stock.HELD
                saga.hold_expires_at = parse_datetime(event.expires_at)
        case StockReleased():
            if saga.stock != desired.Stock.COMMITTED:
                saga.stock = desired.Stock.RELEASED
            if saga.order_status == OrderStatus.PENDING:
                # A release is a compensation: the choreography cancels a pending order on it
                # (orders.cancel_order), so the saga heads for cancelled too.
                saga.step_failed = True
                saga.reason = saga.reason or event.reason
        case ReservationExpired():
            if saga.stock != desired.Stock.COMMITTED:
                saga.stock = desired.Stock.EXPIRED  # no failure: asked for again (steps.py)
        case StockCommitted():
            saga.stock = desired.Stock.COMMITTED
        case StockReservationFailed() | PaymentDeclined() | ShipmentFailed():
            saga.step_failed = True
            saga.reason = saga.reason or event.reason
        case PaymentCaptured():
            saga.charged += Decimal(event.amount)
            saga.captures += 1
        case PaymentRefunded():
            saga.refunded += Decimal(event.amount)
        case ExtraChargeRefunded():
            # A charge the payment never recorded, and its refund: both facts of the money.
            saga.charged += Decimal(event.amount)
            saga.refunded += Decimal(event.amount)
        case ShipmentBooked():
            if saga.shipment != desired.Shipment.CANCELLED:
                saga.shipment = desired.Shipment.BOOKED
        case ShipmentCancelled():
            saga.shipment = desired.Shipment.CANCELLED
    saga.net = saga.charged - saga.refunded


def refresh(saga: OrderSaga, at: datetime) -> None:
    """Recompute what follows from the facts: desired outcome, gap, step, state."""
    seen = saga.observed()
    saga.desired_outcome = desired.desired_outcome(seen.order_status, seen.step_failed)
    saga.gap = desired.gap(seen)
    step = steps.current_step(seen)
    if step != saga.current_step:
        saga.current_step = step
        saga.step_started_at = at
        saga.step_retries = 0
        saga.step_deadline = (
            None if step == steps.DONE
            else at + timedelta(seconds=settings.SAGA_STEP_DEADLINE_SECONDS)
        )
    if saga.gap == 0:
        if saga.state != OrderSaga.State.CONVERGED:
            saga.verified_at = None  # newly converged: first in line for verification
        saga.state = OrderSaga.State.CONVERGED
        saga.attention_reason = ""
        saga.next_check_at = None
        saga.observed_gap = None
        saga.converged_at = saga.converged_at or at
        return
    saga.converged_at = None
    if saga.state != OrderSaga.State.NEEDS_ATTENTION:  # only a person or convergence clears it
        saga.state = (OrderSaga.State.COMPENSATING
                      if saga.desired_outcome == desired.DesiredOutcome.CANCELLED
                      else OrderSaga.State.RUNNING)
    saga.observed_gap = None
    if saga.state == OrderSaga.State.NEEDS_ATTENTION and saga.next_check_at is not None:
        # Events (the reconciler's own commands among them) do not bring a saga that waits
        # for a person back to every pass: its visits keep thinning out (saga.bookkeeping).
        return
    # The saga moved: nothing to check before its step's deadline, and the gap the
    # reconciler saw is history (only a gap growing while nothing happens is alarming).
    saga.checks = 0
    saga.next_check_at = saga.step_deadline or at
    if saga.stock == desired.Stock.EXPIRED and saga.current_step == "reserve_stock":
        # No context reacts to an expired hold: only the reconciler's re-request moves it.
        saga.next_check_at = at


def new_saga(order_id: str, at: datetime) -> OrderSaga:
    return OrderSaga(order_id=order_id, started_at=at, current_step="")


def apply(saga: OrderSaga, event: Any, env: Envelope) -> None:
    """Fold one enveloped event and refresh; the caller saves."""
    _seen(saga, env)
    if not isinstance(event, FACT_EVENTS):
        return
    fold(saga, event)
    if isinstance(event, OrderPlaced):
        saga.started_at = env.recorded_at
    refresh(saga, env.recorded_at)


def _seen(saga: OrderSaga, env: Envelope) -> None:
    if saga.last_event_id is None or env.id >= saga.last_event_id:
        saga.last_event_id = env.id
        saga.last_event_type = env.event_type
        saga.last_event_at = env.recorded_at


@projects(*FACT_EVENTS)
def project_saga_event(event: Any, env: Envelope) -> None:
    """Runs inside the appending transaction: the row moves with the event or not at all."""
    if isinstance(event, OrderPlaced):
        # The first event of a saga: its row is new (one statement, not a read and a write).
        saga = new_saga(event.order_id, env.recorded_at)
        apply(saga, event, env)
        if sql.insert(saga, unless_present=True):
            return
    saga = sql.load(OrderSaga, event.order_id, lock=True)
    if saga is None:
        saga = new_saga(event.order_id, env.recorded_at)
        apply(saga, event, env)
        sql.insert(saga)
        return
    before = sql.values_of(saga)
    apply(saga, event, env)
    sql.update_changed(saga, before)


@projects(*COMMAND_EVENTS)
def project_saga_command(event: Any, env: Envelope) -> None:
    """A command is the last thing seen of the saga, nothing more (its answer is the fact)."""
    OrderSaga.objects.filter(order_id=event.order_id).update(
        last_event_id=env.id, last_event_type=env.event_type, last_event_at=env.recorded_at)
