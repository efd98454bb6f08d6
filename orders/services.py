"""Use cases of the orders context: load the order, decide, save its events and snapshot in one
transaction. Every event of an order's saga carries the order id as its correlation id."""

from __future__ import annotations

import logging
import smtplib
import socket
import uuid
from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from common import sql
from common.providers import PROVIDERS_DB
from common.sealing import seal
from orders import projections
from orders.domain import FACT_EVENTS, Order, OrderStatus, SagaFacts, price_lines
from orders.events import ShippingAddress
from orders.models import (
    CatalogueEntry,
    ConfirmationEmailDispatch,
    IdempotencyKey,
    OrderSnapshot,
)
from outbox.repository import AggregateRepository
from outbox.store import read_correlated

log = logging.getLogger(__name__)

orders = AggregateRepository(Order, OrderSnapshot)
FACT_EVENT_TYPES = [cls.event_type for cls in FACT_EVENTS]
DEFAULT_PAYMENT_TOKEN = "tok_ok"


class OrderNotFound(LookupError):
    pass


class UnknownProducts(ValueError):
    def __init__(self, skus: Sequence[str]) -> None:
        super().__init__(f"unknown sku: {', '.join(skus)}")
        self.skus = list(skus)


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"  # cancelled now; the other contexts compensate what they hold
    ALREADY_CANCELLED = "already_cancelled"  # nothing changed


def place_order(
    *,
    customer_id: str,
    lines: Sequence[tuple[str, int]],
    shipping_address: ShippingAddress,
    payment_token: str = DEFAULT_PAYMENT_TOKEN,
    actor: str | None = None,
) -> str:
    """Price the lines from the catalogue as it is now, append `OrderPlaced` (the read model
    follows in the same transaction); returns the new order id. Call inside the caller's
    transaction to tie other writes (the idempotency record) to it."""
    skus = [sku for sku, _ in lines]
    prices = dict(CatalogueEntry.objects.filter(sku__in=skus).values_list("sku", "price"))
    unknown = [sku for sku in skus if sku not in prices]
    if unknown:
        raise UnknownProducts(unknown)
    order_id = str(uuid.uuid4())
    order = Order(order_id)
    events = order.place(
        customer_id=customer_id,
        lines=price_lines(lines, prices),
        shipping_address=shipping_address,
        # Sealed before it reaches any event: only payments opens it, to charge.
        payment_token=seal(payment_token),
    )
    with transaction.atomic(savepoint=False):
        orders.save(order, events, correlation_id=order_id, actor=actor)
    return order_id


def _load(order_id: str) -> Order:
    order = orders.get(order_id)
    if order is None or order.status is None:
        raise OrderNotFound(order_id)
    return order


def cancel_order(order_id: str, *, reason: str, requested_by: str) -> CancelOutcome:
    """Cancel before the pivot. Raises `OrderAlreadyConfirmed` past it, `OrderNotFound`."""
    with transaction.atomic():  # a savepoint: callers go on after OrderAlreadyConfirmed
        order = _load(order_id)
        events = order.cancel(reason=reason, requested_by=requested_by)
        if not events:
            return CancelOutcome.ALREADY_CANCELLED
        orders.save(order, events, correlation_id=order_id, actor=requested_by)
    return CancelOutcome.CANCELLED


def cancel_if_pending(order_id: str, *, reason: str) -> bool:
    """A saga step failed: cancel the order if it is still pending (else nothing)."""
    with transaction.atomic(savepoint=False):
        order = _load(order_id)
        if order.status is not OrderStatus.PENDING:
            return False
        events = order.cancel(reason=reason, requested_by="saga")
        orders.save(order, events, correlation_id=order_id)
    return True


def reread_facts(order_id: str) -> SagaFacts:
    """The participants' facts as the event store holds them now (each participant's events
    are on one stream, so their order by id is their order by version)."""
    envelopes = read_correlated(order_id, FACT_EVENT_TYPES)
    return SagaFacts.of(order_id, (env.event for env in envelopes))


