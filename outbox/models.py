"""The event store (append-only events), the deliveries (outbox + inbox) and the snapshot base."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

# Every correlation id is built to fit (config/middleware.py, outbox/store.py).
CORRELATION_ID_MAX_LENGTH = 64


class Event(models.Model):
    """One fact, appended once and never changed."""

    id = models.BigAutoField(primary_key=True)
    stream_type = models.CharField(max_length=64)
    stream_id = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    event_type = models.CharField(max_length=100)
    schema_version = models.PositiveSmallIntegerField(default=1)
    payload = models.JSONField()
    # correlation_id, causation_id, actor; the correlation id is also a column for filtering.
    metadata = models.JSONField(default=dict)
    correlation_id = models.CharField(max_length=CORRELATION_ID_MAX_LENGTH, blank=True,
                                      db_index=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # The optimistic-concurrency guard: two writers of one version cannot both win.
            models.UniqueConstraint(
                fields=["stream_type", "stream_id", "version"], name="event_stream_version_unique"
            )
        ]
        indexes = [models.Index(fields=["event_type", "id"], name="event_type_idx")]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.id} {self.event_type} {self.stream_type}/{self.stream_id} v{self.version}"


class ArchivedEvent(models.Model):
    """An event moved out of the store past EVENT_ARCHIVE_AFTER_DAYS (outbox/archive.py): the
    same columns, kept for audits and rebuilds that need them, out of the hot table."""

    id = models.BigIntegerField(primary_key=True)
    stream_type = models.CharField(max_length=64)
    stream_id = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    event_type = models.CharField(max_length=100)
    schema_version = models.PositiveSmallIntegerField(default=1)
    payload = models.JSONField()
    metadata = models.JSONField(default=dict)
    correlation_id = models.CharField(max_length=CORRELATION_ID_MAX_LENGTH, blank=True,
                                      db_index=True)
    recorded_at = models.DateTimeField()
    archived_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"archived #{self.id} {self.event_type}"


class Delivery(models.Model):
    """One event for one handler: the outbox row before it runs, the inbox record after."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        DEAD = "dead"

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    handler = models.CharField(max_length=100)
    queue = models.CharField(max_length=32, default="outbox")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "handler"], name="delivery_event_handler_unique"
            )
        ]
        indexes = [
            # The sweep reads only pending rows; a partial index keeps it small however
            # many deliveries are done.
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_pending_due_idx",
                condition=Q(status="pending"),
            ),
            # Dead letters by handler (and their count); a partial index, because an index on
            # (status, handler) would take a new, low-cardinality entry on every delivery.
            models.Index(
                fields=["handler"], name="delivery_dead_handler_idx", condition=Q(status="dead")
            ),
            models.Index(
                fields=["done_at"], name="delivery_done_at_idx", condition=Q(status="done")
            ),
        ]
        verbose_name_plural = "deliveries"
        # Sending dead deliveries again is an operator's decision of its own (outbox/admin.py).
        permissions = [("replay_delivery", "Can replay a dead delivery")]

    def __str__(self) -> str:
        return f"delivery #{self.id} {self.handler} ({self.status})"


class Snapshot(models.Model):
    """Base of an aggregate's one-row snapshot, written in the same transaction as its events."""

    stream_id = models.CharField(max_length=64, primary_key=True)
    version = models.PositiveIntegerField()
    state = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
