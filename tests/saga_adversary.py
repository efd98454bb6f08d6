"""An adversarial scheduler for one order's deliveries, in process (no worker, no broker).

It chooses, step by step, which pending delivery of the order runs next, whether its message
comes twice, whether it is held back (a lost or late message, found later as the sweep would),
whether an event already handled is handled again by its handler (a replay), whether the
reconciler steps in meanwhile, which fault hits that run (a provider's, or the worker dying
before its commit), and when the customer cancels. Then, with the faults gone, it drains what
is left, as the sweep and beat would. Hypothesis makes the choices (tests/test_saga_property.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from unittest import mock

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import strategies as st

from common.message_context import message_context
from orders import services as orders
from orders.domain import OrderAlreadyConfirmed
from outbox import registry
from outbox.delivery import DeliveryResult, PermanentError, run_delivery
from outbox.envelope import Envelope
from outbox.models import Delivery, Event
from saga import desired
from saga.models import OrderSaga
from saga.observation import observe
from saga.reconciler import reconcile_order

MAX_STEPS = 40  # scheduler choices per order; the drain afterwards finishes the rest
DRAIN_ROUNDS = 50
# A fault hits a delivery only while it has failed fewer times than this, so that no
# delivery runs out of attempts (OUTBOX_MAX_ATTEMPTS) just because of the dice.
FAULTY_ATTEMPTS = 4
# Rates of 0 or 1 keep each run's outcome chosen by Hypothesis, not by the providers' dice.
PROVIDER_FAULTS: dict[str, dict[str, str]] = {
    "gateway error": {"PAYMENTS_FAULTS": "error=1"},
    "gateway lost answer": {"PAYMENTS_FAULTS": "lost_response=1"},
    "gateway decline": {"PAYMENTS_FAULTS": "decline=1"},
    "gateway duplicate charge": {"PAYMENTS_FAULTS": "duplicate=1"},
    "carrier error": {"SHIPPING_FAULTS": "error=1"},
    "carrier lost answer": {"SHIPPING_FAULTS": "lost_response=1"},
}
# The handler did its work (providers included) and the worker dies before the commit.
CRASH = "worker dies before the commit"
FAULTS = (*PROVIDER_FAULTS, CRASH)
# Except for the e-mail: it is sent last, yet no transaction can take back a sent mail.
UNDYING = {"orders.send_confirmation_email"}
# What the scheduler may do at a step besides running the delivery (the customer's "cancel"
# joins them while it is due). "reconcile": messages late past the step's deadline, so the
# reconciler steps in meanwhile.
MOVES = ("duplicate", "delay", "replay", "reconcile")
CUSTOMER_CANCEL = "cancelled by customer"


@dataclass
class Order:
    id: str
    will_cancel: bool = False  # the customer cancels, at a moment the scheduler chooses
    # The moves and faults this order's scheduler may use besides "run" and "none" (a few
    # per order, "swarm" style, so that rare combinations come up often enough).
    moves: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()
    cancel_tried: bool = False
    cancel_accepted: bool = False
    replays: int = 0
    reconciled: int = 0
    applied: list[str] = field(default_factory=list)  # the fault of every run, in order


def pending(order: Order) -> list[Delivery]:
    return list(Delivery.objects.filter(event__correlation_id=order.id,
                                        status=Delivery.Status.PENDING).order_by("id"))


class WorkerDied(Exception):
    pass


_subscription = registry.subscription


def _dying(handler: str, event_type: str) -> registry.Subscription:
    """The handler's subscription, made to die once its work is done, before the commit."""
    sub = _subscription(handler, event_type)
    if handler in UNDYING:
        return sub

    def work_then_die(event: object, env: object) -> None:
        sub.func(event, env)
        raise WorkerDied(f"{handler} died before its commit")

    return replace(sub, func=work_then_die)


@contextmanager
def injected(fault: str) -> Iterator[None]:
    """The fault in force while one delivery (or replay) runs; the providers read their
    fault rates from the settings at call time."""
    if fault == CRASH:
        with mock.patch.object(registry, "subscription", _dying):
            yield
    else:
        with override_settings(**PROVIDER_FAULTS.get(fault, {})):
            yield


def run(delivery: Delivery, fault: str = "none") -> DeliveryResult:
    """Run it as the sweep would once it is due: for the attempt count it was sent for."""
    Delivery.objects.filter(id=delivery.id, next_attempt_at__gt=timezone.now()).update(
        next_attempt_at=timezone.now())
    with injected(fault):
        return run_delivery(delivery.id, delivery.attempts)


