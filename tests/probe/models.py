from django.db import models


class Effect(models.Model):
    """How many times the probe handler's work was committed for a key."""

    key = models.CharField(max_length=100, unique=True)
    count = models.PositiveIntegerField(default=0)


class Breakage(models.Model):
    """While a row exists for a key, the probe handler fails for it."""

    key = models.CharField(max_length=100, unique=True)
    permanent = models.BooleanField(default=False)
