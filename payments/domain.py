"""The Payment aggregate: one per order, plain Python.

A payment is a join of three facts learned from other contexts (the order is placed, its stock
is held, or it is cancelled) and of what the gateway answered. The charge is due once the order
is placed and held and not cancelled, and only until it has been captured or declined. Money is
tracked as facts: every capture and every refund is an event, and the net amount is derived
from them; a refund never erases a charge.

Talking to the gateway is the service's job: the aggregate says what to ask for
(`charge_request`, `refund_request`) and turns the answer into events (`record_*`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self

from outbox.contracts import Aggregate, DomainEvent
from payments.events import (
    OrderCancellationNoted,
    OrderPlacementNoted,
    PaymentCaptured,
    PaymentDeclined,
    PaymentRefunded,
    StockHoldNoted,
)

# The gateway's token when the order gave none (the empty token).
DEFAULT_TOKEN = "tok_ok"
DECLINE_REASON = "payment declined"
# A zero total is captured without asking the gateway; its capture carries no charge id.
NO_CHARGE = ""
ZERO = Decimal("0")


class PaymentRuleBroken(Exception):
    """A command contradicts the payment's history (a bug or a corrupt input, not a retry case)."""


class PaymentStatus(StrEnum):
    PENDING = "pending"  # waiting for the order, the stock hold, or the gateway
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DECLINED = "declined"
    CANCELLED = "cancelled"  # the order was cancelled before anything was charged


def charge_key(order_id: str) -> str:
    """One idempotency key per order: a retried charge can never charge twice."""
    return f"order-{order_id}-charge"


def shortfall_key(order_id: str, command_id: int) -> str:
    """The key of a charge an operator approved to make up a shortfall: one per approved
    command, so a retried delivery of it never charges twice."""
    return f"order-{order_id}-shortfall-{command_id}"


def is_shortfall_key(order_id: str, key: str) -> bool:
    return key.startswith(f"order-{order_id}-shortfall-")


def refund_key(order_id: str, number: int) -> str:
    """Each refund has its own key; the number is the refund's rank in the payment's history,
    so a retry of the same refund reuses it and the next refund gets a new one."""
    return f"order-{order_id}-refund-{number}"


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str
    amount: Decimal
    token: str


@dataclass(frozen=True)
class RefundRequest:
    idempotency_key: str
    charge_id: str
    amount: Decimal
    reason: str
    compensation: bool


