"""Corrective actions: recorded with their evidence, and sent as commands through the outbox.

A command is an event of the target context's contract (e.g. `payments.PaymentSettlementRequested`)
appended to the saga's own stream `saga.Corrections/<order id>`, correlated with the order and
caused by the event that showed the drift; the context's handler gets it as a delivery like any
other. A correction that takes money from a customer always waits as a *proposed* action, and
a refund the saga did not plan does when `RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS` is on, until
an operator approves or rejects it (saga.approvals); so does one only a person may decide (stock
put back under a confirmed order).
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
    takes_money: bool = False  # charges the customer: always needs approval
    waits_for_person: bool = False  # only a person may decide: always proposed


def needs_approval(correction: Correction) -> bool:
    return correction.takes_money or correction.waits_for_person or (
        correction.unplanned_money and settings.RECONCILER_REQUIRE_APPROVAL_FOR_REFUNDS)


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
        command=stored(correction.command) if correction.command is not None else None,
        moves_money=correction.takes_money or correction.unplanned_money,
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
    # A delivery a worker holds is running now: skipped, never waited for (the reconciler
    # holds a saga row here, and the worker may want it: README, "Lock order").
    free = set(Delivery.objects.select_for_update(skip_locked=True)
               .filter(id__in=[d.id for d in deliveries], status=Delivery.Status.PENDING)
               .order_by("id").values_list("id", flat=True))
    Delivery.objects.filter(id__in=free).update(next_attempt_at=lease)
    batch = [(d.id, d.queue) for d in deliveries if d.id in free]
    attempts = {d.id: d.attempts for d in deliveries if d.id in free}
    transaction.on_commit(lambda: relay.send(batch, attempts=attempts))


def already_proposed(saga: OrderSaga, correction: Correction) -> bool:
    """A proposal waiting (or refused) for the same thing is not made again."""
    return ReconciliationAction.objects.filter(
        saga=saga, kind=correction.kind, subject=correction.subject,
        status__in=[ReconciliationAction.Status.PROPOSED, ReconciliationAction.Status.REJECTED],
    ).exists()


def stored(command: DomainEvent) -> dict[str, Any]:
    return {"type": command.event_type, "payload": to_payload(command)}


def loaded(stored: dict[str, Any]) -> DomainEvent:
    return from_payload(event_class(stored["type"]), stored["payload"])
