"""Shipping's reactions to the saga's events (docs/choreography.md).

Each one records what it learned on the order's shipment and acts when the shipment's state
says so; a duplicate or a late event changes nothing. A carrier that is down (an error or a
timeout) is waited out as payments waits out its gateway (payments/handlers.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from orders.events import OrderCancelled, OrderPlaced, ShippingAddress
from outbox.delivery import PermanentError
from outbox.envelope import Envelope
from outbox.outages import OUTAGE_SPENT, retry_within_budget
from outbox.registry import handles
from payments.events import PaymentCaptured
from shipping import services
from shipping.carrier import CarrierError, default_carrier
from shipping.events import (
    Address,
    ExtraBookingCancellationRequested,
    ShipmentCancellationRequested,
    ShipmentRebookingRequested,
)


def address_of(placed: ShippingAddress) -> Address:
    return Address(name=placed.name, line1=placed.line1, line2=placed.line2, city=placed.city,
                   postal_code=placed.postal_code, country=placed.country)


@contextmanager
def _outage_waited_out(envelope: Envelope, *, forward: bool) -> Iterator[None]:
    try:
        yield
    except CarrierError as exc:
        retry = retry_within_budget(exc, started=envelope.recorded_at,
                                    budget_seconds=settings.SAGA_PROVIDER_OUTAGE_BUDGET_SECONDS)
        if retry is not None:
            raise retry from exc
        if forward:
            raise PermanentError(f"{OUTAGE_SPENT}: {exc}") from exc
        raise


@handles(OrderPlaced, PaymentCaptured, name="shipping.book_shipment")
def book_shipment(event: OrderPlaced | PaymentCaptured, envelope: Envelope) -> None:
    """Learn the address or the payment; when placed + paid + not cancelled + not booked, book
    with the carrier → ShipmentBooked | ShipmentFailed("carrier refused the address")."""
    with _outage_waited_out(envelope, forward=True):
        if isinstance(event, OrderPlaced):
            services.book_shipment(event.order_id, address=address_of(event.shipping_address))
        else:
            services.book_shipment(event.order_id, charge_id=event.charge_id)


@handles(OrderCancelled, name="shipping.cancel_shipment")
def cancel_shipment(event: OrderCancelled, envelope: Envelope) -> None:
    """Cancel a live booking → ShipmentCancelled; never book for this order afterwards."""
    with _outage_waited_out(envelope, forward=False):
        services.cancel_shipment(event.order_id, event.reason)


# --- Commands from the reconciler (saga app) -------------------------------------------------
# Added by the saga's engineer: each command is a thin call into this context's own services,
# idempotent like every handler (a repeated command finds the work done and changes nothing).


@handles(ShipmentCancellationRequested, name="shipping.cancel_on_request")
def cancel_on_request(event: ShipmentCancellationRequested, envelope: Envelope) -> None:
    """Cancel a booking left live on a cancelled order: the shipment records it if it held the
    booking (→ ShipmentCancelled), and the carrier cancels it by key even when our books
    already said cancelled (the carrier's ledger is what ships)."""
    with _outage_waited_out(envelope, forward=False):
        services.cancel_shipment(event.order_id, event.reason)
        default_carrier().cancel(event.idempotency_key)


@handles(ShipmentRebookingRequested, name="shipping.rebook_on_request")
def rebook_on_request(event: ShipmentRebookingRequested, envelope: Envelope) -> None:
    """Book a confirmed order's shipment again under a new key → ShipmentRebooked; nothing
    when the shipment moved on or the carrier holds a live booking for it again."""
    with _outage_waited_out(envelope, forward=False):
        services.rebook_shipment(event.order_id)


@handles(ExtraBookingCancellationRequested, name="shipping.cancel_extra_booking")
def cancel_extra_booking(event: ExtraBookingCancellationRequested, envelope: Envelope) -> None:
    """Cancel one live booking beyond the shipment's own → ExtraBookingCancelled; never the
    shipment's own booking, nor the order's last live one."""
    with _outage_waited_out(envelope, forward=False):
        services.cancel_extra_booking(event.order_id, event.idempotency_key, event.reason)
