"""The corrections an operator may propose for a saga: a fixed set of kinds, each with its
parameters, the facts it rests on, when it applies, and the command it sends once approved.

A proposal records the facts it rests on (read through the selectors and the providers'
ports); its approval reads them again and refuses the proposal when they moved (see
saga.approvals), so a correction is never sent for a world that is no longer there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from inventory.events import StockReleaseRequested
from outbox.contracts import DomainEvent
from payments.events import ExtraChargeRefundRequested, PaymentSettlementRequested
from saga import desired
from saga.models import OrderSaga
from saga.observation import Observation

Params = dict[str, Any]


@dataclass(frozen=True)
class CorrectionKind:
    name: str
    description: str
    moves_money: bool
    params: type[serializers.Serializer]
    # The facts the proposal rests on, as strings: approval refuses it when they changed.
    facts: Callable[[OrderSaga, Observation, Params], dict[str, str]]
    # Why it does not apply now ("" when it does).
    refusal: Callable[[OrderSaga, Observation, Params], str]
    command: Callable[[OrderSaga, Observation, Params, str], DomainEvent]
    subject: Callable[[Params], str]


class NoParams(serializers.Serializer):
    pass


class RefundParams(serializers.Serializer):
    charge_id = serializers.CharField(max_length=100, help_text="a charge at the gateway")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2,
                                      min_value=Decimal("0.01"), help_text="how much to refund")


def _outcome(saga: OrderSaga, obs: Observation) -> desired.DesiredOutcome:
    return desired.desired_outcome(obs.order_status or saga.order_status, saga.step_failed)


def _money_facts(saga: OrderSaga, obs: Observation, params: Params) -> dict[str, str]:
    seen = obs.seen(saga)
    facts = {"order": seen.order_status, "net": f"{seen.net:.2f}",
             "desired_net": f"{desired.desired_net(_outcome(saga, obs), saga.total):.2f}"}
    if "charge_id" in params:
        charge = _charge(obs, params["charge_id"])
        facts["charge_held"] = f"{charge.held:.2f}" if charge else "none"
    return facts


def _charge(obs: Observation, charge_id: str) -> Any:
    return next((c for c in obs.charges if c.charge_id == charge_id), None)


def _excess(saga: OrderSaga, obs: Observation) -> Decimal:
    return obs.seen(saga).net - desired.desired_net(_outcome(saga, obs), saga.total)


def _refund_refusal(saga: OrderSaga, obs: Observation, params: Params) -> str:
    charge, amount = _charge(obs, params["charge_id"]), params["amount"]
    own = obs.own_charge
    if charge is None:
        return f"the gateway holds no charge {params['charge_id']} for this order"
    if own is not None and charge.charge_id == own.charge_id:
        return (f"{charge.charge_id} is the order's own charge: the payment settles it "
                "(compensate, or retry the step)")
    if amount > charge.held:
        return f"charge {charge.charge_id} holds only {charge.held:.2f}"
    excess = _excess(saga, obs)
    if amount > excess:
        return (f"the order's net payment is {excess:.2f} above what it should be; refunding "
                f"{amount:.2f} would take it below")
    return ""


def _refund_command(saga: OrderSaga, obs: Observation, params: Params,
                    reason: str) -> DomainEvent:
    return ExtraChargeRefundRequested(saga.order_id, params["charge_id"], params["amount"], reason)


def _charge_refusal(saga: OrderSaga, obs: Observation, params: Params) -> str:
    if _outcome(saga, obs) != desired.DesiredOutcome.FULFILLED:
        return "the order is going to cancelled: nothing is to be charged"
    if obs.own_charge is not None:
        return "the gateway already holds the order's charge"
    if _excess(saga, obs) >= 0:
        return "the order's net payment is not below its total"
    return ""


def _charge_command(saga: OrderSaga, obs: Observation, params: Params,
                    reason: str) -> DomainEvent:
    return PaymentSettlementRequested(
        order_id=saga.order_id, reason=reason, amount=Decimal(saga.total),
        token=obs.payment_token, stock_held=True, cancelled=False)


def _hold_facts(saga: OrderSaga, obs: Observation, params: Params) -> dict[str, str]:
    return {"order": obs.order_status or saga.order_status,
            "reservation": obs.reservation_status}


def _release_refusal(saga: OrderSaga, obs: Observation, params: Params) -> str:
    if _outcome(saga, obs) != desired.DesiredOutcome.CANCELLED:
        return "the order is going forward: its hold is needed"
    if obs.reservation_status != "held":
        return f"the order's stock is {obs.reservation_status}, not held"
    return ""


def _release_command(saga: OrderSaga, obs: Observation, params: Params,
                     reason: str) -> DomainEvent:
    return StockReleaseRequested(saga.order_id, reason)


KINDS: dict[str, CorrectionKind] = {kind.name: kind for kind in (
    CorrectionKind(
        name="refund_charge", moves_money=True, params=RefundParams,
        description="refund an amount of a charge the gateway holds beyond the order's own",
        facts=_money_facts, refusal=_refund_refusal, command=_refund_command,
        subject=lambda params: params["charge_id"]),
    CorrectionKind(
        name="retry_payment", moves_money=True, params=NoParams,
        description="charge the order's total (takes money from the customer)",
        facts=_money_facts, refusal=_charge_refusal, command=_charge_command,
        subject=lambda params: "charge_payment"),
    CorrectionKind(
        name="release_hold", moves_money=False, params=NoParams,
        description="release the stock a cancelled order still holds",
        facts=_hold_facts, refusal=_release_refusal, command=_release_command,
        subject=lambda params: "hold"),
)}


class ProposalSerializer(serializers.Serializer):
    """`POST /api/sagas/{order_id}/corrections/`: a kind, its parameters, and why."""

    kind = serializers.ChoiceField(choices=[(k.name, k.description) for k in KINDS.values()])
    params = serializers.DictField(required=False, default=dict,
                                   help_text="refund_charge: {charge_id, amount}; others: {}")
    note = serializers.CharField(max_length=1000, help_text="why (shown to the approver)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = KINDS[attrs["kind"]]
        params = kind.params(data=attrs.get("params") or {})
        if not params.is_valid():
            raise serializers.ValidationError({"params": params.errors})
        unknown = sorted(set(attrs.get("params") or {}) - set(params.fields))
        if unknown:
            raise serializers.ValidationError(
                {"params": {name: [f"not a parameter of {kind.name}"] for name in unknown}})
        attrs["params"] = dict(params.validated_data)
        return attrs
