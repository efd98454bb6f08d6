"""Poison and hung deliveries, against a real worker: a handler that kills its worker process
is charged for every attempt it takes down and ends dead ("worker lost") while the deliveries
that shared its group complete; a handler that hangs past the soft time limit fails like an
error and is retried."""

from __future__ import annotations

import pytest
from celery import current_app

from outbox import relay
from outbox.claims import WORKER_LOST
from outbox.models import Delivery
from tests.conftest import wait_for
from tests.probe.pings import OUTBOX_TEST_APPS, effect_count, ping

pytestmark = [
    pytest.mark.django_db(transaction=True, available_apps=OUTBOX_TEST_APPS),
    pytest.mark.e2e,
]

MAX_ATTEMPTS = 3


def one_message(*deliveries: Delivery) -> None:
    """Send the deliveries as one task, so one worker runs them as one group."""
    relay.send([(d.id, d.queue) for d in deliveries])


def is_dead(delivery: Delivery) -> bool:
    return Delivery.objects.filter(id=delivery.id, status="dead").exists()


def test_a_delivery_that_kills_its_worker_goes_dead_and_its_group_completes(
    start_worker, beat, broker
):
    with relay.suppressed():  # sent below, as one group
        innocents = [ping(f"innocent-{n}") for n in range(4)]
        poison = ping("poison", crash=True)
    one_message(innocents[0], innocents[1], poison, innocents[2], innocents[3])
    worker = start_worker(concurrency=1, OUTBOX_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
                          OUTBOX_LEASE_SECONDS="2")

    wait_for(lambda: is_dead(poison), timeout=90, message="the poison delivery to be dead")
    wait_for(lambda: Delivery.objects.filter(id__in=[d.id for d in innocents],
                                             status="done").count() == len(innocents),
             timeout=30, message="the innocent deliveries to complete")

    poison.refresh_from_db()
    assert poison.attempts == MAX_ATTEMPTS, "every attempt that killed a worker is counted"
    assert poison.last_error.startswith(WORKER_LOST)
    assert effect_count("poison") == 0
    for innocent in innocents:
        innocent.refresh_from_db()
        assert effect_count(innocent.event.stream_id) == 1
        # Charged for the one group run the poison took down, then run alone and kept.
        assert innocent.attempts <= 2, innocent
    assert "SIGKILL" in worker.output() or "signal 9" in worker.output()


def test_a_delivery_that_hangs_past_the_soft_time_limit_fails_and_is_retried(
    start_worker, beat, broker, monkeypatch
):
    limits = {"CELERY_TASK_SOFT_TIME_LIMIT": "2", "CELERY_TASK_TIME_LIMIT": "30"}
    worker = start_worker(concurrency=1, OUTBOX_MAX_ATTEMPTS="2", **limits)
    # A task's time limits travel in its message, from the sender's registered task (this
    # process sends the first message; the worker sends the retry). Celery caches a task's
    # send options on first use, so the cache goes too.
    task = current_app.tasks[relay.DELIVER_TASK]
    monkeypatch.setattr(task, "soft_time_limit", 2)
    monkeypatch.setattr(task, "time_limit", 30)
    monkeypatch.setattr(task, "_exec_options", None)
    with relay.suppressed():
        hung = ping("hung", sleep=60.0)
        after = ping("after-the-hung-one")
    one_message(hung, after)

    wait_for(lambda: is_dead(hung), timeout=120,
             message=f"the hung delivery to time out twice:\n{worker.output()[-3000:]}")
    hung.refresh_from_db()
    # Two attempts, each ended by the soft limit and recorded as a failure (not a lost
    # worker): the first was retried.
    assert hung.attempts == 2
    assert "SoftTimeLimitExceeded" in hung.last_error
    assert worker.output().count("Soft time limit (2s) exceeded") == 2
    assert effect_count("hung") == 0
    wait_for(lambda: Delivery.objects.filter(id=after.id, status="done").exists(),
             message="the delivery behind the hung one to complete")
    assert effect_count("after-the-hung-one") == 1
