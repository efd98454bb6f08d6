from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate


def _write_schedules(using: str = "default", **kwargs: Any) -> None:
    from outbox.schedules import ensure_periodic_tasks

    ensure_periodic_tasks(using=using)


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Event store and outbox"

    def ready(self) -> None:
        from outbox import (  # noqa: F401  (registers the tasks, worker signal, no-op handler)
            diagnostics,
            tasks,
        )
        from outbox.schedules import periodic

        periodic("outbox: sweep pending deliveries", "outbox.sweep",
                 settings.OUTBOX_SWEEP_INTERVAL_SECONDS)
        periodic("outbox: prune done deliveries", "outbox.prune", 3600)
        # Last app to migrate is saga; writing after every app's post_migrate is cheap and
        # idempotent, and guarantees the beat tables exist.
        post_migrate.connect(_write_schedules, dispatch_uid="outbox.write_schedules")
