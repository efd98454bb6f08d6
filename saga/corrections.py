"""Corrective actions: recorded with their evidence, and sent as commands through the outbox.

A command is an event of the target context's contract (e.g. `payments.PaymentSettlementRequested`)
appended to the saga's own stream `saga.Corrections/<order id>`, correlated with the order and
caused by the event that showed the drift; the context's handler gets it as a delivery like any
other. A money-moving correction the saga did not plan waits as a *proposed* action when
`RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS` is on, until an operator approves or rejects it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from outbox import relay, store
from outbox.contracts import DomainEvent, event_class, from_payload, to_payload
from outbox.models import Delivery
from saga.models import OrderSaga, ReconciliationAction

COMMAND_STREAM = "saga.Corrections"
RECONCILER = "reconciler"


@dataclass(frozen=True)
class Correction:
    """One thing to do about one saga, and why."""

    kind: str
    reason: str
    evidence: dict[str, Any]
    causes: Sequence[int] = ()
    subject: str = ""
    command: DomainEvent | None = None  # appended through the outbox
    effect: Callable[[], object] | None = field(default=None, compare=False)  # done here
    unplanned_money: bool = False  # a refund the saga did not plan (may need approval)


def needs_approval(correction: Correction) -> bool:
    return correction.unplanned_money and settings.RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS


def send_command(saga: OrderSaga, command: DomainEvent, *, actor: str,
                 causation: int | None) -> int:
    """Append `command` to the saga's command stream (the caller holds the saga's row lock,
    which orders the stream's versions); returns the new event's id."""
    rows = store.append(COMMAND_STREAM, saga.order_id, saga.commands_issued, [command],
                        correlation_id=saga.order_id,
                        causation_id=str(causation) if causation else None, actor=actor)
    saga.commands_issued += 1
    OrderSaga.objects.filter(order_id=saga.order_id).update(commands_issued=saga.commands_issued)
    return rows[0].id


def apply_correction(saga: OrderSaga, correction: Correction, *, actor: str = RECONCILER,
                     dry_run: bool = False) -> ReconciliationAction:
    """Record the action and carry it out (or only propose it); inside the caller's
    transaction, with the saga's row locked."""
    action = ReconciliationAction(
        saga=saga, kind=correction.kind, reason=correction.reason,
        evidence=correction.evidence, causing_event_ids=list(correction.causes),
        actor=actor, subject=correction.subject,
        command=_stored(correction.command) if correction.command is not None else None,
    )
    if dry_run:
        action.status = ReconciliationAction.Status.PROPOSED
        return action  # shown, not saved
    if needs_approval(correction):
        action.status = ReconciliationAction.Status.PROPOSED
        action.save()
        return action
    if correction.effect is not None:
        correction.effect()
    if correction.command is not None:
        action.command_event_id = send_command(
            saga, correction.command, actor=actor,
            causation=correction.causes[-1] if correction.causes else None)
    action.status = ReconciliationAction.Status.APPLIED
    action.save()
    return action


def send_again(deliveries: Sequence[Any]) -> None:
    """Lease pending deliveries (as the outbox sweep does, so neither sends them again for a
    while) and send them to the broker once the lease is committed."""
    lease = timezone.now() + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    Delivery.objects.filter(id__in=[d.id for d in deliveries],
                            status=Delivery.Status.PENDING).update(next_attempt_at=lease)
    batch = [(d.id, d.queue) for d in deliveries]
    attempts = {d.id: d.attempts for d in deliveries}
    transaction.on_commit(lambda: relay.send(batch, attempts=attempts))


def already_proposed(saga: OrderSaga, correction: Correction) -> bool:
    """A proposal waiting (or refused) for the same thing is not made again."""
    return ReconciliationAction.objects.filter(
        saga=saga, kind=correction.kind, subject=correction.subject,
        status__in=[ReconciliationAction.Status.PROPOSED, ReconciliationAction.Status.REJECTED],
    ).exists()


class NotProposed(Exception):
    """Only a proposed action can be approved or rejected."""


def approve(action_id: int, *, by: str) -> ReconciliationAction:
    """Carry out a proposed correction, as `by` (an operator's username)."""
    with transaction.atomic():
        action = ReconciliationAction.objects.select_for_update().get(id=action_id)
        if action.status != ReconciliationAction.Status.PROPOSED:
            raise NotProposed(f"action {action_id} is {action.status}, not proposed")
        saga = OrderSaga.objects.select_for_update().get(order_id=action.saga_id)
        if action.command:
            action.command_event_id = send_command(
                saga, _loaded(action.command), actor=f"operator:{by}",
                causation=action.causing_event_ids[-1] if action.causing_event_ids else None)
        action.status = ReconciliationAction.Status.APPLIED
        action.decided_by, action.decided_at = by, timezone.now()
        action.save()
        # Look at the saga again soon: the correction should now close its gap.
        OrderSaga.objects.filter(order_id=saga.order_id).exclude(
            state=OrderSaga.State.CONVERGED).update(next_check_at=timezone.now(), checks=0)
    return action


def reject(action_id: int, *, by: str) -> ReconciliationAction:
    """Refuse a proposed correction; its saga then needs a person's attention."""
    with transaction.atomic():
        action = ReconciliationAction.objects.select_for_update().get(id=action_id)
        if action.status != ReconciliationAction.Status.PROPOSED:
            raise NotProposed(f"action {action_id} is {action.status}, not proposed")
        action.status = ReconciliationAction.Status.REJECTED
        action.decided_by, action.decided_at = by, timezone.now()
        action.save()
        OrderSaga.objects.filter(order_id=action.saga_id).exclude(
            state=OrderSaga.State.CONVERGED).update(
            state=OrderSaga.State.NEEDS_ATTENTION,
            attention_reason=f"{by} rejected the proposed correction: {action.reason}")
    return action


def _stored(command: DomainEvent) -> dict[str, Any]:
    return {"type": command.event_type, "payload": to_payload(command)}


def _loaded(stored: dict[str, Any]) -> DomainEvent:
    return from_payload(event_class(stored["type"]), stored["payload"])
