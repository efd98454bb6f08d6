from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from outbox import deadletters
from outbox.models import Delivery

COLUMNS = ("id", "handler", "event type", "event", "attempts", "age", "last error")
ERROR_WIDTH = 70


def _age(delivery: Delivery) -> str:
    seconds = int((timezone.now() - delivery.created_at).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _last_line(error: str) -> str:
    lines = error.strip().splitlines()
    line = lines[-1] if lines else ""
    return line if len(line) <= ERROR_WIDTH else line[: ERROR_WIDTH - 1] + "…"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*(c.upper() for c in COLUMNS)).rstrip()] + [
        fmt.format(*row).rstrip() for row in rows
    ]


class Command(BaseCommand):
    help = (
        "List dead deliveries (a handler gave up on an event), optionally filtered, and "
        "replay them with --replay once the cause is fixed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--handler", help="only this handler, e.g. inventory.reserve_stock")
        parser.add_argument("--event-type", help="only this event type, e.g. orders.OrderPlaced")
        parser.add_argument("--older-than", type=float, metavar="SECONDS",
                            help="only deliveries created more than SECONDS ago")
        parser.add_argument("--replay", action="store_true",
                            help="send the selected dead deliveries again (fresh attempts)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["older_than"] is not None and opts["older_than"] < 0:
            raise CommandError("--older-than must be a number of seconds ≥ 0")
        older_than = (
            timedelta(seconds=opts["older_than"]) if opts["older_than"] is not None else None
        )
        selection = deadletters.dead(
            handler=opts["handler"], event_type=opts["event_type"], older_than=older_than
        )
        rows = [
            (str(d.id), d.handler, d.event.event_type,
             f"{d.event.stream_type}/{d.event.stream_id} v{d.event.version}",
             str(d.attempts), _age(d), _last_line(d.last_error))
            for d in selection
        ]
        if not rows:
            self.stdout.write("No dead deliveries match.")
            return
        for line in _table(rows):
            self.stdout.write(line)
        self.stdout.write(f"{len(rows)} dead deliveries.")
        if opts["replay"]:
            replayed = deadletters.replay(selection)
            self.stdout.write(self.style.SUCCESS(f"Replayed {replayed} dead deliveries."))
        else:
            self.stdout.write("Run again with --replay to send them again.")
