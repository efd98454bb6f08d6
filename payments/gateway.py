"""The payment-gateway port, and the simulated provider that is its default adapter.

The port is what any card provider offers: charge and refund under an idempotency key (the same
key replays the first answer and moves no money again), look a charge up by its key, and list
the charges and refunds of a batch of orders by the merchant's reference (`charges_for`: what
the reconciler and the audit compare with our books).

The simulated provider keeps its ledger through the "providers" database alias, so its records
survive a rollback of the caller's transaction, as a real provider's would. Test tokens behave
like card test numbers: `tok_ok` is charged, `tok_decline` is declined, `tok_lost_response` is
charged but the answer is lost (a timeout), `tok_flaky` fails the first two attempts of a key
with a transient error. Other tokens behave like `tok_ok` and, only they, are subject to the
random faults of `settings.PAYMENTS_FAULTS` (decline, error, lost_response, duplicate rates and
a slow_ms upper bound on an answer's delay), so a chaos run and a test use one code path.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.db.models import QuerySet
from django.utils.module_loading import import_string

from common import sql
from common.faults import SimulatedFaults, parse_rates
from common.providers import PROVIDERS_DB
from payments.domain import DECLINE_REASON, DEFAULT_TOKEN
from payments.models import GatewayCall, GatewayLedgerEntry

FAULT_NAMES = frozenset({"decline", "error", "lost_response", "slow_ms", "duplicate"})
DETERMINISTIC_TOKENS = frozenset({"tok_decline", "tok_lost_response", "tok_flaky"})
FLAKY_FAILURES = 2


@dataclass(frozen=True)
class Charge:
    charge_id: str
    idempotency_key: str
    order_id: str
    amount: Decimal


@dataclass(frozen=True)
class Refund:
    refund_id: str
    idempotency_key: str
    charge_id: str
    order_id: str
    amount: Decimal


@dataclass(frozen=True)
class OrderLedger:
    """What the provider's books say about one order."""

    charges: tuple[Charge, ...]
    refunds: tuple[Refund, ...]

    @property
    def charged(self) -> Decimal:
        return sum((c.amount for c in self.charges), Decimal("0"))

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds), Decimal("0"))

    @property
    def net(self) -> Decimal:
        return self.charged - self.refunded

    def refunded_of(self, charge_id: str) -> Decimal:
        return sum((r.amount for r in self.refunds if r.charge_id == charge_id), Decimal("0"))


class GatewayError(Exception):
    """Transient: the provider did not do it (or cannot say); the same request may be retried."""


class GatewayTimeout(GatewayError):
    """No answer: the operation may have happened; ask the provider by idempotency key."""


class PaymentRefused(Exception):
    """The provider declined the charge: a normal outcome, final for this key."""

    def __init__(self, reason: str = DECLINE_REASON) -> None:
        super().__init__(reason)
        self.reason = reason


class GatewayRejected(Exception):
    """A request no retry can fix: a key reused for another amount, an over-refund."""


class PaymentGateway(Protocol):
    def charge(self, idempotency_key: str, amount: Decimal, token: str, *,
               order_id: str) -> Charge: ...

    def refund(self, idempotency_key: str, charge_id: str, amount: Decimal) -> Refund: ...

    def look_up(self, idempotency_key: str) -> Charge | None: ...

    def look_up_refund(self, idempotency_key: str) -> Refund | None: ...

    def charges_for(self, order_ids: Collection[str]) -> dict[str, OrderLedger]:
        """Every charge and refund made for these orders (the merchant's reference), in the
        order the provider made them, duplicates included; an order with none has an empty
        ledger. One list call per batch, the way a provider's search API is used."""
        ...


def default_gateway() -> PaymentGateway:
    """The gateway the services and selectors use when none is given: the adapter that
    `settings.PAYMENTS_GATEWAY` names (settings are read on each call)."""
    return import_string(settings.PAYMENTS_GATEWAY)()


def simulated_gateway() -> PaymentGateway:
    """The simulated provider, with the random faults of `settings.PAYMENTS_FAULTS`, waited
    for no longer than `settings.PROVIDER_TIMEOUT_SECONDS`."""
    return SimulatedGateway(parse_rates(settings.PAYMENTS_FAULTS, known=FAULT_NAMES,
                                        what="payment"),
                            timeout=settings.PROVIDER_TIMEOUT_SECONDS,
                            outage_ends_at=settings.PAYMENTS_OUTAGE_ENDS_AT)


def _charge_of(entry: GatewayLedgerEntry) -> Charge:
    return Charge(entry.entry_id, entry.idempotency_key, entry.order_id, entry.amount)


def _refund_of(entry: GatewayLedgerEntry) -> Refund:
    return Refund(entry.entry_id, entry.idempotency_key, entry.refunded_charge_id,
                  entry.order_id, entry.amount)


