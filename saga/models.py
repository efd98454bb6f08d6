"""The coordination state of every order's saga, the reconciler's log, and convergence samples."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from saga.desired import DesiredOutcome, Observed, Shipment, Stock

ZERO = Decimal("0.00")


class OrderSaga(models.Model):
    """One row per order: a projection of the order's events (rebuildable from them), plus the
    reconciler's bookkeeping (next check, backoff, attention)."""

    class State(models.TextChoices):
        RUNNING = "running"
        COMPENSATING = "compensating"
        CONVERGED = "converged"
        NEEDS_ATTENTION = "needs_attention"

    order_id = models.CharField(max_length=64, primary_key=True)
    customer_id = models.CharField(max_length=64, blank=True, db_index=True)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    # Facts folded from the events.
    order_status = models.CharField(max_length=16, default="pending")
    reason = models.CharField(max_length=255, blank=True)  # why it is going back, if it is
    step_failed = models.BooleanField(default=False)
    stock = models.CharField(max_length=16, default=Stock.NONE)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    charged = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    refunded = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    net = models.DecimalField(max_digits=12, decimal_places=2, default=ZERO)
    captures = models.PositiveIntegerField(default=0)
    shipment = models.CharField(max_length=16, default=Shipment.NONE)
    email_sent = models.BooleanField(default=False)
    # Derived from the facts by saga.desired and saga.steps.
    desired_outcome = models.CharField(max_length=16, default=DesiredOutcome.FULFILLED)
    gap = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    current_step = models.CharField(max_length=32, blank=True)
    step_started_at = models.DateTimeField(null=True, blank=True)
    step_deadline = models.DateTimeField(null=True, blank=True)
    last_event_id = models.BigIntegerField(null=True, blank=True)
    last_event_type = models.CharField(max_length=100, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    converged_at = models.DateTimeField(null=True, blank=True)
    # The reconciler's bookkeeping.
    attention_reason = models.TextField(blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    checks = models.PositiveIntegerField(default=0)  # passes since the saga last moved
    step_retries = models.PositiveSmallIntegerField(default=0)
    observed_gap = models.PositiveSmallIntegerField(null=True, blank=True)
    commands_issued = models.PositiveIntegerField(default=0)  # version of its command stream
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The reconciler reads only sagas that are not converged and are due: the index
            # holds just those rows, so a pass costs in proportion to the drift.
            models.Index(fields=["next_check_at"], name="saga_due_idx",
                         condition=~Q(state="converged")),
            models.Index(fields=["state"], name="saga_state_idx"),
            # The verification sweep re-checks converged sagas, never-verified ones first.
            models.Index(F("verified_at").asc(nulls_first=True), name="saga_verify_idx",
                         condition=Q(state="converged")),
            models.Index(fields=["started_at"], name="saga_started_idx"),
        ]
        permissions = [
            ("reconcile_saga", "Can reconcile a saga now"),
            ("replay_saga_deliveries", "Can replay a saga's dead deliveries"),
            ("cancel_saga_order", "Can cancel an order before the pivot"),
            ("operate_saga", "Can acknowledge a saga, retry its step or propose a correction"),
        ]

    def __str__(self) -> str:
        return f"saga {self.order_id} ({self.state}, gap {self.gap})"

    def observed(self) -> Observed:
        """The facts as the events tell them."""
        return Observed(
            order_status=self.order_status, total=self.total, stock=self.stock,
            charged=self.charged, refunded=self.refunded, shipment=self.shipment,
            live_shipments=1 if self.shipment == Shipment.BOOKED else 0,
            step_failed=self.step_failed,
        )


class ReconciliationAction(models.Model):
    """One thing the reconciler (or an operator) did or proposes to do, with its evidence."""

    class Status(models.TextChoices):
        PROPOSED = "proposed"
        APPLIED = "applied"
        REJECTED = "rejected"
        STALE = "stale"  # refused at approval: the saga no longer needs it as proposed

    saga = models.ForeignKey(OrderSaga, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=40)
    # What the action is about within its saga (a charge id, a step), so a pass does not
    # propose the same correction twice.
    subject = models.CharField(max_length=100, blank=True)
    reason = models.TextField()
    # {"observed": {...}, "desired": {...}} and whatever else was looked at.
    evidence = models.JSONField(default=dict)
    causing_event_ids = models.JSONField(default=list)
    actor = models.CharField(max_length=150, default="reconciler")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.APPLIED)
    # The command to append once approved (for a proposed action), and the event it became.
    command = models.JSONField(null=True, blank=True)
    command_event_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    # Moves money (a refund, or a charge): whoever proposed it may not approve it.
    moves_money = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["kind", "status"], name="saga_action_kind_idx"),
            models.Index(fields=["status"], name="saga_action_proposed_idx",
                         condition=Q(status="proposed")),
        ]
        permissions = [("decide_correction", "Can approve or reject a proposed correction")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.saga_id} ({self.status})"


class ArchivedAction(models.Model):
    """A decided reconciliation action older than RECONCILIATION_ACTIONS_KEEP_DAYS, moved out
    of the working table (saga/retention.py): the audit trail stays, the admin's lists and the
    reconciler's look-ups stay small."""

    id = models.BigIntegerField(primary_key=True)
    saga_id = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=40)
    subject = models.CharField(max_length=100, blank=True)
    reason = models.TextField()
    evidence = models.JSONField(default=dict)
    causing_event_ids = models.JSONField(default=list)
    actor = models.CharField(max_length=150)
    status = models.CharField(max_length=10)
    command = models.JSONField(null=True, blank=True)
    command_event_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"archived {self.kind} on {self.saga_id} ({self.status})"


class ConvergenceSample(models.Model):
    """Sagas by state and the total gap at one moment (written every 10 s by beat)."""

    taken_at = models.DateTimeField(default=timezone.now, db_index=True)
    running = models.PositiveIntegerField(default=0)
    compensating = models.PositiveIntegerField(default=0)
    converged = models.PositiveIntegerField(default=0)
    needs_attention = models.PositiveIntegerField(default=0)
    total_gap = models.PositiveIntegerField(default=0)
    oldest_in_flight_seconds = models.FloatField(default=0)
    dead_deliveries = models.PositiveIntegerField(default=0)
    outbox_pending = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"sample at {self.taken_at:%Y-%m-%d %H:%M}"


class ReconcilerStats(models.Model):
    """One row of cumulative figures about reconciler passes (read by /metrics)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    passes = models.PositiveBigIntegerField(default=0)
    seconds_total = models.FloatField(default=0)
    last_seconds = models.FloatField(default=0)
    last_examined = models.PositiveIntegerField(default=0)
    last_pass_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "reconciler stats"

    def __str__(self) -> str:
        return f"{self.passes} reconciler passes"


class ScrapeFigures(models.Model):
    """The aggregates `/metrics` shows, in one row that beat refreshes (`saga.refresh_metrics`),
    so an unauthenticated scrape reads two small rows instead of counting whole tables."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    refreshed_at = models.DateTimeField()
    figures = models.JSONField(default=dict)

    class Meta:
        verbose_name_plural = "scrape figures"

    def __str__(self) -> str:
        return f"metrics figures of {self.refreshed_at:%Y-%m-%d %H:%M:%S}"
