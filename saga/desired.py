"""What "done" means for an order: the desired state of every participant, from its intent.

These rules are the contract of convergence. The projection, the order API, the reconciler
and the audit all ask this module; nothing else decides where an order should end.

- A confirmed order is past the pivot and can only go forward: it wants its stock committed,
  net payment equal to its total and exactly one live shipment.
- A cancelled order wants its hold released (or never to have held any), net payment 0 and no
  live shipment.
- A pending order is heading for fulfilled, unless one of its steps has failed (or its hold
  was released, which the choreography answers by cancelling it): then its compensations are
  running and it is heading for cancelled. A hold that expired is no failure: the order still
  heads for fulfilled and its hold is asked for again.

The confirmation e-mail is not a facet: it goes out last, after the pivot, and is the orders
context's own once-only step (a customer without an address gets none); the saga records it.

Plain Python (no Django), so the rules are unit-tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from orders.events import OrderStatus

ZERO = Decimal("0.00")


class DesiredOutcome(StrEnum):
    """Where an order's saga should end."""

    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


class Stock(StrEnum):
    """The stock facet as the saga compares it: inventory's reservation statuses that matter
    to convergence (a failed or cancelled reservation holds nothing: NONE)."""

    NONE = "none"
    HELD = "held"
    COMMITTED = "committed"
    RELEASED = "released"  # a compensation: the order is going to cancelled
    EXPIRED = "expired"  # the hold outlived its time: no failure, it is asked for again


class Shipment(StrEnum):
    """The shipment facet as the saga compares it: whether a live booking exists."""

    NONE = "none"
    BOOKED = "booked"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Observed:
    """What is true of one order, from its events or from the participants themselves."""

    order_status: str
    total: Decimal
    stock: str
    charged: Decimal
    refunded: Decimal
    shipment: str
    live_shipments: int
    step_failed: bool

    @property
    def net(self) -> Decimal:
        return self.charged - self.refunded


@dataclass(frozen=True)
class Facet:
    """One participant's observed and desired state, and whether they agree."""

    name: str
    observed: str
    desired: str
    agrees: bool


def desired_outcome(order_status: str, step_failed: bool) -> DesiredOutcome:
    if order_status == OrderStatus.CONFIRMED:
        return DesiredOutcome.FULFILLED  # past the pivot nothing is undone
    if order_status == OrderStatus.CANCELLED or step_failed:
        return DesiredOutcome.CANCELLED
    return DesiredOutcome.FULFILLED


def desired_net(outcome: DesiredOutcome, total: Decimal) -> Decimal:
    return total if outcome == DesiredOutcome.FULFILLED else ZERO


def facets(seen: Observed) -> list[Facet]:
    """Every facet of the order, desired next to observed."""
    outcome = desired_outcome(seen.order_status, seen.step_failed)
    if outcome == DesiredOutcome.FULFILLED:
        return [
            _facet("order", seen.order_status, OrderStatus.CONFIRMED),
            _facet("stock", seen.stock, Stock.COMMITTED),
            _money(seen, seen.total),
            Facet("shipment", _shipment_label(seen), str(Shipment.BOOKED),
                  seen.shipment == Shipment.BOOKED and seen.live_shipments == 1),
        ]
    # Cancelled: undone, or never done, both agree with the intent.
    stock_wanted = seen.stock if seen.stock in (Stock.NONE, Stock.EXPIRED) else Stock.RELEASED
    shipment_wanted = Shipment.NONE if seen.shipment == Shipment.NONE else Shipment.CANCELLED
    return [
        _facet("order", seen.order_status, OrderStatus.CANCELLED),
        _facet("stock", seen.stock, stock_wanted),
        _money(seen, ZERO),
        Facet("shipment", _shipment_label(seen), str(shipment_wanted), seen.live_shipments == 0),
    ]


def gap(seen: Observed) -> int:
    """How many facets differ from the desired state; 0 means the order has converged."""
    return sum(not f.agrees for f in facets(seen))


def differences(seen: Observed) -> dict[str, dict[str, str]]:
    """The disagreeing facets as evidence: {facet: {"observed": ..., "desired": ...}}."""
    return {f.name: {"observed": f.observed, "desired": f.desired}
            for f in facets(seen) if not f.agrees}


def _facet(name: str, observed: str, desired: str) -> Facet:
    return Facet(name, str(observed), str(desired), str(observed) == str(desired))


def _money(seen: Observed, wanted: Decimal) -> Facet:
    return Facet("payment", f"net {seen.net:.2f}", f"net {wanted:.2f}", seen.net == wanted)


def _shipment_label(seen: Observed) -> str:
    if seen.live_shipments > 1:
        return f"{seen.shipment} ({seen.live_shipments} live)"
    return str(seen.shipment)
