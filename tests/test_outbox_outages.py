"""A delivery whose handler raised `RetryLater` (a provider outage) is retried with a capped
backoff and is not dead-lettered by the attempt limit before its deadline; after it, the
failure counts like any other."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from outbox import claims
from outbox.delivery import DeliveryResult, record_failure
from outbox.models import Delivery
from outbox.outages import OUTAGE_MARK, RetryLater
from tests.probe.pings import OUTBOX_TEST_APPS, unsent_ping

db = pytest.mark.django_db(transaction=True, available_apps=OUTBOX_TEST_APPS)


@db
def test_an_outage_is_waited_out_past_the_attempt_limit_until_its_deadline(settings, broker):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    settings.OUTBOX_BACKOFF_CAP_SECONDS = 300
    settings.OUTBOX_RETRY_LATER_CAP_SECONDS = 1
    delivery = unsent_ping("k")
    Delivery.objects.filter(id=delivery.id).update(attempts=5)  # far past the limit
    deadline = timezone.now() + timedelta(minutes=5)

    outcome = record_failure(delivery.id, RetryLater("gateway down", until=deadline))

    delivery.refresh_from_db()
    assert (outcome, delivery.status) == (DeliveryResult.RETRY, "pending")
    assert delivery.last_error.startswith(OUTAGE_MARK)
    assert delivery.next_attempt_at <= timezone.now() + timedelta(seconds=1), "capped backoff"
    # The next attempt is charged (counted, leased), not made dead by the limit.
    charge = claims.charge([(delivery.id, None)], alone=True)
    assert charge.charged == {delivery.id: 6} and not charge.dead

    # Past the deadline the failure counts like any other: out of attempts, dead.
    Delivery.objects.filter(id=delivery.id).update(last_error="")
    late = RetryLater("gateway down", until=timezone.now() - timedelta(seconds=1))
    assert record_failure(delivery.id, late) == DeliveryResult.DEAD
