"""Unit tests of the delivery rules, run in this process (no worker): backoff, stale copies,
retries sent by the sweep, permanent errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from outbox import relay
from outbox.delivery import DeliveryResult, backoff, run_batch, run_delivery
from outbox.models import Delivery
from tests.probe.models import Breakage
from tests.probe.pings import OUTBOX_TEST_APPS, effect_count, unsent_ping

db = pytest.mark.django_db(transaction=True, available_apps=OUTBOX_TEST_APPS)


def test_each_backoff_is_drawn_under_a_doubling_cap_up_to_the_limit(settings):
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 0.5
    settings.OUTBOX_BACKOFF_CAP_SECONDS = 30
    caps = {1: 0.5, 2: 1, 3: 2, 4: 4, 5: 8, 6: 16, 7: 30, 8: 30, 20: 30}
    for attempt, cap in caps.items():
        draws = [backoff(attempt) for _ in range(500)]
        assert all(0 <= d <= cap for d in draws), attempt
        # Full jitter: spread over the whole range, not bunched at the cap.
        assert min(draws) < cap * 0.2 and max(draws) > cap * 0.8, attempt


@db
def test_a_failed_attempt_is_rolled_back_and_its_retry_scheduled_within_the_cap(settings, broker):
    settings.OUTBOX_BACKOFF_BASE_SECONDS = 0.5
    Breakage.objects.create(key="k")
    delivery = unsent_ping("k")
    before = timezone.now()

    assert run_delivery(delivery.id, 0) == DeliveryResult.RETRY

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "probe k is broken" in delivery.last_error
    assert before <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=0.5)
    assert effect_count("k") == 0
    assert broker.llen("outbox") == 1, "the retry rides a delayed message"


@db
def test_a_stale_copy_of_a_message_is_skipped_so_the_backoff_holds(broker):
    Breakage.objects.create(key="k")
    delivery = unsent_ping("k")
    assert run_delivery(delivery.id, 0) == DeliveryResult.RETRY
    Breakage.objects.all().delete()

    # A duplicate of the first message (sent for attempt 0) arrives before the retry is due.
    assert run_delivery(delivery.id, 0) == DeliveryResult.SKIPPED
    assert effect_count("k") == 0
    # The retry's own message (sent for attempt 1) runs it.
    assert run_delivery(delivery.id, 1) == DeliveryResult.DONE
    assert effect_count("k") == 1


@db
def test_a_retry_that_only_the_sweep_sends_still_runs(broker):
    """The retry's delayed message is lost (say, Redis was flushed): the sweep's claim moves
    next_attempt_at forward by its lease, and its message must still run the delivery."""
    Breakage.objects.create(key="k")
    delivery = unsent_ping("k")
    assert run_delivery(delivery.id, 0) == DeliveryResult.RETRY
    Breakage.objects.all().delete()
    broker.flushdb()
    Delivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())

    [(claimed_id, _queue, attempts)] = relay.claim_due(10)

    assert claimed_id == delivery.id
    assert run_batch([claimed_id], [attempts])[DeliveryResult.DONE] == 1
    assert effect_count("k") == 1


@db
def test_a_delivery_runs_once_however_many_times_it_is_sent(broker):
    delivery = unsent_ping("k")

    outcomes = [run_delivery(delivery.id, 0), run_delivery(delivery.id, 0),
                run_delivery(delivery.id)]

    assert outcomes == [DeliveryResult.DONE, DeliveryResult.SKIPPED, DeliveryResult.SKIPPED]
    assert effect_count("k") == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("done", 1)
    assert delivery.done_at is not None


@db
def test_a_permanent_error_is_dead_at_once_and_exhausted_attempts_are_dead_too(settings, broker):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    Breakage.objects.create(key="never", permanent=True)
    Breakage.objects.create(key="flaky")
    never, flaky = unsent_ping("never"), unsent_ping("flaky")

    assert run_delivery(never.id, 0) == DeliveryResult.DEAD
    assert [run_delivery(flaky.id, 0), run_delivery(flaky.id, 1)] == [DeliveryResult.RETRY,
                                                                      DeliveryResult.DEAD]

    never.refresh_from_db()
    flaky.refresh_from_db()
    assert (never.status, never.attempts) == ("dead", 1)
    assert "refuses for good" in never.last_error
    assert (flaky.status, flaky.attempts) == ("dead", 2)
    # A dead delivery is not run again by a late copy.
    Breakage.objects.all().delete()
    assert run_delivery(flaky.id) == DeliveryResult.SKIPPED
    assert effect_count("flaky") == 0
