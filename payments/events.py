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
