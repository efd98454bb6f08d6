"""Inventory's tables: the aggregates' snapshots, the catalogue, the stock and the reservations.

The catalogue, stock and reservation rows are read models, written by inventory.projections and
rebuildable from the event store. The stock row is also the semantic lock: the reservation's
guarded updates (inventory.stock) hold, release and commit its units with their events.
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from outbox.models import Snapshot


class ProductSnapshot(Snapshot):
    """Latest state of a `domain.Product` aggregate, written with its events."""


class ReservationSnapshot(Snapshot):
    """Latest state of a `domain.Reservation` aggregate, written with its events."""


class Product(models.Model):
    """The catalogue: one row per ProductAdded."""

    sku = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sku"]
        # Adding a product is `add_product`; receiving goods, a permission of its own.
        permissions = [("receive_goods", "Can receive goods into stock")]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class Stock(models.Model):
    """Units of one product: on hand in the warehouse, and held by reservations.

    Moved only by commutative, guarded updates (inventory/stock.py), never absolute writes;
    the constraint is the last line of defence of `0 <= held <= on_hand`.
    """

    sku = models.OneToOneField(
        Product, primary_key=True, on_delete=models.CASCADE, related_name="stock", db_column="sku"
    )
    on_hand = models.PositiveBigIntegerField(default=0)
    held = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(held__lte=F("on_hand")), name="stock_held_le_on_hand"
            )
        ]
        verbose_name_plural = "stock"

    def __str__(self) -> str:
        return f"{self.sku_id}: {self.on_hand} on hand, {self.held} held"

    @property
    def available(self) -> int:
        return self.on_hand - self.held


class Reservation(models.Model):
    """One order's reservation as an operator (or the reconciler) reads it."""

    class Status(models.TextChoices):
        HELD = "held"
        FAILED = "failed"
        RELEASED = "released"
        EXPIRED = "expired"  # the hold outlived its time (inventory.services.expire_holds)
        COMMITTED = "committed"
        CANCELLED = "cancelled"  # the order was cancelled before anything was held

    order_id = models.CharField(max_length=64, primary_key=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    lines = models.JSONField(default=list)  # [{"sku": ..., "quantity": ...}]
    expires_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["status", "expires_at"], name="reservation_status_expiry")]
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"reservation of {self.order_id} ({self.status})"
