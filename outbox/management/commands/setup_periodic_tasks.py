from typing import Any

from django.core.management.base import BaseCommand

from outbox.schedules import ensure_periodic_tasks


class Command(BaseCommand):
    help = "Create or update the beat schedule of every periodic job (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ensure_periodic_tasks():
            self.stdout.write(f"scheduled: {name}")
