"""Deliveries through a real Celery worker and beat: lost sends and a flushed broker are
recovered by the sweep, failures back off and go dead, replay brings them back."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

import pytest
from django.db import transaction

from outbox import deadletters, relay, store
from outbox.models import Delivery
from tests.conftest import Proc, wait_for
from tests.probe.events import Pinged
from tests.probe.models import Breakage
from tests.probe.pings import OUTBOX_TEST_APPS, effect_count, ping
from tests.probe.workers import is_being_handled

pytestmark = [
    pytest.mark.django_db(transaction=True, available_apps=OUTBOX_TEST_APPS),
    pytest.mark.e2e,
]

QUEUE = "outbox"
MAX_ATTEMPTS = 4
BACKOFF_BASE = 0.2
BACKOFF_CAP = 1.0


@pytest.fixture(scope="module")
def system(process_env: dict[str, str]) -> Iterator[Proc]:
    """One worker process (so a retry that blocked it would block everything) and beat
    (sweeping every second), shared by the tests of this module."""
    env = {**process_env, "OUTBOX_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
           "OUTBOX_BACKOFF_BASE_SECONDS": str(BACKOFF_BASE),
           "OUTBOX_BACKOFF_CAP_SECONDS": str(BACKOFF_CAP)}
    worker = Proc([sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork",
                   "-c", "1", "-n", "delivery-tests@%h", "-Q", f"{QUEUE},maintenance",
                   "--without-gossip",
                   "--without-mingle", "--without-heartbeat", "-l", "INFO"], env, "worker",
                  ready="ready.")
    beat = Proc([sys.executable, "-m", "celery", "-A", "config", "beat", "-S",
                 "django_celery_beat.schedulers:DatabaseScheduler", "--max-interval", "1",
                 "-s", f"{worker.log}.beat-schedule", "-l", "INFO"], env, "beat",
                ready="beat: Starting")
    yield worker
    beat.stop()
    worker.stop()


def done(*deliveries: Delivery) -> bool:
    ids = [d.id for d in deliveries]
    return Delivery.objects.filter(id__in=ids, status="done").count() == len(ids)


def test_a_delivery_committed_but_never_sent_is_delivered_by_the_sweep(system, broker):
    with transaction.atomic(), relay.suppressed():  # the process "dies" before the send
        [row] = store.append("probe", "lost", 0, [Pinged(key="lost")])
    delivery = Delivery.objects.get(event=row)
    assert broker.llen(QUEUE) == 0, "no message may exist: only the sweep can deliver it"

    wait_for(lambda: done(delivery), message="the sweep to deliver it")

    delivery.refresh_from_db()
    assert effect_count("lost") == 1
    assert delivery.attempts == 1


def test_every_queued_delivery_completes_after_the_broker_is_flushed(system, broker):
    busy = ping("busy", sleep=1.0)  # holds the only worker process...
    wait_for(lambda: is_being_handled(busy.id), message="the worker to start the slow ping")
    queued = [ping(f"queued-{i}") for i in range(10)]  # ...so these wait in Redis
    assert broker.llen(QUEUE) >= 9

    broker.flushdb()
    assert broker.llen(QUEUE) == 0

    wait_for(lambda: done(busy, *queued), message="every delivery to complete")
    assert [effect_count(f"queued-{i}") for i in range(10)] == [1] * 10
    assert effect_count("busy") == 1


def _retry_delays(log: str, delivery_id: int) -> list[tuple[int, float]]:
    pattern = (rf"delivery {delivery_id} to probe\.record_ping failed "
               r"\(attempt (\d+)\), retry in ([\d.]+)s")
    return [(int(a), float(s)) for a, s in re.findall(pattern, log)]


def test_a_failing_handler_backs_off_goes_dead_and_replay_completes_it_once_fixed(
    system, broker
):
    Breakage.objects.create(key="flaky")
    failing = ping("flaky")
    wait_for(lambda: Delivery.objects.get(id=failing.id).attempts >= 1,
             message="the first failure")

    # Other deliveries keep flowing while it waits for its retries.
    others = [ping(f"other-{i}") for i in range(5)]
    wait_for(lambda: done(*others), message="the other deliveries")
    assert Delivery.objects.get(id=failing.id).status == "pending"

    wait_for(lambda: Delivery.objects.get(id=failing.id).status == "dead", timeout=30,
             message="the failing delivery to go dead")
    failing.refresh_from_db()
    assert failing.attempts == MAX_ATTEMPTS
    assert "probe flaky is broken" in failing.last_error
    assert effect_count("flaky") == 0, "a failed attempt's work is rolled back"

    # Each retry was scheduled with full jitter under a cap that doubles from the base.
    delays = _retry_delays(system.output(), failing.id)
    assert [attempt for attempt, _ in delays] == list(range(1, MAX_ATTEMPTS))
    for attempt, delay in delays:
        assert 0 <= delay <= min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))

    Breakage.objects.all().delete()  # the cause is fixed
    assert deadletters.replay(deadletters.dead(handler="probe.record_ping")) == 1

    wait_for(lambda: done(failing), message="the replayed delivery")
    assert effect_count("flaky") == 1


def test_a_permanent_error_makes_the_delivery_dead_at_once_with_its_error_kept(system, broker):
    Breakage.objects.create(key="refused", permanent=True)
    delivery = ping("refused")

    wait_for(lambda: Delivery.objects.get(id=delivery.id).status == "dead",
             message="the delivery to go dead")

    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert "PermanentError" in delivery.last_error
    assert "probe refused refuses for good" in delivery.last_error
    assert effect_count("refused") == 0
