"""Payment use cases: record what the payment learned, then do what its state says is due.

Each use case runs in one transaction (a savepoint inside a delivery's): the payment's snapshot
row is locked, so two handlers of one order take turns, and the gateway is called with an
idempotency key derived from the order, so a retry after any failure moves no money twice.
A transient gateway failure propagates (the delivery retries with backoff); a decline is a
normal outcome, recorded as `PaymentDeclined`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from itertools import groupby

from django.db import transaction
from django.db.models import Subquery

from common.sealing import unseal
from outbox import store
from outbox.contracts import DomainEvent
from outbox.envelope import Envelope
from outbox.models import Event
from outbox.repository import AggregateRepository
from outbox.store import ConcurrencyError
from payments.domain import (
    NO_CHARGE,
    ZERO,
    ChargeRequest,
    Payment,
    RefundRequest,
    charge_key,
    shortfall_key,
)
from payments.events import ExtraChargeRefunded
from payments.gateway import GatewayTimeout, PaymentGateway, PaymentRefused, default_gateway
from payments.models import PaymentSnapshot

log = logging.getLogger(__name__)

repository = AggregateRepository(Payment, PaymentSnapshot)

# Two first writers of a new payment stream can race (no snapshot row to lock yet); the loser
# reloads and decides again instead of failing the delivery.
CONFLICT_ATTEMPTS = 3
REBUILD_BATCH = 500

Step = Callable[[Payment, PaymentGateway], None]


def charge_payment(order_id: str, *, amount: Decimal | None = None, token: str = "",
                   stock_held: bool = False, gateway: PaymentGateway | None = None) -> Payment:
    """Record that the order is placed (its `amount` and `token`) and/or that its stock is held;
    charge once the order is placed, held and not cancelled."""

    def step(payment: Payment, gw: PaymentGateway) -> None:
        if amount is not None:
            _save(payment, payment.note_order_placed(amount, token))
        if stock_held:
            _save(payment, payment.note_stock_held())
        _settle(payment, gw)

    return _run(order_id, step, gateway)


def refund_payment(order_id: str, reason: str, *, compensation: bool,
                   gateway: PaymentGateway | None = None) -> Payment:
    """Refund the net captured amount (nothing if it is zero already).

    `compensation` says the saga is going back because of this refund's `reason` (the stock is
    released next); a correction sets it false and changes nothing else.
    """

    def step(payment: Payment, gw: PaymentGateway) -> None:
        request = payment.refund_request(reason, compensation=compensation)
        if request is None:
            log.info("payment of order %s has nothing to refund for %r", order_id, reason)
            return
        _save(payment, _refund(payment, request, gw))

    return _run(order_id, step, gateway)


def cancel_payment(order_id: str, reason: str, *,
                   gateway: PaymentGateway | None = None) -> Payment:
    """The order is cancelled: never charge it from now on, and refund what was captured,
    including a capture whose answer was lost before the cancel."""

    def step(payment: Payment, gw: PaymentGateway) -> None:
        _save(payment, payment.note_order_cancelled(reason))
        _settle(payment, gw)

    return _run(order_id, step, gateway)


def _run(order_id: str, step: Step, gateway: PaymentGateway | None) -> Payment:
    gw = gateway or default_gateway()
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                payment = repository.get(order_id) or Payment(order_id)
                step(payment, gw)
                return payment
        except ConcurrencyError:
            if attempt == CONFLICT_ATTEMPTS:
                raise
            log.info("payment of order %s changed under us; deciding again", order_id)
    raise AssertionError("unreachable")


def _save(payment: Payment, events: list[DomainEvent]) -> None:
    repository.save(payment, events, correlation_id=payment.id)


def _settle(payment: Payment, gateway: PaymentGateway) -> None:
    """Do what the payment's state says is due: charge; find a charge whose answer was lost
    before a cancel; refund a cancelled order's capture (a late capture included)."""
    if (charge := payment.charge_request()) is not None:
        _save(payment, _charge(payment, charge, gateway))
    elif payment.charge_in_doubt:
        found = gateway.look_up(charge_key(payment.id))
        if found is not None:
            log.warning("order %s was cancelled after its charge %s went through; refunding",
                        payment.id, found.charge_id)
            _save(payment, payment.record_capture(found.charge_id, found.amount))
    if (refund := payment.cancellation_refund()) is not None:
        _save(payment, _refund(payment, refund, gateway))


def _charge(payment: Payment, request: ChargeRequest, gateway: PaymentGateway) -> list[DomainEvent]:
    if request.amount == ZERO:
        return payment.record_capture(NO_CHARGE, ZERO)  # nothing to ask the provider for
    try:
        # The one place the customer's token is opened: to hand it to the provider.
        charge = gateway.charge(request.idempotency_key, request.amount, unseal(request.token),
                                order_id=payment.id)
    except PaymentRefused as refused:
        log.info("payment of order %s declined: %s", payment.id, refused.reason)
        return payment.record_decline()
    except GatewayTimeout:
        # The answer was lost, not necessarily the charge: ask the provider by key. If it
        # knows nothing, the timeout stands and the retry charges with the same key.
        charge = gateway.look_up(request.idempotency_key)
        if charge is None:
            raise
        log.warning("charge of order %s found by key after a lost answer", payment.id)
    return payment.record_capture(charge.charge_id, charge.amount)


