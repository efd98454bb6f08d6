"""The payment's snapshot row, and the simulated provider's own records.

The provider's tables (`GatewayLedgerEntry`, `GatewayCall`) are written only through the
database alias "providers", a connection of their own: like a real provider's books, they keep
what happened even when our transaction rolls back.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from outbox.models import Snapshot


class PaymentSnapshot(Snapshot):
    """The Payment aggregate's latest state (see payments.domain.Payment.snapshot)."""

    class Meta:
        verbose_name = "payment"

    def __str__(self) -> str:
        return f"payment of order {self.stream_id} ({self.state.get('status', '?')})"


class GatewayLedgerEntry(models.Model):
    """Money the simulated provider moved: a charge, or a refund of one charge."""

    class Kind(models.TextChoices):
        CHARGE = "charge"
        REFUND = "refund"

    id = models.BigAutoField(primary_key=True)
    entry_id = models.CharField(max_length=40, unique=True)  # ch_... or re_...
    kind = models.CharField(max_length=8, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=120)
    # The merchant's reference, as a real provider keeps it in the charge's metadata.
    order_id = models.CharField(max_length=64, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    token = models.CharField(max_length=64, blank=True)
    refunded_charge_id = models.CharField(max_length=40, blank=True)  # refunds only
    # Set on the second row of a charge the provider recorded twice (the `duplicate` fault).
    duplicate_of = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One answer per idempotency key, the way providers make retries safe; only the
            # simulated duplicate fault writes a second row, marked as such.
            models.UniqueConstraint(
                fields=["kind", "idempotency_key"],
                condition=Q(duplicate_of=""),
                name="gateway_ledger_key_unique",
            )
        ]
        indexes = [models.Index(fields=["idempotency_key"], name="gateway_ledger_key_idx")]
        verbose_name_plural = "gateway ledger"

    def __str__(self) -> str:
        return f"{self.kind} {self.entry_id} {self.amount} for order {self.order_id}"


class GatewayCall(models.Model):
    """Every request the simulated provider answered, with its outcome (its request log).

    It is how the provider counts attempts per idempotency key (`tok_flaky`) and replays a
    decline for a key it has declined before.
    """

    class Operation(models.TextChoices):
        CHARGE = "charge"
        REFUND = "refund"

    class Answer(models.TextChoices):
        """What the provider answered to one call."""

        SUCCEEDED = "succeeded"
        REPLAYED = "replayed"  # the key was seen before: the first answer again
        DECLINED = "declined"
        ERROR = "error"  # transient: nothing happened
        LOST_RESPONSE = "lost_response"  # it happened, but the caller never heard
        REJECTED = "rejected"  # a bad request (key reused for another amount, over-refund)

    id = models.BigAutoField(primary_key=True)
    operation = models.CharField(max_length=8, choices=Operation.choices)
    idempotency_key = models.CharField(max_length=120, db_index=True)
    outcome = models.CharField(max_length=16, choices=Answer.choices)
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.operation} {self.idempotency_key}: {self.outcome}"