def done(order: Order) -> list[Delivery]:
    return list(Delivery.objects.filter(event__correlation_id=order.id,
                                        status=Delivery.Status.DONE).order_by("id"))


def handle_again(delivery: Delivery, fault: str = "none") -> None:
    """Hand an event its handler has already handled to that handler again (a redelivery
    that got past the inbox: a replayed dead letter, a restored backup), in a transaction of
    its own, as a delivery runs it."""
    env = Envelope.from_model(Event.objects.get(id=delivery.event_id))
    with injected(fault), transaction.atomic(), message_context(
            correlation=env.correlation_id, causation=str(env.id),
            by=f"handler:{delivery.handler}"):
        registry.subscription(delivery.handler, env.event_type).func(env.event, env)


def replay(order: Order, index: int, fault: str) -> None:
    """A duplicate in the middle of the saga: it may fail transiently (its work rolls back),
    never for good."""
    handled = done(order)
    if not handled:
        return
    order.replays += 1
    try:
        handle_again(handled[index % len(handled)], fault)
    except PermanentError:
        raise
    except Exception:  # a transient failure: the replay's work rolls back
        pass


def customer_cancels(order: Order) -> None:
    try:
        outcome = orders.cancel_order(order.id, reason=CUSTOMER_CANCEL, requested_by="customer")
    except OrderAlreadyConfirmed:
        return  # the API's 409: past the pivot
    finally:
        order.cancel_tried = True
    order.cancel_accepted = outcome is orders.CancelOutcome.CANCELLED


def schedule(order: Order, data: st.DataObject) -> None:
    """The adversary: up to MAX_STEPS moves over the order's pending deliveries."""
    held_back: set[int] = set()
    for _ in range(MAX_STEPS):
        runnable = [d for d in pending(order) if d.id not in held_back]
        if not runnable:
            if not held_back:
                break
            held_back.clear()  # the sweep finds the messages that were lost or late
            continue
        delivery = runnable[data.draw(st.integers(0, len(runnable) - 1), label="delivery")]
        cancel = ("cancel",) if order.will_cancel and not order.cancel_tried else ()
        move = data.draw(st.sampled_from(("run", *order.moves, *cancel)),
                         label=f"move for {delivery.handler}")
        fault = data.draw(st.sampled_from(("none", *order.faults)), label="fault")
        if delivery.attempts >= FAULTY_ATTEMPTS:
            fault = "none"
        order.applied.append(fault)
        if move == "cancel":
            customer_cancels(order)
        elif move == "delay":
            held_back.add(delivery.id)
        elif move == "replay":
            replay(order, data.draw(st.integers(0, 50), label="replayed"), fault)
        elif move == "reconcile":
            # The messages are late past the step's deadline: the reconciler steps in.
            order.reconciled += 1
            reconcile_order(order.id)
        else:
            outcome = run(delivery, fault)
            assert outcome is not DeliveryResult.DEAD, f"delivery to {delivery.handler} went dead"
            if move == "duplicate":
                assert run_delivery(delivery.id, delivery.attempts) is DeliveryResult.SKIPPED, (
                    "a second message for the same attempt must find the delivery taken")
    if order.will_cancel and not order.cancel_tried:
        customer_cancels(order)  # late: after everything else, likely past the pivot


def drain(order: Order) -> None:
    """No more faults: run every pending delivery (retries made due) until none is left."""
    for _ in range(DRAIN_ROUNDS):
        todo = pending(order)
        if not todo:
            return
        for delivery in todo:
            if run(delivery) is DeliveryResult.DEAD:
                dead = Delivery.objects.get(id=delivery.id)
                pytest.fail(f"delivery to {dead.handler} went dead: "
                            f"{dead.last_error.strip().splitlines()[-1]}")
    pytest.fail(f"order {order.id} still has deliveries pending after {DRAIN_ROUNDS} rounds")


def settled(order: Order) -> bool:
    saga = OrderSaga.objects.get(order_id=order.id)
    obs = observe([saga])[order.id]
    return (saga.state == OrderSaga.State.CONVERGED and saga.gap == 0
            and desired.gap(obs.seen(saga)) == 0 and not obs.saga_drift and not obs.view_drift)


def converge(order: Order) -> int:
    """Drain; then let the reconciler correct what only it can (a charge the provider booked
    twice), as beat would. Returns how many reconciler rounds were needed."""
    drain(order)
    for rounds in range(4):
        if settled(order):
            return rounds
        reconcile_order(order.id)
        drain(order)
    pytest.fail("the saga did not converge, even with the reconciler's help")

