"""Deciding a proposed correction: four eyes, and a fresh look at the saga before anything is
sent.

Whoever proposed a money-moving correction may not approve it. Approval observes the saga
again through the selectors and the providers' ports and decides again: a correction the
reconciler decided (on its own pass, or on an operator's retry) must still be what it would
decide now (same kind, subject and command); one an operator proposed from the fixed kinds
(saga.proposals) must still rest on the same facts and still apply. A
proposal that fails this is *stale*: it is marked so, with why, and nothing is sent.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from saga import alerts
from saga.corrections import loaded, send_command, stored
from saga.decisions import decide
from saga.models import OrderSaga, ReconciliationAction
from saga.observation import observe
from saga.proposals import KINDS

log = logging.getLogger(__name__)


class NotProposed(Exception):
    """Only a proposed action can be approved or rejected."""


class SelfApproval(Exception):
    """The proposer of a money-moving correction tried to approve it."""


class StaleProposal(Exception):
    """The saga moved since the proposal: it was refused, and nothing was sent."""


def operator(by: str) -> str:
    return f"operator:{by}"


def _proposed(action_id: int) -> ReconciliationAction:
    action = ReconciliationAction.objects.select_for_update().get(id=action_id)
    if action.status != ReconciliationAction.Status.PROPOSED:
        raise NotProposed(f"correction {action_id} is {action.status}, not proposed: "
                          "there is nothing left to decide")
    return action


def approve(action_id: int, *, by: str, note: str = "") -> ReconciliationAction:
    """Carry out a proposed correction as `by`, if the saga still needs it as proposed;
    raises SelfApproval, StaleProposal (after recording the refusal) or NotProposed."""
    with transaction.atomic():
        action = _proposed(action_id)
        if action.moves_money and action.actor == operator(by):
            raise SelfApproval(f"{by} proposed correction {action_id} ({action.kind}); a "
                               "correction that moves money needs another operator's approval")
        saga = OrderSaga.objects.select_for_update().get(order_id=action.saga_id)
        stale = why_stale(saga, action)
        action.decided_by, action.decided_at, action.decision_note = by, timezone.now(), note
        if stale:
            action.status = ReconciliationAction.Status.STALE
            action.evidence = {**action.evidence, "stale": stale}
            action.save()
        else:
            if action.command:
                action.command_event_id = send_command(
                    saga, loaded(action.command), actor=operator(by),
                    causation=action.causing_event_ids[-1] if action.causing_event_ids else None)
            action.status = ReconciliationAction.Status.APPLIED
            action.save()
            # Look at the saga again soon: the correction should now close its gap.
            OrderSaga.objects.filter(order_id=saga.order_id).exclude(
                state=OrderSaga.State.CONVERGED).update(next_check_at=timezone.now(), checks=0)
    if stale:
        log.info("correction %s on saga %s refused at approval by %s: %s", action_id,
                 action.saga_id, by, stale)
        raise StaleProposal(f"correction {action_id} ({action.kind}) was not sent: {stale}")
    return action


def why_stale(saga: OrderSaga, action: ReconciliationAction) -> str:
    """Why the saga, observed now, no longer wants `action` as proposed ("" if it does)."""
    obs = observe([saga])[saga.order_id]
    kind = KINDS.get(action.kind)
    if kind is not None and "facts" in action.evidence:  # an operator's proposal
        params = kind.params(data=action.evidence.get("params", {}))
        params.is_valid(raise_exception=True)
        facts = kind.facts(saga, obs, dict(params.validated_data))
        then = action.evidence.get("facts", {})
        moved = [f"{name} was {then.get(name)}, now {value}"
                 for name, value in facts.items() if then.get(name) != value]
        if moved:
            return "the saga changed since the proposal (" + "; ".join(moved) + ")"
        refusal = kind.refusal(saga, obs, dict(params.validated_data))
        return f"it no longer applies: {refusal}" if refusal else ""
    verdict = decide(saga, obs, timezone.now(), force=True)
    same = [c for c in verdict.corrections
            if c.kind == action.kind and c.subject == action.subject]
    if not same:
        return (f"the drift it corrects is gone: the reconciler, looking again, would no "
                f"longer {action.kind.replace('_', ' ')} ({action.subject or 'the order'})")
    now = stored(same[0].command) if same[0].command is not None else None
    if now != action.command:
        return ("the drift changed since the proposal: the reconciler would now send "
                f"{now} instead of {action.command}")
    return ""


def reject(action_id: int, *, by: str, note: str = "") -> ReconciliationAction:
    """Refuse a proposed correction; its saga then needs a person's attention."""
    with transaction.atomic():
        action = _proposed(action_id)
        action.status = ReconciliationAction.Status.REJECTED
        action.decided_by, action.decided_at, action.decision_note = by, timezone.now(), note
        action.save()
        reason = f"{by} rejected the proposed correction: {action.reason}"
        flagged = OrderSaga.objects.filter(order_id=action.saga_id).exclude(
            state__in=[OrderSaga.State.CONVERGED, OrderSaga.State.NEEDS_ATTENTION]).update(
            state=OrderSaga.State.NEEDS_ATTENTION, attention_reason=reason)
        OrderSaga.objects.filter(order_id=action.saga_id,
                                 state=OrderSaga.State.NEEDS_ATTENTION).update(
            attention_reason=reason)
    if flagged:
        alerts.needs_attention(action.saga_id, reason)
    return action
