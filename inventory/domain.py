"""Inventory's aggregates: a product of the catalogue, and an order's reservation.

Plain Python, no Django. Stock itself moves by guarded SQL updates (inventory/stock.py); the
reservation decides *whether* to hold, release or commit, and asks a stock port whether the
hold went through. Command methods return new events; `apply` folds them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Self

from inventory.events import (
    GoodsReceived,
    OrderCancellationNoted,
    ProductAdded,
    ReservationExpired,
    ReservedLine,
    StockCommitted,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)
from outbox.contracts import Aggregate, DomainEvent

# Goods received in one delivery, and units of one sku in one order: beyond this is a typo.
MAX_QUANTITY = 1_000_000
MAX_PRICE = Decimal("99999999.99")
SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CENT = Decimal("0.01")


class InventoryError(Exception):
    """A command the inventory refuses; the message is readable by the person who asked."""


class UnknownProduct(InventoryError, LookupError):
    pass


class ProductAlreadyExists(InventoryError):
    pass


class InvalidProduct(InventoryError, ValueError):
    pass


class InvalidQuantity(InventoryError, ValueError):
    pass


class ReservationNotHeld(InventoryError):
    """Commit asked of a reservation that holds nothing (never held, released or failed)."""


def check_quantity(quantity: object, *, what: str = "quantity") -> int:
    # bool is an int to Python, never to a person typing a quantity.
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidQuantity(f"{what} must be a whole number, not {quantity!r}")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidQuantity(f"{what} must be between 1 and {MAX_QUANTITY:,}, not {quantity}")
    return quantity


def check_sku(sku: object) -> str:
    if not isinstance(sku, str) or not SKU_PATTERN.fullmatch(sku):
        raise InvalidProduct(
            f"sku {sku!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return sku


class Product(Aggregate):
    """A catalogue entry (stream `inventory.Product/<sku>`): added once, then goods received."""

    stream_type = "inventory.Product"

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.name = ""
        self.price: Decimal | None = None
        self.received = 0  # units received over the product's life

    @property
    def exists(self) -> bool:
        return self.price is not None

    def add(self, name: str, price: Decimal) -> list[DomainEvent]:
        if self.exists:
            raise ProductAlreadyExists(f"a product with sku {self.id!r} already exists")
        check_sku(self.id)
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
            raise InvalidProduct("name must be 1-200 characters")
        try:
            price = Decimal(price)
        except (InvalidOperation, TypeError, ValueError):
            raise InvalidProduct(f"price {price!r} is not a number") from None
        if not price.is_finite() or not CENT <= price <= MAX_PRICE:
            raise InvalidProduct(f"price must be between {CENT} and {MAX_PRICE}, not {price}")
        if price != price.quantize(CENT):
            raise InvalidProduct(f"price {price} must have at most two decimal places")
        return [ProductAdded(sku=self.id, name=name.strip(), price=price.quantize(CENT))]

    def receive(self, quantity: int) -> list[DomainEvent]:
        if not self.exists:
            raise UnknownProduct(f"unknown product: {self.id}")
        return [GoodsReceived(sku=self.id, quantity=check_quantity(quantity))]

    def apply(self, event: DomainEvent) -> None:
        match event:
            case ProductAdded(name=name, price=price):
                self.name, self.price = name, price
            case GoodsReceived(quantity=quantity):
                self.received += quantity

    def snapshot(self) -> dict[str, Any]:
        price = None if self.price is None else str(self.price)
        return {"name": self.name, "price": price, "received": self.received}

    @classmethod
    def restore(cls, stream_id: str, version: int, state: dict[str, Any]) -> Self:
        product = cls(stream_id)
        product.version = version
        product.name = state["name"]
        product.price = None if state["price"] is None else Decimal(state["price"])
        product.received = state["received"]
        return product


@dataclass(frozen=True)
class Shortage:
    """The first line (in sku order) that could not be held, and why."""

    sku: str
    unknown: bool = False

    @property
    def reason(self) -> str:
        return f"unknown product: {self.sku}" if self.unknown else f"out of stock: {self.sku}"


# The stock port: hold every line or none; None when all are held, else the first shortage.
HoldStock = Callable[[tuple[ReservedLine, ...]], Shortage | None]


class ReservationStatus(StrEnum):
    NONE = "none"
    HELD = "held"
    FAILED = "failed"
    RELEASED = "released"
    EXPIRED = "expired"  # the hold outlived its time; the order may ask for it again
    COMMITTED = "committed"
    CANCELLED = "cancelled"  # the order was cancelled before anything was held


def requested_lines(lines: Iterable[Any]) -> tuple[ReservedLine, ...]:
    """Merge an order's lines by sku (quantities add up), in sku order (the lock order).

    A line is anything with `sku` and `quantity` (an order line), a mapping with those keys,
    or a `(sku, quantity)` pair.
    """
    wanted: dict[str, int] = {}
    for line in lines:
        if isinstance(line, dict):
            sku, quantity = line.get("sku"), line.get("quantity")
        elif hasattr(line, "sku"):
            sku, quantity = line.sku, line.quantity
        else:
            sku, quantity = line
        if not isinstance(sku, str) or not sku:
            raise InvalidQuantity(f"a line has no sku: {line!r}")
        check_quantity(quantity, what=f"quantity of {sku}")
        wanted[sku] = check_quantity(wanted.get(sku, 0) + quantity, what=f"quantity of {sku}")
    if not wanted:
        raise InvalidQuantity("the order has no lines to reserve")
    return tuple(ReservedLine(sku, q) for sku, q in sorted(wanted.items()))


class Reservation(Aggregate):
    """An order's hold on stock (stream `inventory.Reservation/<order id>`): the semantic lock.

    none -> held -> released | committed | expired; none -> failed; none -> cancelled;
    expired -> held (asked again) | failed (the stock went meanwhile) | cancelled. A release
    that finds nothing held notes the cancellation, so a late request never holds stock for it.
    """

    stream_type = "inventory.Reservation"

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.status = ReservationStatus.NONE
        self.lines: tuple[ReservedLine, ...] = ()
        self.expires_at: str | None = None
        self.reason = ""

    def is_expired(self, now: datetime) -> bool:
        return (
            self.status == ReservationStatus.HELD
            and self.expires_at is not None
            and datetime.fromisoformat(self.expires_at) <= now
        )

    def reserve(
        self, lines: Iterable[Any], *, now: datetime, hold_for: timedelta, hold: HoldStock
    ) -> list[DomainEvent]:
        """Hold every line or none. Ignored while the reservation holds, or once it is settled
        (released, committed, failed, the order known cancelled). A hold past its time but not
        yet expired by the job is renewed (its units never left the hold); an expired one is
        held afresh, and fails if the stock went to others meanwhile."""
        expires_at = (now + hold_for).isoformat()
        if self.status == ReservationStatus.HELD and self.is_expired(now):
            return [StockReserved(order_id=self.id, lines=self.lines, expires_at=expires_at)]
        if self.status not in (ReservationStatus.NONE, ReservationStatus.EXPIRED):
            return []
        try:
            wanted = requested_lines(lines)
        except InvalidQuantity as exc:
            return [StockReservationFailed(order_id=self.id, reason=str(exc))]
        shortage = hold(wanted)
        if shortage is not None:
            reason = shortage.reason
            if self.status == ReservationStatus.EXPIRED:
                reason = f"the hold expired and could not be renewed: {reason}"
            return [StockReservationFailed(order_id=self.id, reason=reason)]
        return [StockReserved(order_id=self.id, lines=wanted, expires_at=expires_at)]

    def expire(self, now: datetime) -> list[DomainEvent]:
        """Give the units of a hold past its time back to stock → ReservationExpired. Anything
        else (a hold still in time, or nothing held) is left alone, so a repeat is a no-op."""
        if not self.is_expired(now):
            return []
        assert self.expires_at is not None  # is_expired says so
        return [ReservationExpired(order_id=self.id, lines=self.lines,
                                   expires_at=self.expires_at, reason="hold expired")]

    def release(self, reason: str) -> list[DomainEvent]:
        if self.status == ReservationStatus.HELD:
            return [StockReleased(order_id=self.id, lines=self.lines, reason=reason)]
        if self.status in (ReservationStatus.NONE, ReservationStatus.EXPIRED):
            return [OrderCancellationNoted(order_id=self.id, reason=reason)]
        return []  # released or cancelled already, never held (failed), or left (committed)

    def commit(self) -> list[DomainEvent]:
        if self.status == ReservationStatus.HELD:
            return [StockCommitted(order_id=self.id, lines=self.lines)]
        if self.status == ReservationStatus.COMMITTED:
            return []
        raise ReservationNotHeld(
            f"the reservation of order {self.id} is {self.status}: there is no hold to commit"
        )

    def apply(self, event: DomainEvent) -> None:
        match event:
            case StockReserved(lines=lines, expires_at=expires_at):
                self.status, self.lines, self.expires_at = ReservationStatus.HELD, lines, expires_at
            case StockReservationFailed(reason=reason):
                self.status, self.reason = ReservationStatus.FAILED, reason
            case StockReleased(reason=reason):
                self.status, self.reason = ReservationStatus.RELEASED, reason
            case ReservationExpired(reason=reason):
                self.status, self.reason = ReservationStatus.EXPIRED, reason
            case StockCommitted():
                self.status = ReservationStatus.COMMITTED
            case OrderCancellationNoted(reason=reason):
                self.status, self.reason = ReservationStatus.CANCELLED, reason

    def snapshot(self) -> dict[str, Any]:
        return {
            "status": str(self.status),
            "lines": [[line.sku, line.quantity] for line in self.lines],
            "expires_at": self.expires_at,
            "reason": self.reason,
        }

    @classmethod
    def restore(cls, stream_id: str, version: int, state: dict[str, Any]) -> Self:
        reservation = cls(stream_id)
        reservation.version = version
        reservation.status = ReservationStatus(state["status"])
        reservation.lines = tuple(ReservedLine(sku, q) for sku, q in state["lines"])
        reservation.expires_at = state["expires_at"]
        reservation.reason = state["reason"]
        return reservation
