"""The order's snapshot row and the orders context's read models."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from orders.domain import OrderStatus
from outbox.models import Snapshot


class OrderSnapshot(Snapshot):
    """The Order aggregate's latest state, written in the same transaction as its events."""


class OrderView(models.Model):
    """What the API reads (CQRS): one row per order, projected from the order's events in the
    transaction that appends them, so a customer reads their own write."""

    Status = models.TextChoices("Status", [(s.value, s.value) for s in OrderStatus])

    id = models.CharField(max_length=36, primary_key=True)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    reason = models.CharField(max_length=500, blank=True)
    # [{"sku", "quantity", "unit_price", "line_total"}], money as two-place decimal strings
    lines = models.JSONField()
    total = models.DecimalField(max_digits=14, decimal_places=2)
    shipping_address = models.JSONField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="orderview_customer_idx"),
            models.Index(fields=["status", "-created_at"], name="orderview_status_idx"),
        ]
        verbose_name = "order"
        # Cancelling from the admin runs the compensations: a permission of its own.
        permissions = [
            ("cancel_order", "Can cancel a pending order"),
            # Staff alone see their own orders only: reading every customer's orders and
            # addresses is the "customer data" job (accounts' groups).
            ("view_all_orders", "Can view every customer's orders and addresses"),
        ]

    def __str__(self) -> str:
        return f"order {self.id} ({self.status})"


class CatalogueEntry(models.Model):
    """The orders side's price list, fed by inventory's `ProductAdded` in the same transaction:
    placement prices its lines from here without importing inventory."""

    sku = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["sku"]
        verbose_name_plural = "catalogue entries"

    def __str__(self) -> str:
        return f"{self.sku} {self.name} @ {self.price}"


class IdempotencyKey(models.Model):
    """The first answer to a placement sent with an `Idempotency-Key`, per customer.

    Only answers that placed an order are remembered (a refused request is not), and the row
    is written in the placement's transaction, so the unique constraint decides a race between
    two requests carrying one key: the loser rolls back and replays the winner's answer.
    """

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(encoder=DjangoJSONEncoder)
    location = models.CharField(max_length=500, blank=True)
    order_id = models.CharField(max_length=36)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "key"], name="idempotency_customer_key")
        ]

    def __str__(self) -> str:
        return f"{self.key} → order {self.order_id}"


class ConfirmationEmailDispatch(models.Model):
    """An order's confirmation e-mail handed to the mail backend. Written through the
    "providers" connection just before the send, so it outlives a rollback of the delivery's
    transaction: when the commit fails after the mail went out (the database connection lost,
    the worker killed), the retry finds it and does not send a second e-mail. A send that
    failed ambiguously (a timeout after the server may have accepted the mail) is kept as
    "unknown" for an operator to look at: never sent again blindly."""

    class Outcome(models.TextChoices):
        HANDED_OVER = "handed_over", "handed over (sending)"
        SENT = "sent", "sent"
        UNKNOWN = "unknown", "unknown (the send failed after the server may have accepted it)"

    order_id = models.CharField(max_length=36, primary_key=True)
    handed_over_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16, choices=Outcome.choices,
                               default=Outcome.HANDED_OVER)
    failure = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"confirmation e-mail of order {self.order_id}"
