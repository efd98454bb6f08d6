from django.db import models

from outbox.models import Snapshot


class Effect(models.Model):
    """How many times the probe handler's work was committed for a key."""

    key = models.CharField(max_length=100, unique=True)
    count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"


class Breakage(models.Model):
    """While a row exists for a key, the probe handler fails for it."""

    key = models.CharField(max_length=100, unique=True)
    permanent = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.key} broken {'for good' if self.permanent else 'for now'}"


class CounterSnapshot(Snapshot):
    """The probe counter's one-row snapshot."""
