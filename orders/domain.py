"""The Order aggregate: pending → confirmed | cancelled. Plain Python, no Django.

Command methods check the rules and return the new events; `apply` folds an event into the
state. The participants' facts (stock held, payment captured, shipment booked, and their
setbacks) are not the order's own events: they live on the participants' streams, so the
caller rereads them from the event store into `SagaFacts` right before the pivot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self

from inventory.events import ReservationExpired, StockReleased, StockReserved
from orders.events import (
    ConfirmationEmailSent,
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    ShippingAddress,
)
from outbox.contracts import Aggregate, DomainEvent, from_payload, to_payload
from payments.events import PaymentCaptured, PaymentRefunded
from shipping.events import ShipmentBooked, ShipmentCancelled

MAX_LINES = 100
MAX_QUANTITY = 1000
CENT = Decimal("0.01")


class OrderRuleBroken(Exception):
    """A command the order's rules refuse."""


class OrderAlreadyConfirmed(OrderRuleBroken):
    """Past the pivot nothing is undone: a confirmed order cannot be cancelled."""


class Fact(StrEnum):
    ABSENT = "absent"
    HOLDS = "holds"
    UNDONE = "undone"


# Which participant event makes which fact hold, or undoes it (a later event of the same
# participant's stream wins: a hold expired and then re-requested holds again).
FACT_EVENTS: dict[type[DomainEvent], tuple[str, Fact]] = {
    StockReserved: ("stock", Fact.HOLDS),
    StockReleased: ("stock", Fact.UNDONE),
    ReservationExpired: ("stock", Fact.UNDONE),  # no failure, but nothing held to confirm on
    PaymentCaptured: ("payment", Fact.HOLDS),
    PaymentRefunded: ("payment", Fact.UNDONE),
    ShipmentBooked: ("shipment", Fact.HOLDS),
    ShipmentCancelled: ("shipment", Fact.UNDONE),
}


@dataclass
class SagaFacts:
    """What the participants say about one order, folded from their events in order."""

    order_id: str
    stock: Fact = Fact.ABSENT
    payment: Fact = Fact.ABSENT
    shipment: Fact = Fact.ABSENT

    @classmethod
    def of(cls, order_id: str, events: Iterable[DomainEvent]) -> Self:
        facts = cls(order_id)
        for ev in events:
            facts.learn(ev)
        return facts

    def learn(self, event: DomainEvent) -> None:
        effect = FACT_EVENTS.get(type(event))
        if effect is None or getattr(event, "order_id", None) != self.order_id:
            return
        if isinstance(event, PaymentRefunded) and not event.compensation:
            return  # a correction (a duplicate charge refunded) leaves the order's payment in place
        participant, fact = effect
        setattr(self, participant, fact)

    @property
    def all_hold(self) -> bool:
        return self.stock == self.payment == self.shipment == Fact.HOLDS

    @property
    def setbacks(self) -> list[str]:
        return [name for name in ("stock", "payment", "shipment")
                if getattr(self, name) == Fact.UNDONE]


def price_lines(
    lines: Sequence[tuple[str, int]], prices: dict[str, Decimal]
) -> tuple[OrderLine, ...]:
    """Order lines priced from the catalogue as it is now (the price is fixed at placement)."""
    return tuple(OrderLine(sku=sku, quantity=qty, unit_price=prices[sku]) for sku, qty in lines)


def order_total(lines: Iterable[OrderLine]) -> Decimal:
    return sum((line.unit_price * line.quantity for line in lines), Decimal("0")).quantize(CENT)


