"""At-least-once delivery, exactly one effect: the delivery row is the idempotency record,
whether a duplicate arrives later or at the same moment on another worker."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from outbox import relay
from outbox.models import Delivery
from tests.conftest import Proc, wait_for
from tests.probe.pings import OUTBOX_TEST_APPS, effect_count, unsent_ping
from tests.probe.workers import log_marks, task_results

pytestmark = [
    pytest.mark.django_db(transaction=True, available_apps=OUTBOX_TEST_APPS),
    pytest.mark.e2e,
]

QUEUE = "outbox"


@pytest.fixture(scope="module")
def two_workers(process_env: dict[str, str]) -> Iterator[list[Proc]]:
    """Two worker nodes with one process each: two messages go to two different workers."""
    workers = [
        Proc([sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork", "-c", "1",
              "-n", f"dup{n}@%h", "-Q", QUEUE, "--without-gossip", "--without-mingle",
              "--without-heartbeat", "-l", "INFO"], process_env, f"dup{n}", ready="ready.")
        for n in range(2)
    ]
    yield workers
    for worker in workers:
        worker.stop()


def test_the_same_delivery_sent_twice_has_one_effect(two_workers, broker):
    delivery = unsent_ping("twice")
    marks = log_marks(two_workers)

    relay.send([(delivery.id, QUEUE)])
    wait_for(lambda: len(task_results(two_workers, marks)) == 1, message="the first run")
    assert task_results(two_workers, marks) == [{"done": 1}]
    relay.send([(delivery.id, QUEUE)])
    wait_for(lambda: len(task_results(two_workers, marks)) == 2, message="the second run")

    assert sorted(map(repr, task_results(two_workers, marks))) == ["{'done': 1}",
                                                                   "{'skipped': 1}"]
    assert effect_count("twice") == 1
    assert Delivery.objects.get(id=delivery.id).attempts == 1


def test_the_same_delivery_sent_to_two_workers_at_once_has_one_effect(two_workers, broker):
    # The handler takes a second, so the second copy arrives while the first is running.
    delivery = unsent_ping("at-once", sleep=1.0)
    marks = log_marks(two_workers)

    relay.send([(delivery.id, QUEUE)])
    relay.send([(delivery.id, QUEUE)])
    wait_for(lambda: len(task_results(two_workers, marks)) == 2, message="both copies to run")

    per_worker = [task_results([worker], marks) for worker in two_workers]
    assert [len(results) for results in per_worker] == [1, 1], "each worker took one copy"
    outcomes = sorted(next(iter(r[0])) for r in per_worker)
    assert outcomes == ["done", "skipped"]
    assert effect_count("at-once") == 1
    assert Delivery.objects.get(id=delivery.id).attempts == 1
