"""The expiry rule of the semantic lock, without a database: only a hold past its time
expires, once; an expired hold is held afresh when asked again, or fails with a clear reason."""

from datetime import UTC, datetime, timedelta

import pytest

from inventory.domain import Reservation, ReservationNotHeld, ReservationStatus, Shortage
from inventory.events import (
    OrderCancellationNoted,
    ReservationExpired,
    ReservedLine,
    StockCommitted,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HOLD = timedelta(minutes=15)
UNTIL = NOW.isoformat()  # a hold that runs out at NOW
LINES = (ReservedLine("SKU-1", 2), ReservedLine("SKU-2", 1))
HELD = StockReserved("order-1", LINES, UNTIL)
EXPIRED = ReservationExpired("order-1", LINES, UNTIL, "hold expired")


class StockPort:
    def __init__(self, shortage: Shortage | None = None) -> None:
        self.shortage = shortage
        self.asked: list[tuple[ReservedLine, ...]] = []

    def __call__(self, lines: tuple[ReservedLine, ...]) -> Shortage | None:
        self.asked.append(lines)
        return self.shortage


def given(*events: object) -> Reservation:
    return Reservation("order-1").fold(events)  # type: ignore[arg-type]


def test_a_held_reservation_past_its_time_expires_with_its_lines():
    assert given(HELD).expire(NOW) == [EXPIRED]
    assert given(HELD).expire(NOW + timedelta(hours=1)) == [EXPIRED]


def test_a_hold_still_in_time_does_not_expire():
    assert given(HELD).expire(NOW - timedelta(microseconds=1)) == []


@pytest.mark.parametrize("history", [
    (),
    (StockReservationFailed("order-1", "out of stock: SKU-1"),),
    (HELD, StockReleased("order-1", LINES, "payment declined")),
    (HELD, StockCommitted("order-1", LINES)),
    (OrderCancellationNoted("order-1", "cancelled by customer"),),
], ids=["nothing held", "failed", "released", "committed", "cancelled"])
def test_only_a_held_reservation_expires(history):
    assert given(*history).expire(NOW + timedelta(days=1)) == []


def test_expiring_twice_is_a_no_op():
    reservation = given(HELD, EXPIRED)
    assert reservation.status == ReservationStatus.EXPIRED
    assert reservation.expire(NOW + timedelta(days=1)) == []


def test_an_expired_hold_asked_again_holds_its_lines_afresh():
    stock = StockPort()
    later = NOW + timedelta(seconds=5)
    events = given(HELD, EXPIRED).reserve(LINES, now=later, hold_for=HOLD, hold=stock)
    assert events == [StockReserved("order-1", LINES, (later + HOLD).isoformat())]
    assert stock.asked == [LINES]  # its units went back to stock: they are taken again


def test_an_expired_hold_whose_stock_went_fails_saying_so():
    stock = StockPort(Shortage("SKU-2"))
    events = given(HELD, EXPIRED).reserve(LINES, now=NOW, hold_for=HOLD, hold=stock)
    assert events == [StockReservationFailed(
        "order-1", "the hold expired and could not be renewed: out of stock: SKU-2")]


def test_an_expired_hold_is_not_committed():
    with pytest.raises(ReservationNotHeld):
        given(HELD, EXPIRED).commit()


def test_a_cancellation_after_expiry_closes_the_reservation():
    reservation = given(HELD, EXPIRED)
    assert reservation.release("cancelled by customer") == [
        OrderCancellationNoted("order-1", "cancelled by customer")]
    reservation = given(HELD, EXPIRED, OrderCancellationNoted("order-1", "cancelled by customer"))
    assert reservation.reserve(LINES, now=NOW, hold_for=HOLD, hold=StockPort()) == []


def test_the_expiry_survives_a_snapshot():
    reservation = given(HELD, EXPIRED)
    copy = Reservation.restore("order-1", reservation.version, reservation.snapshot())
    assert (copy.status, copy.reason) == (ReservationStatus.EXPIRED, "hold expired")
