"""Periodic tasks are data in django-celery-beat's tables; they are written here, idempotently,
after every `migrate` (and by `manage.py setup_periodic_tasks`), never by hand in the admin."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str
    every_seconds: float
    queue: str | None = None


_jobs: dict[str, PeriodicJob] = {}


def periodic(name: str, task: str, every_seconds: float) -> None:
    """Declare a beat job (apps call this in `ready()`)."""
    _jobs[name] = PeriodicJob(name=name, task=task, every_seconds=every_seconds)


def declared_jobs() -> list[PeriodicJob]:
    return list(_jobs.values())


def ensure_periodic_tasks(using: str = "default") -> list[str]:
    """Create or update every declared job; returns the names written."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    written = []
    for job in _jobs.values():
        # Intervals below a second are not expressible; beat's own tick is one second anyway.
        every = max(1, round(job.every_seconds))
        schedule, _ = IntervalSchedule.objects.using(using).get_or_create(
            every=every, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.using(using).update_or_create(
            name=job.name,
            defaults={
                "task": job.task,
                "interval": schedule,
                "enabled": True,
                "queue": job.queue or settings.CELERY_TASK_DEFAULT_QUEUE,
                "kwargs": json.dumps({}),
                # A job that could not run in time is not worth running late.
                "expire_seconds": max(every * 5, 10),
            },
        )
        written.append(job.name)
    return written
