"""How payments reacts to the other contexts (docs/choreography.md).

Each handler records what it learned on the order's Payment and acts when the payment's state
says so, so arrival order and duplicates do not matter. A request the provider rejects for good
is a `PermanentError`. A transient gateway failure (an error or a timeout: the provider is down)
waits the outage out: the delivery is retried with capped backoff, beyond the outbox's attempt
limit, while the step's `SAGA_PROVIDER_OUTAGE_BUDGET_SECONDS` last (from the event that started
the step); then a forward step gives up (dead, and the reconciler compensates), and a
compensation goes on retrying like any failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from common.sealing import NotSealed
from inventory.events import StockReserved
from orders.events import OrderCancelled, OrderPlaced
from outbox.delivery import PermanentError
from outbox.envelope import Envelope
from outbox.outages import OUTAGE_SPENT, retry_within_budget
from outbox.registry import handles
from payments import services
from payments.domain import PaymentRuleBroken
from payments.events import (
    ExtraChargeRefundRequested,
    PaymentSettlementRequested,
    ShortfallChargeRequested,
)
from payments.gateway import GatewayError, GatewayRejected
from shipping.events import ShipmentFailed


@contextmanager
def _no_retry_for_rejections(envelope: Envelope, *, forward: bool) -> Iterator[None]:
    try:
        yield
    except (GatewayRejected, PaymentRuleBroken, NotSealed) as exc:
        raise PermanentError(str(exc)) from exc
    except GatewayError as exc:
        retry = retry_within_budget(exc, started=envelope.recorded_at,
                                    budget_seconds=settings.SAGA_PROVIDER_OUTAGE_BUDGET_SECONDS)
        if retry is not None:
            raise retry from exc
        if forward:
            raise PermanentError(f"{OUTAGE_SPENT}: {exc}") from exc
        raise


@handles(OrderPlaced, StockReserved, name="payments.charge_payment")
def charge_payment(event: OrderPlaced | StockReserved, envelope: Envelope) -> None:
    with _no_retry_for_rejections(envelope, forward=True):
        if isinstance(event, OrderPlaced):
            services.charge_payment(event.order_id, amount=event.total, token=event.payment_token)
        else:
            services.charge_payment(event.order_id, stock_held=True)


@handles(ShipmentFailed, OrderCancelled, name="payments.refund_payment")
def refund_payment(event: ShipmentFailed | OrderCancelled, envelope: Envelope) -> None:
    with _no_retry_for_rejections(envelope, forward=False):
        if isinstance(event, ShipmentFailed):
            # Going back from a failed shipment: the refund is a compensation, and the
            # stock is released when it is announced.
            services.refund_payment(event.order_id, event.reason, compensation=True)
        else:
            # A cancelled order's refund is NOT a compensation: OrderCancelled itself drives
            # inventory.release_stock, so a compensating refund would open a second release
            # path (harmless, release is idempotent, but noise in every cancelled timeline).
            services.cancel_payment(event.order_id, event.reason)


# --- Commands from the reconciler (saga app) -------------------------------------------------
# Added by the saga's engineer: each command is a thin call into this context's own services,
# idempotent like every handler (a repeated command finds the work done and changes nothing).


@handles(PaymentSettlementRequested, name="payments.settle_on_request")
def settle_on_request(event: PaymentSettlementRequested, envelope: Envelope) -> None:
    """Charge if due (a lost answer is found by key, never charged twice); a cancelled
    order is never charged, and its capture is refunded."""
    with _no_retry_for_rejections(envelope, forward=not event.cancelled):
        if event.cancelled:  # noted first, so what follows can only look up and refund
            services.cancel_payment(event.order_id, event.reason)
        services.charge_payment(event.order_id, amount=event.amount, token=event.token,
                                stock_held=event.stock_held)


@handles(ExtraChargeRefundRequested, name="payments.refund_extra_charge")
def refund_extra_charge(event: ExtraChargeRefundRequested, envelope: Envelope) -> None:
    """Refund one charge the payment never asked for → ExtraChargeRefunded."""
    with _no_retry_for_rejections(envelope, forward=False):
        services.refund_extra_charge(event.order_id, event.charge_id, event.amount,
                                     event.reason)


@handles(ShortfallChargeRequested, name="payments.charge_shortfall")
def charge_shortfall(event: ShortfallChargeRequested, envelope: Envelope) -> None:
    """Charge what the provider's books are short of the desired net (an approved
    correction), once per command; nothing when nothing is short any more."""
    with _no_retry_for_rejections(envelope, forward=False):
        services.charge_shortfall(event.order_id, event.desired_net, envelope.id)
