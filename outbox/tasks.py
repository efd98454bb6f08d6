"""Celery tasks of the outbox: run deliveries, sweep, prune."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import celeryd_after_setup, task_postrun, task_prerun
from django.db import close_old_connections

from outbox import archive, delivery, pruning, relay

log = logging.getLogger(__name__)


@celeryd_after_setup.connect
def remember_served_queues(sender: str, instance: Any, **kwargs: Any) -> None:
    """Inline hops only follow deliveries whose queue this worker consumes."""
    relay.served_queues.update(instance.app.amqp.queues.consume_from.keys())


@task_prerun.connect
@task_postrun.connect
def drop_broken_connections(**kwargs: Any) -> None:
    """What Django does around a request, around a task: close a database connection that is
    broken or past CONN_MAX_AGE, keep a healthy one (CELERY_DB_REUSE_MAX stops Celery from
    closing every connection, which would cost a new one per task)."""
    close_old_connections()


@shared_task(name=relay.DELIVER_TASK, acks_late=True, reject_on_worker_lost=True)
def deliver(delivery_ids: list[int], attempts: list[int] | None = None) -> dict[str, int]:
    counts = delivery.run_batch(delivery_ids, attempts)
    return {result.value: n for result, n in counts.items() if n}


@shared_task(name="outbox.sweep", ignore_result=True)
def sweep() -> int:
    return relay.sweep()


@shared_task(name="outbox.prune", ignore_result=True)
def prune() -> int:
    return pruning.prune_done_deliveries()


@shared_task(name="outbox.archive_events", ignore_result=True)
def archive_events() -> int:
    return archive.archive_events()
