"""Making the probe's events happen, and reading what its handler did."""

from __future__ import annotations

from django.db import transaction

from outbox import relay, store
from outbox.models import Delivery
from tests.probe.events import Pinged
from tests.probe.models import Effect


def ping(key: str, **fields: object) -> Delivery:
    """Append one `Pinged` on a stream of its own, committed; returns its delivery."""
    with transaction.atomic():
        [row] = store.append("probe", key, 0, [Pinged(key=key, **fields)])  # type: ignore[arg-type]
    return Delivery.objects.get(event=row)


def unsent_ping(key: str, **fields: object) -> Delivery:
    """The same, left to the sweep: nothing is sent to the broker (a test runs it here)."""
    with relay.suppressed():
        return ping(key, **fields)


def effect_count(key: str) -> int:
    """How many times the probe handler's work for `key` was committed."""
    effect = Effect.objects.filter(key=key).first()
    return effect.count if effect else 0


# The apps whose tables the outbox tests write: a test database flush (after each
# transactional test) then truncates only these, which keeps the suite fast.
OUTBOX_TEST_APPS = ["outbox", "tests.probe"]
