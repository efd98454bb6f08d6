"""The saga's use cases for operators and for the rebuild command.

Operators act on a saga through here (the admin and the sagas API call these): reconcile it
now, replay its dead deliveries, acknowledge it with a note, retry its current step,
compensate (cancel its order before the pivot), propose a correction, approve or reject one.
Each one is recorded as a `ReconciliationAction` with the operator as its actor.
"""

from __future__ import annotations

from django.db import transaction

from orders import selectors as orders
from orders.events import OrderCancellationRequested
from outbox import deadletters
from outbox.models import Delivery
from saga import approvals, corrections, rebuild, reconciler
from saga.approvals import operator
from saga.models import OrderSaga, ReconciliationAction
from saga.observation import observe
from saga.proposals import KINDS, Params


def rebuild_read_models(progress: rebuild.Progress | None = None) -> int:
    """Rebuild every saga row from the event store (see saga.rebuild)."""
    return rebuild.rebuild_read_models(progress)


def reconcile_now(order_id: str, *, by: str) -> reconciler.OrderReconciliation | None:
    return reconciler.reconcile_order(order_id, actor=f"operator:{by}")


def replay_dead_deliveries(order_id: str, *, by: str) -> int:
    """Send the saga's dead deliveries again (their handlers must be fixed by now)."""
    with transaction.atomic():
        saga = OrderSaga.objects.select_for_update().get(order_id=order_id)
        dead = Delivery.objects.filter(event__correlation_id=order_id,
                                       status=Delivery.Status.DEAD)
        handlers = sorted(set(dead.values_list("handler", flat=True)))
        count = deadletters.replay(dead)
        if count:
            ReconciliationAction.objects.create(
                saga=saga, kind="replay_dead_deliveries", actor=f"operator:{by}",
                reason=f"{by} replayed {count} dead delivery(ies): {', '.join(handlers)}",
                causing_event_ids=[saga.last_event_id] if saga.last_event_id else [])
    return count


def approve_correction(action_id: int, *, by: str, note: str = "") -> ReconciliationAction:
    return approvals.approve(action_id, by=by, note=note)


def reject_correction(action_id: int, *, by: str, note: str = "") -> ReconciliationAction:
    return approvals.reject(action_id, by=by, note=note)


class PastThePivot(Exception):
    """A confirmed (or already cancelled) order cannot be cancelled."""


class Converged(Exception):
    """The saga has converged: there is nothing for an operator to act on."""


class DoesNotApply(Exception):
    """The proposed correction does not apply to the saga as it is now."""


def _in_flight(order_id: str) -> OrderSaga:
    """The saga's row, locked; raises Converged when there is nothing to act on."""
    saga = OrderSaga.objects.select_for_update().get(order_id=order_id)
    if saga.state == OrderSaga.State.CONVERGED:
        raise Converged(f"the saga of order {order_id} has converged (gap 0, order "
                        f"{saga.order_status}): there is nothing to act on")
    return saga


def _causes(saga: OrderSaga) -> list[int]:
    return [saga.last_event_id] if saga.last_event_id else []


def acknowledge(order_id: str, *, by: str, note: str) -> ReconciliationAction:
    """Say that a person has seen the saga and what they make of it (no effect on it)."""
    with transaction.atomic():
        saga = _in_flight(order_id)
        return ReconciliationAction.objects.create(
            saga=saga, kind="acknowledged", actor=operator(by), subject=saga.current_step,
            reason=f"{by} acknowledged: {note}", causing_event_ids=_causes(saga),
            evidence={"state": saga.state, "attention_reason": saga.attention_reason})


def retry_step(order_id: str, *, by: str, note: str = "") -> list[ReconciliationAction]:
    """Retry the saga's current step now, as if it had never been retried (a money-taking
    retry waits for another operator's approval); returns what was done or proposed."""
    with transaction.atomic():
        saga = _in_flight(order_id)
        OrderSaga.objects.filter(order_id=order_id).update(step_retries=0)
    outcome = reconciler.reconcile_order(order_id, actor=operator(by))
    done = outcome.actions if outcome else []
    what = ", ".join(f"{a.kind} ({a.status})" for a in done) or "nothing was left to retry"
    ReconciliationAction.objects.create(
        saga=saga, kind="operator_retry", actor=operator(by), subject=saga.current_step,
        reason=f"{by} retried the {saga.current_step or 'current'} step"
               + (f": {note}" if note else "") + f"; {what}",
        causing_event_ids=_causes(saga), evidence={"actions": [a.id for a in done if a.id]})
    return done


def compensate(order_id: str, *, by: str, note: str = "") -> ReconciliationAction:
    """Cancel the order with the normal compensations: only before the pivot (a converged
    saga's order is confirmed or cancelled, so it is refused too)."""
    return cancel_order(order_id, by=by, reason=note)


def propose_correction(order_id: str, *, kind: str, params: Params, note: str,
                       by: str) -> ReconciliationAction:
    """Propose a correction of one of the fixed kinds (validated by ProposalSerializer); it
    waits for an approval, which checks the saga again."""
    correction = KINDS[kind]
    with transaction.atomic():
        saga = _in_flight(order_id)
        obs = observe([saga])[order_id]
        refusal = correction.refusal(saga, obs, params)
        if refusal:
            raise DoesNotApply(f"{kind} does not apply to order {order_id}: {refusal}")
        reason = f"{by} proposed to {correction.description}: {note}"
        return ReconciliationAction.objects.create(
            saga=saga, kind=kind, subject=correction.subject(params), reason=reason,
            actor=operator(by), status=ReconciliationAction.Status.PROPOSED,
            moves_money=correction.moves_money, causing_event_ids=_causes(saga),
            evidence={"params": {k: str(v) for k, v in params.items()},
                      "facts": correction.facts(saga, obs, params)},
            command=corrections.stored(correction.command(saga, obs, params, note)))


def cancel_order(order_id: str, *, by: str, reason: str = "") -> ReconciliationAction:
    """Ask the orders context to cancel a pending order (the compensations follow)."""
    with transaction.atomic():
        saga = OrderSaga.objects.select_for_update().get(order_id=order_id)
        order = orders.orders([order_id]).get(order_id)
        status = (order.status if order else "") or saga.order_status
        if status != "pending":
            raise PastThePivot(f"order {order_id} is {status}: only a pending order can be "
                               "cancelled")
        why = reason or f"cancelled by operator {by}"
        return corrections.apply_correction(saga, corrections.Correction(
            kind="operator_cancel", reason=f"{by} cancelled the order: {why}", subject="order",
            evidence={"order_status": status},
            causes=[saga.last_event_id] if saga.last_event_id else [],
            command=OrderCancellationRequested(order_id, why, f"operator:{by}")),
            actor=f"operator:{by}")
