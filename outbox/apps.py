from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Event store and outbox"

    def ready(self) -> None:
        from outbox import (  # noqa: F401  (registers the tasks, worker signal, no-op handler)
            diagnostics,
            tasks,
        )
