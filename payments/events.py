"""Events the payments context publishes (its public contract)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from outbox.contracts import event


@event("payments.PaymentCaptured", version=1)
@dataclass(frozen=True)
class PaymentCaptured:
    order_id: str
    amount: Decimal
    charge_id: str


@event("payments.PaymentDeclined", version=1)
@dataclass(frozen=True)
class PaymentDeclined:
    order_id: str
    reason: str


@event("payments.PaymentRefunded", version=1)
@dataclass(frozen=True)
class PaymentRefunded:
    """Money returned: a new financial fact, never an erasure of the charge.

    `compensation` is true when the refund undoes the order's charge because the saga is
    going back (the stock is then released next); false for a correction such as refunding
    a duplicate charge, which changes nothing else.
    """

    order_id: str
    amount: Decimal
    refund_id: str
    reason: str
    compensation: bool


# What a payment learns from the other contexts, recorded on its own stream so that its state
# can always be rebuilt from the event store alone. No other context reacts to these (terminal).


@event("payments.OrderPlacementNoted", version=2, terminal=True)
@dataclass(frozen=True)
class OrderPlacementNoted:
    """The payment knows what to charge: the order's total, with the customer's token, sealed
    (common/sealing.py; "" for the gateway's default). Version 1 carried it in clear."""

    order_id: str
    amount: Decimal
    token: str


@event("payments.StockHoldNoted", version=1, terminal=True)
@dataclass(frozen=True)
class StockHoldNoted:
    """The order's stock is held, so the charge may go ahead."""

    order_id: str


@event("payments.OrderCancellationNoted", version=1, terminal=True)
@dataclass(frozen=True)
class OrderCancellationNoted:
    """The order is cancelled: nothing is charged from now on and any capture is refunded."""

    order_id: str
    reason: str


# --- Commands the reconciler (saga app) sends through the outbox ---------------------------
# Contexts never import the saga, so the commands they accept are part of their own contract;
# the handlers are in payments/handlers.py, under the same heading.


@event("payments.PaymentSettlementRequested", version=2)
@dataclass(frozen=True)
class PaymentSettlementRequested:
    """Do what the payment's state says is due, after noting what the saga knows of the order
    (each fact is noted once; a payment that knew it already changes nothing): charge when due
    (a charge whose answer was lost is found by its idempotency key and recorded, never made
    twice); for a cancelled order, charge nothing and refund what was captured."""

    order_id: str
    reason: str
    amount: Decimal
    token: str  # sealed, as in OrderPlaced (version 1 carried it in clear)
    stock_held: bool
    cancelled: bool


@event("payments.ExtraChargeRefundRequested", version=1)
@dataclass(frozen=True)
class ExtraChargeRefundRequested:
    """Refund a charge the provider holds for the order beyond the payment's own (a duplicate
    the provider booked, or any charge the payment never asked for)."""

    order_id: str
    charge_id: str
    amount: Decimal
    reason: str


@event("payments.ExtraChargeRefunded", version=1, terminal=True)
@dataclass(frozen=True)
class ExtraChargeRefunded:
    """An extra charge went back to the customer. The payment's own books never held it, so
    its net is unchanged; the provider's ledger now nets it to zero."""

    order_id: str
    charge_id: str
    refund_id: str
    amount: Decimal
    reason: str


@event("payments.ShortfallChargeRequested", version=1)
@dataclass(frozen=True)
class ShortfallChargeRequested:
    """Charge the customer what the provider's books are short of `desired_net` for a
    confirmed order (money taken from a customer: only ever sent once a person approved it).
    Re-checked at handling time against the provider's books: nothing short, nothing charged."""

    order_id: str
    desired_net: Decimal
    reason: str
