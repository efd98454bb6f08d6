"""Events appended as their context would append them, and their deliveries run in the test
process the way a worker runs them (`outbox.delivery.run_delivery`: lock, handler, done, one
transaction), without a broker."""

from __future__ import annotations

from contextlib import nullcontext

from django.db import transaction
from django.utils import timezone

from outbox import relay, store
from outbox.contracts import DomainEvent
from outbox.delivery import DeliveryResult, run_delivery
from outbox.models import Delivery, Event

# The stream each context appends an order's facts to.
STREAM_OF_CONTEXT = {"orders": "orders.Order", "inventory": "inventory.Reservation",
                     "payments": "payments.Payment", "shipping": "shipping.Shipment"}


def publish(*events: DomainEvent, stream_type: str | None = None, send: bool = False
            ) -> list[Event]:
    """Append each event, in one transaction, to its own context's stream for its order (or
    to `stream_type`: the reconciler's commands go to `saga.Corrections`), with its
    deliveries. Nothing goes to the broker (the deliveries wait for `deliver` or the sweep)
    unless `send`: then they are sent on commit, as in production (for a real worker)."""
    rows: list[Event] = []
    with transaction.atomic(), nullcontext() if send else relay.suppressed():
        for event in events:
            stream = stream_type or STREAM_OF_CONTEXT[event.event_type.split(".", 1)[0]]
            order_id = event.order_id  # type: ignore[attr-defined]
            version = Event.objects.filter(stream_type=stream, stream_id=order_id).count()
            rows += store.append(stream, order_id, version, [event], correlation_id=order_id)
    return rows


def deliver(row: Event, handler: str) -> DeliveryResult:
    """Run the delivery of the event `row` to `handler` now (made due first)."""
    delivery = Delivery.objects.get(event=row, handler=handler)
    Delivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())
    return run_delivery(delivery.id)


def announce(event: DomainEvent, handler: str) -> DeliveryResult:
    """Publish the event and run its delivery to `handler`."""
    [row] = publish(event)
    return deliver(row, handler)


def deliver_pending(handler: str) -> int:
    """Run every pending delivery of one handler, oldest first; returns how many."""
    ids = list(Delivery.objects.filter(handler=handler, status=Delivery.Status.PENDING)
               .order_by("id").values_list("id", flat=True))
    for delivery_id in ids:
        run_delivery(delivery_id)
    return len(ids)


def drain(limit: int = 500, *, lose: str = "") -> int:
    """Run every pending delivery, in order, until none is left; returns how many ran.
    Deliveries to handlers starting with `lose` are marked done without running (their
    effect was lost). For tests about what the saga leaves behind rather than about delivery."""
    ran = 0
    with relay.suppressed():
        while ran < limit:
            pending = Delivery.objects.filter(status="pending")
            if lose:
                pending.filter(handler__startswith=lose).update(status="done")
            ids = list(pending.order_by("id").values_list("id", flat=True)[:50])
            if not ids:
                return ran
            for delivery_id in ids:
                run_delivery(delivery_id)
                ran += 1
    raise AssertionError(f"deliveries still pending after {limit} runs")


def stream_events(stream_type: str, order_id: str) -> list[DomainEvent]:
    """The events of one stream, in order."""
    return [envelope.event for envelope in store.read_stream(stream_type, order_id)]
