import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from lab.outbox_bench.run import run_benchmark


class Command(BaseCommand):
    help = (
        "Measure the outbox end to end with the no-op subscriber outbox.diagnostic_noop: "
        "(a) the single-event fast path on an idle system, (b) a backlog drained by the sweep. "
        "Prints the figures and writes them as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fast-events", type=int, default=500,
                            help="events appended one per transaction for the fast path")
        parser.add_argument("--rate", type=float, default=50.0,
                            help="fast-path appends per second (modest, so the system is idle)")
        parser.add_argument("--events", type=int, default=20_000,
                            help="events in the backlog drained by the sweep")
        parser.add_argument("--workers", type=int, default=1, help="worker processes to start")
        parser.add_argument("--concurrency", type=int, default=4,
                            help="pool processes per started worker (the work waits on the "
                            "database much of the time: more processes than cores pay)")
        parser.add_argument("--attach", action="store_true",
                            help="start no worker: use the workers already consuming the queue")
        parser.add_argument("--timeout", type=float, default=300.0,
                            help="seconds to wait for a phase to drain")
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "bench-results"
                                                     / "outbox.json"))
        parser.add_argument("--keep", action="store_true",
                            help="keep the diagnostic events and deliveries afterwards")

    def handle(self, *args: Any, **opts: Any) -> None:
        if settings.OUTBOX_CHAOS:
            self.stderr.write(f"warning: OUTBOX_CHAOS={settings.OUTBOX_CHAOS!r} skews the figures")
        results = run_benchmark(
            fast_events=opts["fast_events"], rate=opts["rate"], backlog_events=opts["events"],
            workers=opts["workers"], concurrency=opts["concurrency"], attach=opts["attach"],
            timeout=opts["timeout"], keep=opts["keep"], say=self.stdout.write,
        )
        for phase in ("fast_path", "backlog"):
            if phase not in results:
                continue
            r = results[phase]
            lat = r["latency_ms"]
            self.stdout.write(
                f"{phase:>9}: {r['events']} events"
                f" | appended {r['events_appended_per_second']:.0f}/s"
                f" | completed {r['deliveries_completed_per_second']:.0f} deliveries/s end to end"
                f" | commit-to-handled p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms"
            )
        output = Path(opts["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n")
        self.stdout.write(f"written to {output}")
