"""Periodic tasks' intervals come from the settings when beat starts: changing the
environment and restarting beat is enough, with no `migrate` or command in between."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from tests.conftest import Proc, wait_for

SWEEP = "outbox: sweep pending deliveries"


def every(name: str) -> int | None:
    task = PeriodicTask.objects.select_related("interval").filter(name=name).first()
    return task.interval.every if task and task.interval else None


@pytest.fixture
def start_beat(process_env, tmp_path) -> Iterator[Callable[..., Proc]]:
    started: list[Proc] = []

    def start(**env: str) -> Proc:
        argv = [sys.executable, "-m", "celery", "-A", "config", "beat", "-S",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "-s", str(tmp_path / f"beat-{len(started)}"), "-l", "INFO"]
        proc = Proc(argv, {**process_env, **env}, "beat", ready="beat: Starting")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.mark.django_db(transaction=True)
def test_a_beat_restart_applies_a_changed_interval(start_beat):
    beat = start_beat(OUTBOX_SWEEP_INTERVAL_SECONDS="7")
    wait_for(lambda: every(SWEEP) == 7, message="beat to write the 7 s sweep")
    beat.stop()

    start_beat(OUTBOX_SWEEP_INTERVAL_SECONDS="3")
    wait_for(lambda: every(SWEEP) == 3, message="beat to write the 3 s sweep")
    # Beat writes the entries one by one: the sweep may be in before the others.
    wait_for(lambda: PeriodicTask.objects.filter(name__in=list(settings.CELERY_BEAT_SCHEDULE))
             .count() == len(settings.CELERY_BEAT_SCHEDULE), message="beat to write every job")
    # Every job of the settings is scheduled, on the queue the settings give it.
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        task = PeriodicTask.objects.get(name=name)
        assert task.task == entry["task"] and task.enabled
        assert task.queue == entry["options"]["queue"] == settings.MAINTENANCE_QUEUE
