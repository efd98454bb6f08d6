"""Rebuild every context's read models from the event store, showing progress.

Each context offers `services.rebuild_read_models(progress=...)`; the saga's coordination state
comes last, since it may read the others' views. A context without one is skipped with a note.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.progress import Progress

CONTEXTS = [*settings.BOUNDED_CONTEXTS, "saga"]
# Where each context keeps its rebuild (the saga app has no services module).
MODULES = {"saga": "saga.rebuild"}


def rebuild_function(context: str) -> Callable[..., int] | None:
    module_name = MODULES.get(context, f"{context}.services")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    return getattr(module, "rebuild_read_models", None)


class Command(BaseCommand):
    help = "Rebuild the read models of every context (or of --only these) from the event store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", default="", help="Comma-separated contexts, e.g. orders,saga")

    def handle(self, *args: Any, only: str = "", **options: Any) -> None:
        wanted = [c.strip() for c in only.split(",") if c.strip()] or CONTEXTS
        unknown = set(wanted) - set(CONTEXTS)
        if unknown:
            raise CommandError(f"unknown context(s): {', '.join(sorted(unknown))}; "
                               f"choose from {', '.join(CONTEXTS)}")
        progress = Progress(self.stdout._out)
        for context in wanted:
            rebuild = rebuild_function(context)
            if rebuild is None:
                self.stdout.write(f"{context}: no read models to rebuild, skipped")
                continue
            started = time.monotonic()
            count = rebuild(progress=progress.counter(context))
            elapsed = time.monotonic() - started
            progress.close()
            self.stdout.write(self.style.SUCCESS(f"{context}: done, {count} in {elapsed:.1f}s"))