def _refund(payment: Payment, request: RefundRequest, gateway: PaymentGateway) -> list[DomainEvent]:
    try:
        refund = gateway.refund(request.idempotency_key, request.charge_id, request.amount)
    except GatewayTimeout:
        refund = gateway.look_up_refund(request.idempotency_key)
        if refund is None:
            raise
        log.warning("refund of order %s found by key after a lost answer", payment.id)
    return payment.record_refund(request, refund.refund_id)


def rebuild_read_models(progress: Callable[[int, int], None] | None = None) -> int:
    """Rewrite every payment snapshot by folding its events; returns how many were written.

    `progress(done, total)` is called after each batch. Snapshots without events are deleted.
    Each batch locks its snapshot rows first, so a handler writing meanwhile waits, and the
    rewrite never lands under a newer version.
    """
    stream_type = Payment.stream_type
    stream_ids = list(Event.objects.filter(stream_type=stream_type)
                      .values_list("stream_id", flat=True).distinct().order_by("stream_id"))
    total = len(stream_ids)
    PaymentSnapshot.objects.exclude(stream_id__in=Subquery(
        Event.objects.filter(stream_type=stream_type).values("stream_id"))).delete()
    done = 0
    for start in range(0, total, REBUILD_BATCH):
        batch = stream_ids[start:start + REBUILD_BATCH]
        with transaction.atomic(savepoint=False):
            list(PaymentSnapshot.objects.select_for_update().filter(stream_id__in=batch)
                 .values_list("stream_id", flat=True))
            rows = (Event.objects.filter(stream_type=stream_type, stream_id__in=batch)
                    .order_by("stream_id", "version"))
            snapshots = []
            for stream_id, stream_rows in groupby(rows.iterator(), key=lambda r: r.stream_id):
                payment = Payment(stream_id).fold(Envelope.from_model(r).event for r in stream_rows)
                snapshots.append(PaymentSnapshot(stream_id=stream_id, version=payment.version,
                                                 state=payment.snapshot()))
            PaymentSnapshot.objects.bulk_create(
                snapshots, update_conflicts=True, unique_fields=["stream_id"],
                update_fields=["version", "state", "updated_at"])
        done += len(batch)
        if progress is not None:
            progress(done, total)
    return done


# --- Corrections requested by the reconciler (saga app) --------------------------------------
# Added by the saga's engineer. An extra charge (a duplicate the provider booked, or one the
# payment never asked for) is outside the Payment aggregate's books, so its refund is recorded
# on a stream of its own, one per charge: written once, which makes a repeated request a no-op.

EXTRA_CHARGE_STREAM = "payments.ExtraCharge"


def extra_charge_refund_key(order_id: str, charge_id: str) -> str:
    return f"order-{order_id}-extra-{charge_id}-refund"


def refund_extra_charge(order_id: str, charge_id: str, amount: Decimal, reason: str, *,
                        gateway: PaymentGateway | None = None) -> list[DomainEvent]:
    """Refund `amount` of the extra charge `charge_id` → ExtraChargeRefunded (once)."""
    gw = gateway or default_gateway()
    with transaction.atomic(savepoint=False):
        if Event.objects.filter(stream_type=EXTRA_CHARGE_STREAM, stream_id=charge_id).exists():
            return []
        key = extra_charge_refund_key(order_id, charge_id)
        try:
            refund = gw.refund(key, charge_id, amount)
        except GatewayTimeout:
            refund = gw.look_up_refund(key)
            if refund is None:
                raise
        events: list[DomainEvent] = [ExtraChargeRefunded(
            order_id=order_id, charge_id=charge_id, refund_id=refund.refund_id, amount=amount,
            reason=reason)]
        # Two concurrent requests: the provider answers both with one refund (same key), and
        # the version guard lets one of them record it; the other retries and finds it done.
        store.append(EXTRA_CHARGE_STREAM, charge_id, 0, events, correlation_id=order_id)
    return events


def charge_shortfall(order_id: str, desired_net: Decimal, command_id: int, *,
                     gateway: PaymentGateway | None = None) -> Decimal:
    """Charge what the provider's books are short of `desired_net` (an approved correction),
    under a key of its own command; returns the amount charged. Re-checked here against the
    provider: nothing short (the state moved on), nothing charged."""
    gw = gateway or default_gateway()
    ledger = gw.charges_for([order_id]).get(order_id)
    short = desired_net - (ledger.net if ledger else ZERO)
    payment = repository.get(order_id)
    if short <= ZERO or payment is None:
        log.info("shortfall charge for order %s refused: nothing is short", order_id)
        return ZERO
    key = shortfall_key(order_id, command_id)
    try:
        gw.charge(key, short, unseal(payment.token), order_id=order_id)
    except GatewayTimeout:
        if gw.look_up(key) is None:
            raise
    except PaymentRefused:
        # Final for this card: the saga stays short, and the reconciler proposes again.
        log.warning("shortfall charge of %s for order %s declined", short, order_id)
        return ZERO
    return short
