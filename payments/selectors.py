"""The payments context's read-only query surface for the saga and operators.

Typed answers, in bulk by order id (a fixed number of queries for any number of orders). Money
as the provider sees it is read through the gateway port (`PaymentGateway.charges_for`), never
from a provider's tables, so a real provider's adapter answers the reconciler and the audit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby

from outbox.envelope import Envelope
from outbox.models import Event
from outbox.read_model_check import ReadModelComparison
from payments.domain import Payment, charge_key, is_shortfall_key
from payments.gateway import OrderLedger, PaymentGateway, default_gateway
from payments.models import PaymentSnapshot

ZERO = Decimal("0.00")
CHUNK = 5000


@dataclass(frozen=True)
class PaymentState:
    """The Payment aggregate as it stands (its snapshot)."""

    order_id: str
    captured: bool


@dataclass(frozen=True)
class ChargeAtProvider:
    charge_id: str
    idempotency_key: str
    amount: Decimal
    refunded: Decimal  # refunded of this charge so far

    @property
    def held(self) -> Decimal:
        return self.amount - self.refunded


@dataclass(frozen=True)
class MoneyAtProvider:
    """What the provider's books say about one order: its charges (in the order made,
    duplicates included) and the refunds of them."""

    order_id: str
    charges: tuple[ChargeAtProvider, ...] = ()
    refunded: Decimal = ZERO

    @property
    def charged(self) -> Decimal:
        return sum((c.amount for c in self.charges), ZERO)

    @property
    def net(self) -> Decimal:
        return self.charged - self.refunded

    @property
    def own_charge(self) -> ChargeAtProvider | None:
        """The charge made under the order's idempotency key (the one the saga asked for)."""
        key = charge_key(self.order_id)
        return next((c for c in self.charges if c.idempotency_key == key), None)

    @property
    def extra_charges(self) -> list[ChargeAtProvider]:
        """Charges beyond the order's own (a provider's duplicate, or one never asked for),
        with money still held. A shortfall charge a person approved is asked for."""
        own = self.own_charge
        return [c for c in self.charges
                if (own is None or c.charge_id != own.charge_id) and c.held > 0
                and not is_shortfall_key(self.order_id, c.idempotency_key)]


def payments(order_ids: Collection[str]) -> dict[str, PaymentState]:
    """The payments of these orders that exist (one query)."""
    return {row.stream_id: PaymentState(
                row.stream_id, Payment.restore(row.stream_id, row.version, row.state).captured)
            for row in PaymentSnapshot.objects.filter(stream_id__in=list(order_ids))}


def money_at_provider(order_ids: Collection[str], gateway: PaymentGateway | None = None,
                      ) -> dict[str, MoneyAtProvider]:
    """Every one of these orders' money at the provider (one list call through the port)."""
    ledgers = (gateway or default_gateway()).charges_for(list(order_ids))
    return {order_id: _money(order_id, ledger) for order_id, ledger in ledgers.items()}


def _money(order_id: str, ledger: OrderLedger) -> MoneyAtProvider:
    return MoneyAtProvider(
        order_id=order_id,
        charges=tuple(ChargeAtProvider(c.charge_id, c.idempotency_key, c.amount,
                                       ledger.refunded_of(c.charge_id))
                      for c in ledger.charges),
        refunded=ledger.refunded)


def read_model_drift() -> ReadModelComparison:
    """The payment snapshots against a fold of their events."""
    rows = (Event.objects.filter(stream_type=Payment.stream_type)
            .order_by("stream_id", "version"))
    snapshots = {s.stream_id: s for s in PaymentSnapshot.objects.all()}
    differences = []
    seen = set()
    for stream_id, stream in _streams(rows.iterator(chunk_size=CHUNK)):
        seen.add(stream_id)
        payment = Payment(stream_id).fold(Envelope.from_model(r).event for r in stream)
        snapshot = snapshots.get(stream_id)
        if snapshot is None:
            differences.append(f"payment {stream_id} has events but no snapshot")
        elif snapshot.version != payment.version or snapshot.state != payment.snapshot():
            differences.append(f"payment {stream_id}'s snapshot (v{snapshot.version}) "
                               f"differs from its events (v{payment.version})")
    for stream_id in set(snapshots) - seen:
        differences.append(f"payment {stream_id} has a snapshot but no events")
    return ReadModelComparison(len(seen), tuple(differences))


def _streams(rows: Iterator[Event]) -> Iterator[tuple[str, Iterator[Event]]]:
    return groupby(rows, key=lambda r: r.stream_id)