def advance_order(order_id: str) -> bool:
    """Confirm when stock is held, payment captured and shipment booked (the pivot); the
    order row stays locked from the reread to the commit. Returns whether it confirmed."""
    with transaction.atomic(savepoint=False):
        order = _load(order_id)
        if order.status is not OrderStatus.PENDING:
            return False
        facts = reread_facts(order_id)
        events = order.confirm(facts)
        if facts.setbacks:
            log.info("order %s not confirmed: undone %s", order_id, ", ".join(facts.setbacks))
        orders.save(order, events, correlation_id=order_id)
    return bool(events)


def confirmation_email(order: Order, to: str) -> EmailMessage:
    lines = "\n".join(
        f"  {line.quantity} x {line.sku} at {line.unit_price:.2f}" for line in order.lines
    )
    return EmailMessage(
        subject=f"Your order {order.id} is confirmed",
        body=(
            f"Thank you for your order.\n\nOrder {order.id} is confirmed:\n{lines}\n"
            f"Total: {order.total:.2f}\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )


def send_confirmation_email(order_id: str) -> bool:
    """Send the e-mail once. The `ConfirmationEmailSent` event is appended first and the mail
    sent last in the same transaction: a failed send rolls the event back (and is retried);
    the order row stays locked meanwhile, so no second sender gets past the guard.

    The mail cannot be rolled back, and the commit can still fail after the send; so the
    hand-over is noted first through a connection of its own, and a retry that finds the note
    records the event without sending again (never twice; lost only if the process dies
    between the note and the send). A send refused outright takes its note back and is
    retried; one that failed ambiguously keeps its note as "unknown"."""
    with transaction.atomic(savepoint=False):
        order = _load(order_id)
        if not order.confirmation_email_due:
            return False
        user_model = get_user_model()
        user = sql.first(user_model, **{user_model._meta.pk.name: int(order.customer_id)})
        address = getattr(user, user_model.get_email_field_name(), "") if user else ""
        if not address:
            log.warning("order %s confirmed, but its customer has no e-mail address", order_id)
            return False
        orders.save(order, order.record_confirmation_email(address), correlation_id=order_id)
        # The hand-over to the mail backend is noted through the providers' connection: it
        # commits on its own, so the note outlives a rollback of this delivery.
        dispatches = ConfirmationEmailDispatch.objects.using(PROVIDERS_DB)
        first = sql.insert(ConfirmationEmailDispatch(order_id=order_id), unless_present=True,
                            using=PROVIDERS_DB)
        if not first:
            log.warning("order %s: its confirmation e-mail went out on an attempt whose commit "
                        "failed; it is recorded, not sent again", order_id)
            return False
        try:
            confirmation_email(order, address).send()
        except DEFINITELY_NOT_SENT:
            dispatches.filter(order_id=order_id).delete()  # refused before any data: retry
            raise
        except Exception as exc:
            # A timeout or a dropped connection once the server may have taken the mail:
            # recorded as unknown for an operator, never sent again blindly.
            dispatches.filter(order_id=order_id).update(
                outcome=ConfirmationEmailDispatch.Outcome.UNKNOWN, failure=repr(exc)[:1000])
            log.warning("order %s: its confirmation e-mail may or may not have gone out (%r); "
                        "recorded as unknown, not retried", order_id, exc)
            return False
        dispatches.filter(order_id=order_id).update(outcome=ConfirmationEmailDispatch.Outcome.SENT)
    return True


# Failures that prove the server took nothing (refused connection, login, sender or
# recipients, or the message itself): the note is taken back and the delivery retried.
DEFINITELY_NOT_SENT = (
    ConnectionRefusedError,
    socket.gaierror,  # the server's name did not resolve
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPDataError,
)


def forget_idempotency_keys(older_than: timedelta | None = None) -> int:
    """Delete remembered placements past their retention (at least 24 hours)."""
    cutoff = timezone.now() - (older_than or idempotency_retention())
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def idempotency_retention() -> timedelta:
    hours = max(24.0, float(getattr(settings, "ORDERS_IDEMPOTENCY_KEY_HOURS", 24)))
    return timedelta(hours=hours)


def rebuild_read_models(progress: projections.Progress | None = None) -> int:
    """Rebuild the order view and the catalogue price list from the event store."""
    return projections.rebuild_read_models(progress)

