"""The safety nets (sweep, reconciler, verification, pruning) run on a queue of their own, so a
backlog of deliveries cannot starve them, and wait in it longer than their interval."""

from __future__ import annotations

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from config.celery import app

SAFETY_NETS = {"outbox.sweep", "outbox.prune", "saga.reconcile", "saga.verify"}


@pytest.mark.django_db
def test_every_safety_net_runs_on_the_maintenance_queue_and_outlives_its_interval():
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():  # as beat writes them at start
        ModelEntry.from_entry(name, app=app, **entry)
    jobs = {job.task: job for job in PeriodicTask.objects.select_related("interval")}

    assert SAFETY_NETS <= set(jobs)
    for task in SAFETY_NETS:
        job = jobs[task]
        assert job.queue == settings.MAINTENANCE_QUEUE, task
        assert job.expire_seconds > job.interval.every, task
    assert settings.MAINTENANCE_QUEUE != settings.CELERY_TASK_DEFAULT_QUEUE


def test_a_worker_started_without_queues_consumes_deliveries_and_maintenance():
    # `celery -A config worker` without -Q consumes every declared queue (Procfile and compose
    # name theirs: tests/test_project_queues.py).
    assert {settings.CELERY_TASK_DEFAULT_QUEUE, settings.MAINTENANCE_QUEUE} <= set(
        app.amqp.queues)


def test_every_task_stops_before_the_broker_would_hand_it_to_another_worker():
    limits = (app.conf.task_soft_time_limit, app.conf.task_time_limit,
              app.conf.broker_transport_options["visibility_timeout"])
    assert limits[0] < limits[1] < limits[2], limits
