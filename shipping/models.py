"""Shipping's tables: the shipment's snapshot and read model, and the simulated carrier's ledger.

`CarrierLedgerEntry` is the carrier's own record, written only through the database alias
"providers" (a connection of its own): like a real carrier's, it keeps a booking even when our
transaction rolls back.
"""

from django.db import models
from django.utils import timezone

from outbox.models import Snapshot


class ShipmentSnapshot(Snapshot):
    """Latest state of a `domain.Shipment` aggregate, written with its events."""


class Shipment(models.Model):
    """One order's shipment as an operator reads it (a read model, rebuildable from events)."""

    class Status(models.TextChoices):
        NONE = "none", "not booked"
        BOOKED = "booked"
        FAILED = "failed"
        CANCELLED = "cancelled"

    order_id = models.CharField(max_length=64, primary_key=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    address = models.JSONField(null=True, blank=True)
    charge_id = models.CharField(max_length=64, blank=True)
    shipment_id = models.CharField(max_length=64, blank=True)
    tracking_code = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"shipment of {self.order_id} ({self.status})"


class CarrierLedgerEntry(models.Model):
    """A booking the simulated carrier made: one per idempotency key."""

    class Status(models.TextChoices):
        BOOKED = "booked"
        CANCELLED = "cancelled"

    idempotency_key = models.CharField(max_length=120, unique=True)
    shipment_id = models.CharField(max_length=40, unique=True)
    tracking_code = models.CharField(max_length=40)
    # The merchant's reference, as a real carrier keeps it on the booking.
    order_id = models.CharField(max_length=64, blank=True, db_index=True)
    address = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    booked_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "carrier ledger"

    def __str__(self) -> str:
        return f"{self.shipment_id} ({self.status}) for order {self.order_id}"
