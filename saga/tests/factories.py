"""Appending an order's saga events by hand, the way the contexts would, for projection tests."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib.auth.models import User

from inventory.events import (
    ReservationExpired,
    ReservedLine,
    StockCommitted,
    StockReleased,
    StockReserved,
)
from orders.events import (
    ConfirmationEmailSent,
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    ShippingAddress,
)
from outbox.contracts import DomainEvent
from payments.events import PaymentCaptured, PaymentDeclined, PaymentRefunded
from shipping.events import ShipmentBooked, ShipmentCancelled
from tests.support.delivery import publish

ADDRESS = ShippingAddress(name="Ada", line1="1 Way", city="London", postal_code="N1",
                          country="GB")


class OrderHistory:
    """One order's streams; `record(event)` appends to the right one (no broker involved)."""

    def __init__(self, total: Decimal = Decimal("25.00"), order_id: str | None = None,
                 customer: User | None = None) -> None:
        self.order_id = order_id or str(uuid.uuid4())
        self.total = total
        self.customer = customer or User.objects.get_or_create(
            username="saga-customer", defaults={"email": "customer@example.com"})[0]

    def record(self, *events: DomainEvent) -> None:
        publish(*events)

    # The facts, named as the contexts announce them.
    def placed(self) -> OrderPlaced:
        line = OrderLine(sku="SKU-1", quantity=2, unit_price=self.total / 2)
        return OrderPlaced(order_id=self.order_id, customer_id=str(self.customer.pk), lines=(line,),
                           total=self.total, shipping_address=ADDRESS, payment_token="tok_ok")

    def reserved(self) -> StockReserved:
        return StockReserved(order_id=self.order_id, lines=(ReservedLine("SKU-1", 2),),
                             expires_at="2099-01-01T00:00:00+00:00")

    def captured(self, amount: Decimal | None = None) -> PaymentCaptured:
        return PaymentCaptured(order_id=self.order_id, amount=amount or self.total,
                               charge_id=f"ch_{uuid.uuid4().hex[:8]}")

    def booked(self) -> ShipmentBooked:
        return ShipmentBooked(order_id=self.order_id, shipment_id="sh_1", tracking_code="T1")

    def confirmed(self) -> OrderConfirmed:
        return OrderConfirmed(order_id=self.order_id)

    def committed(self) -> StockCommitted:
        return StockCommitted(order_id=self.order_id, lines=(ReservedLine("SKU-1", 2),))

    def emailed(self) -> ConfirmationEmailSent:
        return ConfirmationEmailSent(order_id=self.order_id, to="ada@example.com")

    def declined(self) -> PaymentDeclined:
        return PaymentDeclined(order_id=self.order_id, reason="payment declined")

    def released(self, reason: str = "payment declined") -> StockReleased:
        return StockReleased(order_id=self.order_id, lines=(ReservedLine("SKU-1", 2),),
                             reason=reason)

    def expired(self) -> ReservationExpired:
        return ReservationExpired(order_id=self.order_id, lines=(ReservedLine("SKU-1", 2),),
                                  expires_at="2030-01-01T00:00:00+00:00", reason="hold expired")

    def cancelled(self, reason: str = "payment declined") -> OrderCancelled:
        return OrderCancelled(order_id=self.order_id, reason=reason, requested_by="saga")

    def refunded(self, amount: Decimal | None = None, compensation: bool = False
                 ) -> PaymentRefunded:
        return PaymentRefunded(order_id=self.order_id, amount=amount or self.total,
                               refund_id=f"re_{uuid.uuid4().hex[:8]}", reason="cancelled",
                               compensation=compensation)

    def shipment_cancelled(self) -> ShipmentCancelled:
        return ShipmentCancelled(order_id=self.order_id, shipment_id="sh_1", reason="cancelled")

    def fulfilled(self) -> OrderHistory:
        self.record(self.placed(), self.reserved(), self.captured(), self.booked(),
                    self.confirmed(), self.committed(), self.emailed())
        return self
