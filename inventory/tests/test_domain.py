"""The reservation and product rules, without a database: given events, when a command,
then events."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from inventory.domain import (
    InvalidProduct,
    InvalidQuantity,
    Product,
    ProductAlreadyExists,
    Reservation,
    ReservationNotHeld,
    ReservationStatus,
    Shortage,
    UnknownProduct,
)
from inventory.events import (
    GoodsReceived,
    OrderCancellationNoted,
    ProductAdded,
    ReservedLine,
    StockCommitted,
    StockReleased,
    StockReservationFailed,
    StockReserved,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HOLD = timedelta(minutes=15)
LATER = (NOW + HOLD).isoformat()
LINES = (ReservedLine("SKU-1", 2), ReservedLine("SKU-2", 1))


class StockPort:
    """Stands in for the guarded SQL: remembers what it was asked, answers as told."""

    def __init__(self, shortage: Shortage | None = None) -> None:
        self.shortage = shortage
        self.asked: list[tuple[ReservedLine, ...]] = []

    def __call__(self, lines: tuple[ReservedLine, ...]) -> Shortage | None:
        self.asked.append(lines)
        return self.shortage


def given(*events: object) -> Reservation:
    return Reservation("order-1").fold(events)  # type: ignore[arg-type]


def reserve(reservation: Reservation, lines: object = LINES, stock: StockPort | None = None,
            now: datetime = NOW) -> list[object]:
    return reservation.reserve(lines, now=now, hold_for=HOLD, hold=stock or StockPort())  # type: ignore[arg-type]


def test_a_new_reservation_holds_every_line_until_its_expiry():
    stock = StockPort()
    assert reserve(given(), stock=stock) == [StockReserved("order-1", LINES, LATER)]
    assert stock.asked == [LINES]


def test_lines_of_one_sku_are_merged_and_asked_in_sku_order():
    stock = StockPort()
    events = reserve(given(), [("SKU-2", 1), ("SKU-1", 1), ("SKU-1", 1)], stock)
    assert events == [StockReserved("order-1", LINES, LATER)]
    assert stock.asked == [LINES]


def test_order_lines_and_mappings_are_accepted_as_lines():
    events = reserve(given(), [{"sku": "SKU-2", "quantity": 1}, ReservedLine("SKU-1", 2)])
    assert events == [StockReserved("order-1", LINES, LATER)]


def test_a_short_line_fails_the_reservation_with_a_reason_a_customer_reads():
    events = reserve(given(), stock=StockPort(Shortage("SKU-7")))
    assert events == [StockReservationFailed("order-1", "out of stock: SKU-7")]


def test_an_unknown_sku_fails_the_reservation_naming_the_product():
    events = reserve(given(), stock=StockPort(Shortage("NOPE", unknown=True)))
    assert events == [StockReservationFailed("order-1", "unknown product: NOPE")]


@pytest.mark.parametrize("lines", [[], [("SKU-1", 0)], [("SKU-1", -3)], [("SKU-1", True)],
                                   [("SKU-1", 1.5)], [("", 1)]])
def test_lines_no_one_can_hold_fail_without_touching_stock(lines):
    stock = StockPort()
    [failed] = reserve(given(), lines, stock)
    assert isinstance(failed, StockReservationFailed)
    assert stock.asked == []


def test_a_reservation_that_exists_is_not_reserved_again():
    stock = StockPort()
    assert reserve(given(StockReserved("order-1", LINES, LATER)), stock=stock) == []
    assert reserve(given(StockReservationFailed("order-1", "out of stock: SKU-1")),
                   stock=stock) == []
    assert stock.asked == []


def test_an_expired_hold_asked_again_is_renewed_without_holding_more():
    stock = StockPort()
    reservation = given(StockReserved("order-1", LINES, NOW.isoformat()))
    later = NOW + timedelta(seconds=1)
    assert reserve(reservation, stock=stock, now=later) == [
        StockReserved("order-1", LINES, (later + HOLD).isoformat())
    ]
    assert stock.asked == []


def test_a_cancelled_order_never_holds_stock():
    stock = StockPort()
    reservation = given(OrderCancellationNoted("order-1", "cancelled by customer"))
    assert reserve(reservation, stock=stock) == []
    assert stock.asked == []


def test_release_of_a_hold_names_the_lines_and_the_reason():
    reservation = given(StockReserved("order-1", LINES, LATER))
    assert reservation.release("payment declined") == [
        StockReleased("order-1", LINES, "payment declined")
    ]


def test_releasing_twice_is_a_no_op():
    reservation = given(StockReserved("order-1", LINES, LATER),
                        StockReleased("order-1", LINES, "payment declined"))
    assert reservation.release("cancelled by customer") == []


def test_a_release_before_any_hold_notes_the_cancellation():
    reservation = given()
    assert reservation.release("cancelled by customer") == [
        OrderCancellationNoted("order-1", "cancelled by customer")
    ]
    reservation.fold(reservation.release("cancelled by customer"))
    assert reservation.status == ReservationStatus.CANCELLED
    assert reservation.release("cancelled by customer") == []


def test_a_failed_or_committed_reservation_has_nothing_to_release():
    assert given(StockReservationFailed("order-1", "out of stock: SKU-1")).release("x") == []
    assert given(StockReserved("order-1", LINES, LATER),
                 StockCommitted("order-1", LINES)).release("x") == []


def test_commit_takes_the_held_lines_once():
    reservation = given(StockReserved("order-1", LINES, LATER))
    assert reservation.commit() == [StockCommitted("order-1", LINES)]
    reservation.fold(reservation.commit())
    assert reservation.commit() == []


@pytest.mark.parametrize("history", [
    (),
    (StockReservationFailed("order-1", "out of stock: SKU-1"),),
    (StockReserved("order-1", LINES, LATER), StockReleased("order-1", LINES, "declined")),
    (OrderCancellationNoted("order-1", "cancelled by customer"),),
])
def test_commit_without_a_hold_is_refused(history):
    with pytest.raises(ReservationNotHeld):
        given(*history).commit()


def test_a_reservation_survives_its_snapshot():
    reservation = given(StockReserved("order-1", LINES, LATER))
    copy = Reservation.restore("order-1", reservation.version, reservation.snapshot())
    assert (copy.status, copy.lines, copy.expires_at, copy.version) == (
        ReservationStatus.HELD, LINES, LATER, 1)
    assert copy.is_expired(NOW + HOLD) and not copy.is_expired(NOW)


def test_a_product_is_added_once_with_a_price_in_cents():
    product = Product("SKU-1")
    assert product.add(" Widget ", Decimal("12.5")) == [
        ProductAdded("SKU-1", "Widget", Decimal("12.50"))
    ]
    product.fold(product.add("Widget", Decimal("12.5")))
    with pytest.raises(ProductAlreadyExists):
        product.add("Widget", Decimal("12.50"))


@pytest.mark.parametrize("sku,name,price", [
    ("SKU-1", "", Decimal("1")),
    ("SKU-1", "Widget", Decimal("0")),
    ("SKU-1", "Widget", Decimal("-1")),
    ("SKU-1", "Widget", Decimal("1.005")),
    ("SKU-1", "Widget", Decimal("NaN")),
    ("SKU-1", "Widget", Decimal("1e12")),
    ("SKU 1", "Widget", Decimal("1")),
    ("x" * 65, "Widget", Decimal("1")),
])
def test_a_product_needs_a_sku_a_name_and_a_positive_price(sku, name, price):
    with pytest.raises(InvalidProduct):
        Product(sku).add(name, price)


def test_goods_are_received_for_a_known_product_only():
    with pytest.raises(UnknownProduct):
        Product("SKU-9").receive(5)
    product = Product("SKU-1").fold([ProductAdded("SKU-1", "Widget", Decimal("1.00"))])
    assert product.receive(5) == [GoodsReceived("SKU-1", 5)]


@pytest.mark.parametrize("quantity", [0, -1, 1_000_001, True, 2.0, "5", None])
def test_a_receipt_needs_a_sane_whole_quantity(quantity):
    product = Product("SKU-1").fold([ProductAdded("SKU-1", "Widget", Decimal("1.00"))])
    with pytest.raises(InvalidQuantity):
        product.receive(quantity)