class Payment(Aggregate):
    stream_type = "payments.Payment"

    def __init__(self, order_id: str) -> None:
        super().__init__(order_id)
        self.amount: Decimal | None = None
        self.token = ""  # sealed (common/sealing.py); "" lets the gateway use its default
        self.stock_held = False
        self.cancelled = False
        self.cancel_reason = ""
        self.captured = False
        self.charge_id = NO_CHARGE
        self.declined = False
        self.decline_reason = ""
        self.charged = ZERO
        self.refunded = ZERO
        self.refund_count = 0

    # --- state ----------------------------------------------------------------------------

    @property
    def placed(self) -> bool:
        return self.amount is not None

    @property
    def net(self) -> Decimal:
        return self.charged - self.refunded

    @property
    def charge_due(self) -> bool:
        return (self.placed and self.stock_held and not self.cancelled
                and not self.captured and not self.declined)

    @property
    def charge_in_doubt(self) -> bool:
        """Cancelled with no answer recorded: a charge may have reached the provider before
        the cancel, its answer lost (or its transaction, with the fact that made it due, rolled
        back), so the provider is asked by key."""
        return self.cancelled and self.placed and not self.captured and not self.declined

    @property
    def status(self) -> PaymentStatus:
        if self.declined:
            return PaymentStatus.DECLINED
        if self.captured:
            if self.refunded == ZERO:
                return PaymentStatus.CAPTURED
            return PaymentStatus.REFUNDED if self.net == ZERO else PaymentStatus.PARTIALLY_REFUNDED
        if self.cancelled:
            return PaymentStatus.CANCELLED
        return PaymentStatus.PENDING

    # --- learning what the other contexts did -----------------------------------------------

    def note_order_placed(self, amount: Decimal, token: str) -> list[DomainEvent]:
        if self.placed:
            return []
        if amount < ZERO:
            raise PaymentRuleBroken(f"order {self.id} has a negative total {amount}")
        return [OrderPlacementNoted(order_id=self.id, amount=amount, token=token)]

    def note_stock_held(self) -> list[DomainEvent]:
        return [] if self.stock_held else [StockHoldNoted(order_id=self.id)]

    def note_order_cancelled(self, reason: str) -> list[DomainEvent]:
        return [] if self.cancelled else [OrderCancellationNoted(order_id=self.id, reason=reason)]

    # --- charging --------------------------------------------------------------------------

    def charge_request(self) -> ChargeRequest | None:
        """What to ask the gateway for, when the charge is due."""
        if not self.charge_due:
            return None
        assert self.amount is not None
        return ChargeRequest(charge_key(self.id), self.amount, self.token)

    def record_capture(self, charge_id: str, amount: Decimal) -> list[DomainEvent]:
        """The gateway took the money. Recorded even for a cancelled order (a late capture):
        the money moved, and the cancellation refund then returns it."""
        if self.captured:
            if charge_id != self.charge_id:
                raise PaymentRuleBroken(
                    f"order {self.id} is captured by {self.charge_id}, not {charge_id}")
            return []
        if not self.placed:
            raise PaymentRuleBroken(f"order {self.id} is captured before it is known placed")
        if amount != self.amount:
            raise PaymentRuleBroken(
                f"order {self.id} owes {self.amount}, the gateway captured {amount}")
        if self.declined:
            raise PaymentRuleBroken(f"order {self.id} was declined, then captured")
        return [PaymentCaptured(order_id=self.id, amount=amount, charge_id=charge_id)]

    def record_decline(self, reason: str = DECLINE_REASON) -> list[DomainEvent]:
        if self.declined or self.captured:
            return []
        return [PaymentDeclined(order_id=self.id, reason=reason)]

    # --- refunding -------------------------------------------------------------------------

    def refund_request(self, reason: str, *, compensation: bool) -> RefundRequest | None:
        """Refund whatever is still captured; nothing when the net is already zero."""
        if self.net <= ZERO:
            return None
        return RefundRequest(
            idempotency_key=refund_key(self.id, self.refund_count + 1),
            charge_id=self.charge_id,
            amount=self.net,
            reason=reason,
            compensation=compensation,
        )

    def cancellation_refund(self) -> RefundRequest | None:
        """A cancelled order keeps no money. Not a compensation: the cancellation itself
        releases the stock, so this refund must not start a second release."""
        if not self.cancelled:
            return None
        return self.refund_request(self.cancel_reason, compensation=False)

    def record_refund(self, request: RefundRequest, refund_id: str) -> list[DomainEvent]:
        if request.idempotency_key != refund_key(self.id, self.refund_count + 1):
            raise PaymentRuleBroken(f"refund {request.idempotency_key} is not the next refund")
        if request.amount <= ZERO or request.amount > self.net:
            raise PaymentRuleBroken(
                f"order {self.id} cannot refund {request.amount} of a net {self.net}")
        return [PaymentRefunded(order_id=self.id, amount=request.amount, refund_id=refund_id,
                                reason=request.reason, compensation=request.compensation)]

    # --- folding ---------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        match event:
            case OrderPlacementNoted():
                self.amount = event.amount
                self.token = event.token
            case StockHoldNoted():
                self.stock_held = True
            case OrderCancellationNoted():
                self.cancelled = True
                self.cancel_reason = event.reason
            case PaymentCaptured():
                self.captured = True
                self.charge_id = event.charge_id
                self.charged += event.amount
            case PaymentDeclined():
                self.declined = True
                self.decline_reason = event.reason
            case PaymentRefunded():
                self.refunded += event.amount
                self.refund_count += 1
            case _:
                raise TypeError(f"a payment does not fold {type(event).__name__}")

    def snapshot(self) -> dict[str, Any]:
        return {
            "amount": None if self.amount is None else str(self.amount),
            "token": self.token,
            "stock_held": self.stock_held,
            "cancelled": self.cancelled,
            "cancel_reason": self.cancel_reason,
            "captured": self.captured,
            "charge_id": self.charge_id,
            "declined": self.declined,
            "decline_reason": self.decline_reason,
            "charged": str(self.charged),
            "refunded": str(self.refunded),
            "refund_count": self.refund_count,
            # Derived, kept for the admin's list and filters.
            "net": str(self.net),
            "status": str(self.status),
        }

    @classmethod
    def restore(cls, stream_id: str, version: int, state: dict[str, Any]) -> Self:
        payment = cls(stream_id)
        payment.version = version
        payment.amount = None if state["amount"] is None else Decimal(state["amount"])
        payment.token = state["token"]
        payment.stock_held = state["stock_held"]
        payment.cancelled = state["cancelled"]
        payment.cancel_reason = state["cancel_reason"]
        payment.captured = state["captured"]
        payment.charge_id = state["charge_id"]
        payment.declined = state["declined"]
        payment.decline_reason = state["decline_reason"]
        payment.charged = Decimal(state["charged"])
        payment.refunded = Decimal(state["refunded"])
        payment.refund_count = state["refund_count"]
        return payment
