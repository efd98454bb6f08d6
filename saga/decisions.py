"""What the reconciler does about one saga, given what the participants say (an Observation).

In order: put wrong read models right (the rest reads them); correct the money (refund a charge
nobody asked for, record a charge whose answer was lost); undo what a cancelled order still
holds (hold, booking, capture); re-request a hold missing on an order going forward; correct a
confirmed order forward (saga.forward); then, for
a stalled step, retry it (re-send lost messages, replay dead ones, re-request the step) or,
past its retries, compensate (cancel before the pivot) or ask a person. A step whose provider is
down waits the outage out while its budget lasts (neither retried nor compensated: its delivery
retries by itself), and is compensated once the budget is spent. Every decision carries its
reason in plain words and the evidence (observed vs desired).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings

from inventory.events import ReservedLine, StockReleaseRequested, StockReservationRequested
from orders.events import OrderCancellationRequested, OrderStatus, OrderViewRepairRequested
from outbox import deadletters, registry
from outbox.contracts import DomainEvent
from outbox.models import Delivery
from outbox.outages import OUTAGE_MARK, OUTAGE_SPENT
from payments.events import ExtraChargeRefundRequested, PaymentSettlementRequested
from saga import desired, steps
from saga.corrections import Correction, send_again
from saga.forward import correct_forward
from saga.models import OrderSaga
from saga.observation import Observation, Pending
from saga.rebuild import rebuild_saga
from shipping.events import ShipmentCancellationRequested


@dataclass
class Verdict:
    gap: int
    corrections: list[Correction] = field(default_factory=list)
    attention: str = ""  # why a person must look, if they must
    retried_step: bool = False

    @property
    def converged(self) -> bool:
        return self.gap == 0 and not self.corrections


def evidence(seen: desired.Observed) -> dict[str, dict[str, str]]:
    facets = desired.facets(seen)
    return {"observed": {f.name: f.observed for f in facets},
            "desired": {f.name: f.desired for f in facets}}


def _in_flight(obs: Observation, handler: str, now: datetime) -> bool:
    """A delivery to `handler` is pending and not yet due: the choreography is on it."""
    return any(d.handler == handler and d.status == Delivery.Status.PENDING
               and d.next_attempt_at > now for d in obs.deliveries)


def decide(saga: OrderSaga, obs: Observation, now: datetime, *, force: bool = False) -> Verdict:
    """The corrections for one saga (and whether it needs a person); `force` treats its step
    as stalled whatever its deadline (an operator's "reconcile now")."""
    return _Decision(saga, obs, now).run(force)


class _Decision:
    def __init__(self, saga: OrderSaga, obs: Observation, now: datetime) -> None:
        self.saga, self.obs, self.now = saga, obs, now
        self.seen = obs.seen(saga)
        self.verdict = Verdict(gap=desired.gap(self.seen))
        self.proof = evidence(self.seen)
        self.causes = [saga.last_event_id] if saga.last_event_id else []
        outcome = desired.desired_outcome(self.seen.order_status, saga.step_failed)
        self.cancelled = outcome == desired.DesiredOutcome.CANCELLED
        self.reason = saga.reason or "order cancelled"

    def correct(self, kind: str, reason: str, *, subject: str = "",
                command: DomainEvent | None = None, effect: Callable[[], object] | None = None,
                unplanned_money: bool = False, takes_money: bool = False,
                waits_for_person: bool = False) -> None:
        if command is not None and self.awaiting(command.event_type):
            return  # the same command is on its way: its answer will show
        self.verdict.corrections.append(Correction(
            kind=kind, reason=reason, evidence=self.proof, causes=self.causes, subject=subject,
            command=command, effect=effect, unplanned_money=unplanned_money,
            takes_money=takes_money, waits_for_person=waits_for_person))

    def busy(self, *handlers: str) -> bool:
        return any(_in_flight(self.obs, handler, self.now) for handler in handlers)

    def awaiting(self, command_type: str) -> bool:
        """A command of this type for the order is still pending with its handler."""
        handlers = {sub.name for sub in registry.subscriptions(command_type)}
        return any(d.handler in handlers and d.status == Delivery.Status.PENDING
                   for d in self.obs.deliveries)

    def run(self, force: bool) -> Verdict:
        self.read_models()
        self.money()
        self.stock_and_shipment()
        correct_forward(self.saga, self.obs, self.correct, self.awaiting)
        step = self.saga.current_step
        stalled = step not in ("", steps.DONE) and (
            force or (self.saga.step_deadline is not None and self.now >= self.saga.step_deadline))
        if stalled and not self.verdict.corrections:
            self.retry_or_escalate(step)
        _judge(self.saga, self.seen, self.now, self.verdict)
        return self.verdict

    def read_models(self) -> None:
        """Read models that disagree with their events are rebuilt from them."""
        saga, obs = self.saga, self.obs
        if obs.saga_drift:
            self.correct("rebuild_read_model", "the saga's coordination row disagrees with its "
                         f"events ({', '.join(obs.saga_drift)}); rebuilt from the event store",
                         subject="saga.OrderSaga", effect=lambda: rebuild_saga(saga.order_id))
        if obs.view_drift:
            self.correct("rebuild_read_model", "the order's view disagrees with its events "
                         f"({', '.join(obs.view_drift)}); rewritten from the order's stream",
                         subject="orders.OrderView",
                         command=OrderViewRepairRequested(saga.order_id))

    def money(self) -> None:
        """The gateway's ledger is what the customer was charged."""
        saga, obs = self.saga, self.obs
        for charge in obs.extra_charges:
            held = charge.amount - charge.refunded
            self.correct("refund_extra_charge",
                         f"the gateway holds charge {charge.charge_id} of {held:.2f} for this "
                         "order beyond the order's own charge (a duplicate); it is refunded",
                         subject=charge.charge_id, unplanned_money=True,
                         command=ExtraChargeRefundRequested(saga.order_id, charge.charge_id,
                                                            held, "duplicate charge"))
        own = obs.own_charge
        # A payment delivery not yet done (due, retrying or dead) is the step's own business:
        # it is retried first, and finds the charge by its key itself.
        if own is None or any(d.handler.startswith("payments.") for d in obs.deliveries):
            return
        if not obs.payment_captured:
            self.correct("record_lost_charge",
                         f"the gateway took {own.amount:.2f} under the order's key "
                         f"({own.charge_id}) but the payment never recorded it; it is recorded, "
                         "not charged again"
                         + (", then refunded (the order is cancelled)" if self.cancelled else ""),
                         subject=own.charge_id,
                         command=_settlement(saga, obs, "charge found by key", self.cancelled))
        elif self.cancelled and own.amount > own.refunded:
            self.correct("refund_cancelled_charge",
                         f"the order is cancelled but its charge {own.charge_id} of "
                         f"{own.amount - own.refunded:.2f} is still held; it is refunded",
                         subject=own.charge_id,
                         command=_settlement(saga, obs, self.reason, self.cancelled))

    def stock_and_shipment(self) -> None:
        """What a cancelled order still holds is undone; a hold missing (or expired) on an
        order going forward is asked for again."""
        saga, obs = self.saga, self.obs
        reservation = obs.reservation_status
        if self.cancelled:
            if reservation == "held" and not self.busy("inventory.release_stock"):
                self.correct("release_hold", "the order is going to cancelled but its stock is "
                             "still held; the hold is released", subject="hold",
                             command=StockReleaseRequested(saga.order_id, self.reason))
            for booking in obs.live_bookings:
                if not self.busy("shipping.cancel_shipment"):
                    self.correct("cancel_shipment", f"shipment {booking.shipment_id} is booked "
                                 "for a cancelled order; it is cancelled",
                                 subject=booking.shipment_id,
                                 command=ShipmentCancellationRequested(
                                     saga.order_id, self.reason, booking.idempotency_key))
            return
        if self.seen.order_status != OrderStatus.PENDING or self.busy(
                "inventory.reserve_stock", "inventory.reserve_on_request"):
            return
        expires = obs.hold_expires_at
        missing = reservation == "none" and saga.stock != desired.Stock.NONE
        # Expired by the job (its units back in stock), or past its time and not yet expired.
        expired = reservation == "expired" or (
            reservation == "held" and expires is not None and expires <= self.now)
        if missing or expired:
            self.correct("rerequest_hold", "the order is going forward but its hold is "
                         f"{'expired' if expired else 'missing'}; the hold is requested again",
                         subject="hold",
                         command=StockReservationRequested(saga.order_id, _lines(obs)))

    def retry_or_escalate(self, step: str) -> None:
        """A stalled step is retried (lost messages re-sent, dead ones replayed, or the step
        asked for again); past its retries it is compensated before the pivot, or a person is
        asked after it."""
        saga, obs, now = self.saga, self.obs, self.now
        overdue = [d for d in obs.deliveries
                   if d.status == Delivery.Status.PENDING and d.next_attempt_at <= now]
        dead = [d for d in obs.deliveries if d.status == Delivery.Status.DEAD]
        forward = not self.cancelled
        if self.waiting_out_an_outage(step, forward):
            return
        if saga.step_retries >= settings.SAGA_STEP_RETRIES:
            if forward and step in steps.BEFORE_PIVOT:
                self.correct("compensate", f"the {_words(step)} step did not complete after "
                             f"{saga.step_retries} retries; the order is cancelled and its "
                             "completed steps undone", subject=step,
                             command=OrderCancellationRequested(
                                 saga.order_id, f"could not {_words(step)} in time", "saga"))
                return
            last = (dead or overdue or [None])[0]
            self.verdict.attention = (
                f"the {_words(step)} step did not complete after {saga.step_retries} retries"
                + (f"; {last.handler} last failed with: {_last_line(last.last_error)}"
                   if last is not None and last.last_error else "")
                + (" (past the pivot the order can only go forward)" if forward else ""))
            return
        if overdue:
            self.correct("republish_deliveries", f"{len(overdue)} message(s) of the order were "
                         f"due and never handled (lost by the broker): {_handlers(overdue)}; "
                         "sent again", subject=step, effect=lambda: send_again(overdue))
        if dead:
            self.correct("replay_dead_deliveries", f"{len(dead)} delivery(ies) of the order went "
                         f"dead ({_handlers(dead)}): {_last_line(dead[0].last_error)}; replayed",
                         subject=step, effect=lambda: deadletters.replay(
                             Delivery.objects.filter(id__in=[d.id for d in dead])))
        if overdue or dead:
            self.verdict.retried_step = True
            return
        if _in_flight_any(obs, now):
            return  # its messages are on their way or backing off: not stalled, only slow
        self.verdict.retried_step = True
        # Nothing in flight: the step's messages were handled, yet the step did not happen.
        if step == "reserve_stock" and forward:
            self.correct("rerequest_hold", "the reservation step stalled with nothing in "
                         "flight; the hold is requested again", subject="hold",
                         command=StockReservationRequested(saga.order_id, _lines(obs)))
        elif step in ("charge_payment", "refund_payment"):
            self.correct("retry_payment", f"the {_words(step)} step stalled with nothing in "
                         "flight; the payment is asked to settle what is due", subject=step,
                         command=_settlement(saga, obs, self.reason, self.cancelled),
                         # charging a customer always waits for a person's approval
                         takes_money=not self.cancelled)
        elif step == "release_stock":
            self.correct("release_hold", "the release step stalled with nothing in flight; "
                         "the hold is released", subject="hold",
                         command=StockReleaseRequested(saga.order_id, self.reason))
        elif step == "cancel_order":
            self.correct("compensate", "the compensations are done but the order was never "
                         "cancelled; it is cancelled", subject=step,
                         command=OrderCancellationRequested(saga.order_id, self.reason, "saga"))
        else:
            self.verdict.retried_step = False  # nothing to retry: the budget decides


    def waiting_out_an_outage(self, step: str, forward: bool) -> bool:
        """A delivery of the step waits out a provider outage: leave it be while the step's
        outage budget lasts; once spent, compensate a forward step before the pivot at once
        (its retries would only meet the same outage). True when nothing else is to be done."""
        saga, now = self.saga, self.now
        waiting = [d for d in self.obs.deliveries if d.status == Delivery.Status.PENDING
                   and (d.last_error or "").startswith(OUTAGE_MARK)]
        spent = [d for d in self.obs.deliveries if d.status == Delivery.Status.DEAD
                 and OUTAGE_SPENT in (d.last_error or "")]
        started = saga.step_started_at or saga.started_at
        budget = timedelta(seconds=settings.SAGA_PROVIDER_OUTAGE_BUDGET_SECONDS)
        if waiting and now < started + budget:
            return True
        if (waiting or spent) and forward and step in steps.BEFORE_PIVOT:
            self.correct("compensate", f"the {_words(step)} step's provider was unavailable "
                         f"for its whole outage budget ({_duration(budget)}); the order is "
                         "cancelled and its completed steps undone", subject=step,
                         command=OrderCancellationRequested(
                             saga.order_id, f"could not {_words(step)}: provider unavailable",
                             "saga"))
            return True
        return False


def _judge(saga: OrderSaga, seen: desired.Observed, now: datetime, verdict: Verdict) -> None:
    """A saga whose gap grows, or that outlives its budget, needs a person."""
    if verdict.gap == 0 or verdict.attention:
        return
    differs = "; ".join(f"{name}: {d['observed']} (wanted {d['desired']})"
                        for name, d in desired.differences(seen).items())
    if saga.observed_gap is not None and verdict.gap > saga.observed_gap:
        verdict.attention = (f"the gap grew from {saga.observed_gap} to {verdict.gap} between "
                             f"two reconciler passes ({differs})")
        return
    budget = timedelta(seconds=settings.SAGA_BUDGET_SECONDS)
    age = now - saga.started_at
    if age > budget:
        verdict.attention = (f"not converged {_duration(age)} after it started (budget "
                             f"{_duration(budget)}); waiting on the {_words(saga.current_step)} "
                             f"step; {differs}")


def _settlement(saga: OrderSaga, obs: Observation, reason: str,
                cancelled: bool) -> PaymentSettlementRequested:
    """Everything the payment needs to settle, as the saga knows it (each fact noted once)."""
    held = (obs.reservation_status in ("held", "committed", "released", "expired")
            or obs.own_charge is not None)
    return PaymentSettlementRequested(
        order_id=saga.order_id, reason=reason, amount=Decimal(saga.total),
        # Sealed as the order holds it; "" lets the gateway use its default token.
        token=obs.payment_token,
        stock_held=held, cancelled=cancelled)


def _lines(obs: Observation) -> tuple[ReservedLine, ...]:
    lines = obs.order.lines if obs.order else ()
    return tuple(ReservedLine(line.sku, line.quantity) for line in lines)


def _in_flight_any(obs: Observation, now: datetime) -> bool:
    return any(d.status == Delivery.Status.PENDING and d.next_attempt_at > now
               for d in obs.deliveries)


def _handlers(deliveries: list[Pending]) -> str:
    return ", ".join(sorted({d.handler for d in deliveries}))


def _last_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "no error recorded"


def _words(step: str) -> str:
    return step.replace("_", " ") if step else "no"


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
