"""Forward corrections past the pivot: a confirmed order can only go forward, so what drifted
under it is put right forward, never undone.

- the carrier cancelled the order's shipment on its own → booked again (new idempotency key);
- the carrier holds more than one live booking → the one(s) not the shipment's own cancelled;
- net payment above the total → refunded (saga.decisions: `money`, at any status);
- net payment below the total → a charge for the difference, proposed to a person (money taken
  from a customer always waits for an approval);
- stock released under the confirmed order → proposed to a person (the goods are sold; what
  to do about the stock is an operator's call).

Each command is re-checked by its handler when it runs: a correction the saga no longer needs
(the state moved on) changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orders.events import OrderStatus
from payments.events import ShortfallChargeRequested
from saga import desired
from saga.models import OrderSaga
from saga.observation import Observation
from shipping.events import ExtraBookingCancellationRequested, ShipmentRebookingRequested

# saga.decisions' `_Decision.correct`: records one correction with the decision's evidence.
Correct = Callable[..., None]
BOOKED = "booked"


def correct_forward(saga: OrderSaga, obs: Observation, correct: Correct,
                    awaiting: Callable[[str], bool]) -> None:
    """The forward corrections of a confirmed order (none for any other)."""
    if obs.order_status != OrderStatus.CONFIRMED:
        return
    _shipment(saga, obs, correct, awaiting)
    _shortfall(saga, obs, correct)
    _released_stock(obs, correct)


def _shipment(saga: OrderSaga, obs: Observation, correct: Correct,
              awaiting: Callable[[str], bool]) -> None:
    record = obs.shipment
    # Only a shipment shipping itself holds as booked is re-booked or tidied: one not yet
    # booked is the choreography's, a refused one waits for the budget and a person.
    if record is None or record.status != BOOKED:
        return
    if awaiting(ShipmentRebookingRequested.event_type) or awaiting(
            ExtraBookingCancellationRequested.event_type):
        return  # a re-booking or a cancellation is on its way: its answer will show
    live = obs.live_bookings
    if not live:
        own = next((b for b in obs.bookings if b.idempotency_key == record.idempotency_key),
                   None)
        said = "cancelled it" if own is not None else "has no booking for it"
        correct("rebook_shipment",
                f"the order is confirmed and shipping's records hold shipment "
                f"{record.shipment_id} as booked, but the carrier {said}; it is booked again "
                "under a new key", subject=record.shipment_id,
                command=ShipmentRebookingRequested(
                    saga.order_id, f"the carrier cancelled shipment {record.shipment_id}"))
        return
    if len(live) < 2:
        return
    keep = next((b for b in live if b.idempotency_key == record.idempotency_key), live[0])
    for booking in live:
        if booking is keep:
            continue
        correct("cancel_extra_booking",
                f"the carrier holds {len(live)} live bookings for the confirmed order; "
                f"{booking.shipment_id} is not the order's shipment ({keep.shipment_id}); "
                "it is cancelled", subject=booking.shipment_id,
                command=ExtraBookingCancellationRequested(
                    saga.order_id, booking.idempotency_key,
                    f"extra live booking beside {keep.shipment_id}"))


def _shortfall(saga: OrderSaga, obs: Observation, correct: Correct) -> None:
    """Net below the total: charging the customer again only ever waits for a person."""
    # A payment delivery not yet done (or a charge whose answer was lost) is the payment
    # step's own business, not a shortfall.
    if (obs.money is None or not obs.payment_captured or obs.own_charge is None
            or any(d.handler.startswith("payments.") for d in obs.deliveries)):
        return
    wanted = desired.desired_net(desired.DesiredOutcome.FULFILLED, saga.total)
    short = wanted - obs.money.net
    if short <= 0:
        return
    correct("charge_shortfall",
            f"the provider's books hold net {obs.money.net:.2f} for the confirmed order, "
            f"{short:.2f} short of its total {wanted:.2f} (refunded without the order being "
            "cancelled); charging the customer the difference waits for a person's approval",
            subject="payment", takes_money=True,
            command=ShortfallChargeRequested(saga.order_id, wanted,
                                             f"shortfall of {short:.2f} after confirmation"))


def _released_stock(obs: Observation, correct: Correct) -> None:
    """The goods of a confirmed order are sold, yet inventory released them (or let the hold
    expire before the commit): a person decides (ship from elsewhere, receive goods, or take
    them off the shelf count)."""
    if obs.reservation_status not in ("released", "expired"):
        return
    lines = ", ".join(f"{line.sku} x{line.quantity}" for line in _lines(obs))
    correct("restore_stock",
            f"the order is confirmed (its goods are sold) but inventory released its stock "
            f"({lines or 'no lines'}): the units are back on sale; an operator decides how "
            "the order's goods are found and the count put right", subject="stock",
            waits_for_person=True)


def _lines(obs: Observation) -> tuple[Any, ...]:
    return obs.order.lines if obs.order else ()