class Order(Aggregate):
    stream_type = "orders.Order"

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.status: OrderStatus | None = None  # None: not placed yet
        self.customer_id = ""
        self.lines: tuple[OrderLine, ...] = ()
        self.total = Decimal("0.00")
        self.shipping_address: ShippingAddress | None = None
        self.payment_token = ""
        self.reason = ""
        self.cancelled_by = ""
        self.confirmation_sent_to: str | None = None

    # --- commands ---------------------------------------------------------------------------

    def place(
        self,
        *,
        customer_id: str,
        lines: Sequence[OrderLine],
        shipping_address: ShippingAddress,
        payment_token: str,
    ) -> list[OrderPlaced]:
        if self.status is not None:
            raise OrderRuleBroken(f"order {self.id} is already placed")
        if not 1 <= len(lines) <= MAX_LINES:
            raise OrderRuleBroken(f"an order has 1 to {MAX_LINES} lines, not {len(lines)}")
        skus = [line.sku for line in lines]
        if len(set(skus)) != len(skus):
            raise OrderRuleBroken("an order has one line per sku")
        for line in lines:
            if not 1 <= line.quantity <= MAX_QUANTITY:
                raise OrderRuleBroken(f"quantity of {line.sku} must be 1 to {MAX_QUANTITY}")
            if line.unit_price < 0:
                raise OrderRuleBroken(f"price of {line.sku} is negative")
        return [OrderPlaced(
            order_id=self.id,
            customer_id=customer_id,
            lines=tuple(lines),
            total=order_total(lines),
            shipping_address=shipping_address,
            payment_token=payment_token,
        )]

    def confirm(self, reread: SagaFacts) -> list[OrderConfirmed]:
        """The pivot. `reread` must be the participants' facts as the event store holds them
        now: confirm only while pending and when stock is held, payment captured and shipment
        booked, none of them undone. Otherwise nothing (yet): a late fact for a cancelled
        order confirms nothing, and the other contexts compensate it."""
        if self.status is not OrderStatus.PENDING or reread.order_id != self.id:
            return []
        if not reread.all_hold:
            return []
        return [OrderConfirmed(order_id=self.id)]

    def cancel(self, *, reason: str, requested_by: str) -> list[OrderCancelled]:
        """Cancel while pending; a cancelled order stays as it is; a confirmed one refuses."""
        if self.status is None:
            raise OrderRuleBroken(f"order {self.id} is not placed")
        if self.status is OrderStatus.CANCELLED:
            return []
        if self.status is OrderStatus.CONFIRMED:
            raise OrderAlreadyConfirmed(
                f"order {self.id} is confirmed and can no longer be cancelled"
            )
        return [OrderCancelled(order_id=self.id, reason=reason, requested_by=requested_by)]

    @property
    def confirmation_email_due(self) -> bool:
        return self.status is OrderStatus.CONFIRMED and self.confirmation_sent_to is None

    def record_confirmation_email(self, to: str) -> list[ConfirmationEmailSent]:
        """The e-mail goes out once, after the pivot; this event on the stream is the guard."""
        if not self.confirmation_email_due:
            return []
        return [ConfirmationEmailSent(order_id=self.id, to=to)]

    # --- folding ----------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        match event:
            case OrderPlaced():
                self.status = OrderStatus.PENDING
                self.customer_id = event.customer_id
                self.lines = tuple(event.lines)
                self.total = event.total
                self.shipping_address = event.shipping_address
                self.payment_token = event.payment_token
            case OrderConfirmed():
                self.status = OrderStatus.CONFIRMED
            case OrderCancelled():
                self.status = OrderStatus.CANCELLED
                self.reason = event.reason
                self.cancelled_by = event.requested_by
            case ConfirmationEmailSent():
                self.confirmation_sent_to = event.to
            case _:
                raise TypeError(f"an order does not fold {type(event).__name__}")

    def snapshot(self) -> dict[str, Any]:
        return {
            "status": self.status.value if self.status else None,
            "customer_id": self.customer_id,
            "lines": [to_payload(line) for line in self.lines],  # type: ignore[arg-type]
            "total": str(self.total),
            "shipping_address": to_payload(self.shipping_address)  # type: ignore[arg-type]
            if self.shipping_address else None,
            "payment_token": self.payment_token,
            "reason": self.reason,
            "cancelled_by": self.cancelled_by,
            "confirmation_sent_to": self.confirmation_sent_to,
        }

    @classmethod
    def restore(cls, stream_id: str, version: int, state: dict[str, Any]) -> Self:
        order = cls(stream_id)
        order.version = version
        order.status = OrderStatus(state["status"]) if state["status"] else None
        order.customer_id = state["customer_id"]
        order.lines = tuple(from_payload(OrderLine, line) for line in state["lines"])  # type: ignore[type-var]
        order.total = Decimal(state["total"])
        address = state["shipping_address"]
        order.shipping_address = from_payload(ShippingAddress, address) if address else None  # type: ignore[type-var]
        order.payment_token = state["payment_token"]
        order.reason = state["reason"]
        order.cancelled_by = state["cancelled_by"]
        order.confirmation_sent_to = state["confirmation_sent_to"]
        return order