class SimulatedGateway:
    def __init__(self, faults: Mapping[str, float] | None = None,
                 rng: random.Random | None = None, *, timeout: float | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 outage_ends_at: float = 0.0) -> None:
        self.timeout = timeout  # seconds we wait for an answer; None waits for ever
        # Until this time (epoch seconds) every charge and refund fails: a provider outage.
        self.outage_ends_at = outage_ends_at
        self.faults = SimulatedFaults(faults, known=FAULT_NAMES, what="payment", rng=rng,
                                      sleep=sleep, provider="payment provider",
                                      timeout=timeout, timeout_error=GatewayTimeout)

    # --- the port ---------------------------------------------------------------------------

    def charge(self, idempotency_key: str, amount: Decimal, token: str, *,
               order_id: str) -> Charge:
        token = token or DEFAULT_TOKEN
        chaos = token not in DETERMINISTIC_TOKENS
        op = GatewayCall.Operation.CHARGE
        self.faults.answer_slowly()
        if chaos and self.faults.fires("error"):
            self._log(op, idempotency_key, GatewayCall.Answer.ERROR, "random fault")
            raise GatewayError("payment provider unavailable")
        self._down_in_an_outage(op, idempotency_key)
        existing = self._original(GatewayLedgerEntry.Kind.CHARGE, idempotency_key)
        if existing is not None:
            return _charge_of(self._replay(op, existing, amount))
        if sql.first(GatewayCall, using=PROVIDERS_DB, operation=op,
                      idempotency_key=idempotency_key, outcome=GatewayCall.Answer.DECLINED):
            self._log(op, idempotency_key, GatewayCall.Answer.DECLINED, "replayed decline")
            raise PaymentRefused()
        if amount <= 0:
            self._log(op, idempotency_key, GatewayCall.Answer.REJECTED, f"amount {amount}")
            raise GatewayRejected(f"cannot charge {amount}")
        if token == "tok_decline" or (chaos and self.faults.fires("decline")):
            self._log(op, idempotency_key, GatewayCall.Answer.DECLINED, token)
            raise PaymentRefused()
        if token == "tok_flaky" and self._calls(op, idempotency_key).count() < FLAKY_FAILURES:
            self._log(op, idempotency_key, GatewayCall.Answer.ERROR, token)
            raise GatewayError("payment provider unavailable (tok_flaky)")
        entry = self._record(GatewayLedgerEntry(
            entry_id=f"ch_{uuid.uuid4().hex[:24]}", kind=GatewayLedgerEntry.Kind.CHARGE,
            idempotency_key=idempotency_key, order_id=order_id, amount=amount, token=token))
        if chaos and self.faults.fires("duplicate"):
            # The provider's own bug: the same charge booked twice. The reconciler finds the
            # second row in the order's ledger and refunds it.
            GatewayLedgerEntry.objects.using(PROVIDERS_DB).create(
                entry_id=f"ch_{uuid.uuid4().hex[:24]}", kind=GatewayLedgerEntry.Kind.CHARGE,
                idempotency_key=idempotency_key, order_id=order_id, amount=amount, token=token,
                duplicate_of=entry.entry_id)
        if token == "tok_lost_response" or (chaos and self.faults.fires("lost_response")):
            self._log(op, idempotency_key, GatewayCall.Answer.LOST_RESPONSE, entry.entry_id)
            raise GatewayTimeout("payment provider did not answer in time")
        self._log(op, idempotency_key, GatewayCall.Answer.SUCCEEDED, entry.entry_id)
        return _charge_of(entry)

    def refund(self, idempotency_key: str, charge_id: str, amount: Decimal) -> Refund:
        op = GatewayCall.Operation.REFUND
        self.faults.answer_slowly()
        if self.faults.fires("error"):
            self._log(op, idempotency_key, GatewayCall.Answer.ERROR, "random fault")
            raise GatewayError("payment provider unavailable")
        self._down_in_an_outage(op, idempotency_key)
        existing = self._original(GatewayLedgerEntry.Kind.REFUND, idempotency_key)
        if existing is not None:
            if existing.refunded_charge_id != charge_id:
                self._log(op, idempotency_key, GatewayCall.Answer.REJECTED, "other charge")
                raise GatewayRejected(f"refund key {idempotency_key} was used for another charge")
            return _refund_of(self._replay(op, existing, amount))
        charge = (GatewayLedgerEntry.objects.using(PROVIDERS_DB)
                  .filter(kind=GatewayLedgerEntry.Kind.CHARGE, entry_id=charge_id).first())
        if charge is None:
            self._log(op, idempotency_key, GatewayCall.Answer.REJECTED, f"no charge {charge_id}")
            raise GatewayRejected(f"no charge {charge_id}")
        already = sum((r.amount for r in GatewayLedgerEntry.objects.using(PROVIDERS_DB).filter(
            kind=GatewayLedgerEntry.Kind.REFUND, refunded_charge_id=charge_id)), Decimal("0"))
        if amount <= 0 or already + amount > charge.amount:
            self._log(op, idempotency_key, GatewayCall.Answer.REJECTED, f"amount {amount}")
            raise GatewayRejected(
                f"cannot refund {amount} of charge {charge_id} ({charge.amount}, "
                f"{already} refunded already)")
        entry = self._record(GatewayLedgerEntry(
            entry_id=f"re_{uuid.uuid4().hex[:24]}", kind=GatewayLedgerEntry.Kind.REFUND,
            idempotency_key=idempotency_key, order_id=charge.order_id, amount=amount,
            refunded_charge_id=charge_id))
        if self.faults.fires("lost_response"):
            self._log(op, idempotency_key, GatewayCall.Answer.LOST_RESPONSE, entry.entry_id)
            raise GatewayTimeout("payment provider did not answer in time")
        self._log(op, idempotency_key, GatewayCall.Answer.SUCCEEDED, entry.entry_id)
        return _refund_of(entry)

    def look_up(self, idempotency_key: str) -> Charge | None:
        self.faults.answer_slowly()
        entry = self._original(GatewayLedgerEntry.Kind.CHARGE, idempotency_key)
        return None if entry is None else _charge_of(entry)

    def look_up_refund(self, idempotency_key: str) -> Refund | None:
        self.faults.answer_slowly()
        entry = self._original(GatewayLedgerEntry.Kind.REFUND, idempotency_key)
        return None if entry is None else _refund_of(entry)

    def charges_for(self, order_ids: Collection[str]) -> dict[str, OrderLedger]:
        # Slow at times, never failed at random: the reconciler and the audit read through it,
        # and their figures must not depend on the chaos rates of the calls they check.
        self.faults.answer_slowly()
        charges: dict[str, list[Charge]] = {order_id: [] for order_id in order_ids}
        refunds: dict[str, list[Refund]] = {order_id: [] for order_id in order_ids}
        for entry in (GatewayLedgerEntry.objects.using(PROVIDERS_DB)
                      .filter(order_id__in=list(charges)).order_by("id")):
            if entry.kind == GatewayLedgerEntry.Kind.CHARGE:
                charges[entry.order_id].append(_charge_of(entry))
            else:
                refunds[entry.order_id].append(_refund_of(entry))
        return {order_id: OrderLedger(tuple(charges[order_id]), tuple(refunds[order_id]))
                for order_id in charges}

    # --- the provider's books ---------------------------------------------------------------

    def _original(self, kind: str, idempotency_key: str) -> GatewayLedgerEntry | None:
        return sql.first(GatewayLedgerEntry, using=PROVIDERS_DB, kind=kind,
                          idempotency_key=idempotency_key, duplicate_of="")

    def _record(self, entry: GatewayLedgerEntry) -> GatewayLedgerEntry:
        """Write a new entry; if a concurrent request with the same key won, answer with its."""
        if sql.insert(entry, unless_present=True, using=PROVIDERS_DB):
            return entry
        winner = self._original(entry.kind, entry.idempotency_key)
        if winner is None:
            raise RuntimeError(f"ledger entry {entry.entry_id} collided with another id")
        return winner

    def _replay(self, op: str, existing: GatewayLedgerEntry, amount: Decimal) -> GatewayLedgerEntry:
        if existing.amount != amount:
            self._log(op, existing.idempotency_key, GatewayCall.Answer.REJECTED,
                      f"key reused for {amount}")
            raise GatewayRejected(
                f"idempotency key {existing.idempotency_key} was used for {existing.amount}, "
                f"not {amount}")
        self._log(op, existing.idempotency_key, GatewayCall.Answer.REPLAYED, existing.entry_id)
        return existing

    def _calls(self, op: str, idempotency_key: str) -> QuerySet[GatewayCall]:
        return GatewayCall.objects.using(PROVIDERS_DB).filter(
            operation=op, idempotency_key=idempotency_key)

    def _down_in_an_outage(self, op: str, idempotency_key: str) -> None:
        # Only the calls that move money: the list and look-up calls the reconciler and the
        # audit read through stay up, as a provider's reporting API often does.
        if time.time() < self.outage_ends_at:
            self._log(op, idempotency_key, GatewayCall.Answer.ERROR, "outage")
            raise GatewayError("payment provider unavailable (outage)")

    def _log(self, op: str, idempotency_key: str, outcome: str, detail: str = "") -> None:
        sql.insert(GatewayCall(operation=op, idempotency_key=idempotency_key, outcome=outcome,
                                detail=detail[:200]), using=PROVIDERS_DB)
