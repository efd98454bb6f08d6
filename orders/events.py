"""Events the orders context publishes (its public contract; other contexts may import this)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from outbox.contracts import event


class OrderStatus(StrEnum):
    """An order's status, as its views and the saga see it."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""


@event("orders.OrderPlaced", version=2)
@dataclass(frozen=True)
class OrderPlaced:
    """Version 2: `payment_token` is sealed (common/sealing.py); only payments opens it, to
    charge. Version 1 carried it in clear; orders/upcasters.py seals it on reading."""

    order_id: str
    customer_id: str
    lines: tuple[OrderLine, ...]
    total: Decimal
    shipping_address: ShippingAddress
    payment_token: str


@event("orders.OrderConfirmed", version=1)
@dataclass(frozen=True)
class OrderConfirmed:
    """The pivot: past it nothing is undone, only corrected forward."""

    order_id: str


@event("orders.OrderCancelled", version=1)
@dataclass(frozen=True)
class OrderCancelled:
    order_id: str
    reason: str
    # "saga" (a step failed), "customer" or "operator:<username>"
    requested_by: str


@event("orders.ConfirmationEmailSent", version=1, terminal=True)
@dataclass(frozen=True)
class ConfirmationEmailSent:
    order_id: str
    to: str


# --- Commands the reconciler (saga app) sends through the outbox ---------------------------
# Contexts never import the saga, so the commands they accept are part of their own contract;
# the handlers are in orders/handlers.py, under the same heading.


@event("orders.OrderCancellationRequested", version=1)
@dataclass(frozen=True)
class OrderCancellationRequested:
    """Cancel the order if it is still before the pivot (a saga past its budget, an operator)."""

    order_id: str
    reason: str
    requested_by: str  # "saga" or "operator:<username>"


@event("orders.OrderViewRepairRequested", version=1)
@dataclass(frozen=True)
class OrderViewRepairRequested:
    """The order's read model disagrees with its events: rewrite it from its stream."""

    order_id: str
