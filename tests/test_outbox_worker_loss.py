"""A worker killed in the middle of a handler: its transaction dies with it, the attempt it
was charged for stays counted, and the sweep brings the delivery to another worker, which
completes it exactly once."""

from __future__ import annotations

import pytest

from outbox.claims import WORKER_LOST
from outbox.models import Delivery
from tests.conftest import wait_for
from tests.probe.pings import OUTBOX_TEST_APPS, effect_count, ping
from tests.probe.workers import is_being_handled

pytestmark = [
    pytest.mark.django_db(transaction=True, available_apps=OUTBOX_TEST_APPS),
    pytest.mark.e2e,
]


def test_a_worker_killed_mid_handler_leaves_nothing_and_another_completes_it_once(
    start_worker, beat, broker
):
    first = start_worker(concurrency=1)
    delivery = ping("doomed", sleep=2.0)
    wait_for(lambda: is_being_handled(delivery.id), message="the handler to be running")

    first.kill()  # SIGKILL: no rollback by the worker, no ack, no goodbye
    wait_for(lambda: not is_being_handled(delivery.id),
             message="the database to drop the dead worker's transaction")
    delivery.refresh_from_db()
    # The attempt was charged before the handler ran: a worker that dies still pays for it.
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith(WORKER_LOST)
    assert effect_count("doomed") == 0, "the killed attempt's work must not survive"

    start_worker(concurrency=1)
    wait_for(lambda: Delivery.objects.filter(id=delivery.id, status="done").exists(),
             timeout=30, message="the sweep to bring it to the second worker")

    delivery.refresh_from_db()
    assert effect_count("doomed") == 1
    assert delivery.attempts == 2
