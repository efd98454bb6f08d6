"""The saga's use cases for operators and for the rebuild command.

Operators act on a saga through here (the admin calls these): reconcile it now, replay its
dead deliveries, approve or reject a proposed correction, cancel its order before the pivot.
Each one is recorded as a `ReconciliationAction` with the operator as its actor.
"""

from __future__ import annotations

from django.db import transaction

from orders import selectors as orders
from orders.events import OrderCancellationRequested
from outbox import deadletters
from outbox.models import Delivery
from saga import corrections, rebuild, reconciler
from saga.models import OrderSaga, ReconciliationAction


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


def approve_correction(action_id: int, *, by: str) -> ReconciliationAction:
    return corrections.approve(action_id, by=by)


def reject_correction(action_id: int, *, by: str) -> ReconciliationAction:
    return corrections.reject(action_id, by=by)


class PastThePivot(Exception):
    """A confirmed (or already cancelled) order cannot be cancelled."""


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
