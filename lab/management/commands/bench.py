"""`manage.py bench`: this system side by side with a naive Celery chain and DBOS Transact, the
outbox alone and the reconciler, in one run on this machine, with the same PostgreSQL and
Redis; writes bench-results/bench.json and bench-results/bench.md (README quotes the table).

    manage.py bench                                   # everything, full sizes (~15 minutes)
    manage.py bench --parts system,naive --clients 4,8,16 --duration 30
    manage.py bench --smoke                           # tiny numbers, well under a minute

Each flow (system, naive, dbos) runs at increasing client counts; the maximum is the best
confirmed orders/s of a step that finished every order; then it runs paced at half of that
maximum, then idle. DBOS is skipped, with the reason, unless the `lab` extra is installed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.progress import Progress, Silent
from lab.bench.run import PARTS, SMOKE, BenchOptions, run_bench, write
from lab.cli import comma_list, sigterm_as_interrupt


class Command(BaseCommand):
    help = ("Measure this system end to end beside a naive Celery chain and DBOS Transact, "
            "plus the outbox alone and the reconciler; write bench-results/bench.{json,md}.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--smoke", action="store_true",
                            help="tiny numbers (a check that it works, not a measurement)")
        parser.add_argument("--parts", default=",".join(PARTS),
                            help=f"comma-separated, of {', '.join(PARTS)} (all)")
        parser.add_argument("--clients", help="client counts of the ramp (1,2,4,8,16,32)")
        parser.add_argument("--duration", type=float,
                            help="seconds each step places orders for (20)")
        parser.add_argument("--orders", type=int, help="orders per step instead of a duration")
        parser.add_argument("--idle-rate", type=float, help="orders/s of the idle step (2)")
        parser.add_argument("--idle-duration", type=float, help="seconds of the idle step (10)")
        parser.add_argument("--deadline", type=float,
                            help="seconds for a step's orders to finish (300)")
        parser.add_argument("--workers", type=int, help="Celery workers (1)")
        parser.add_argument("--concurrency", type=int, help="prefork processes per worker (4)")
        parser.add_argument("--web-workers", type=int, help="gunicorn workers (2)")
        parser.add_argument("--web-threads", type=int, help="threads per gunicorn worker (4)")
        parser.add_argument("--system-env", default="",
                            help="settings for this system's processes only, e.g. "
                                 "OUTBOX_ASYNC_COMMIT=1,OUTBOX_BATCH_SIZE=200")
        parser.add_argument("--dbos-processes", type=int, help="DBOS processes (2)")
        parser.add_argument("--outbox-events", type=int, help="backlog events (20000)")
        parser.add_argument("--outbox-fast-events", type=int, help="fast-path events (500)")
        parser.add_argument("--drifted", type=int, help="drifted sagas (1000)")
        parser.add_argument("--converged", type=int, help="converged sagas (1000000)")
        parser.add_argument("--use-current-database", action="store_true",
                            help="run on DATABASE_URL itself instead of scratch databases "
                                 "(DBOS always gets a scratch database of its own)")
        parser.add_argument("--output-dir", type=Path, default=Path("bench-results"))
        parser.add_argument("--label", default="", help="a note kept with the figures")
        parser.add_argument("--quiet", action="store_true", help="no progress output")

    def handle(self, *args: Any, **o: Any) -> None:
        opts = self._options(o)
        ui = Silent() if o["quiet"] else Progress(stream=self.stderr._out)
        with sigterm_as_interrupt():
            results = run_bench(opts, ui)
        ui.close()
        json_path, md_path = write(results, opts.output_dir)
        self.stdout.write(md_path.read_text())
        self.stdout.write(f"written: {json_path}, {md_path}")

    def _options(self, o: dict[str, Any]) -> BenchOptions:
        base = SMOKE if o["smoke"] else BenchOptions()
        parts = tuple(comma_list(o["parts"]))
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise CommandError(f"unknown part(s): {', '.join(sorted(unknown))}; "
                               f"choose among {', '.join(PARTS)}")
        plan = base.plan
        if o["clients"]:
            try:
                plan = replace(plan, clients=tuple(int(n) for n in comma_list(o["clients"])))
            except ValueError as exc:
                raise CommandError(f"--clients: {exc}") from exc
        if o["orders"]:
            plan = replace(plan, orders=o["orders"], duration=None)
        if o["duration"]:
            plan = replace(plan, duration=o["duration"], orders=None)
        plan = _override(plan, idle_rate=o["idle_rate"], idle_duration=o["idle_duration"],
                         deadline=o["deadline"])
        stack = _override(base.stack, workers=o["workers"], concurrency=o["concurrency"],
                          web_workers=o["web_workers"], web_threads=o["web_threads"])
        stack = replace(stack, scratch=not o["use_current_database"],
                        env=_settings(o["system_env"]))
        return replace(
            base, parts=parts, plan=plan, stack=stack,
            dbos_processes=o["dbos_processes"] or base.dbos_processes,
            outbox=_override(base.outbox, backlog_events=o["outbox_events"],
                             fast_events=o["outbox_fast_events"]),
            reconciler=_override(base.reconciler, drifted=o["drifted"],
                                 converged=o["converged"]),
            output_dir=o["output_dir"], label=o["label"])


def _settings(text: str) -> dict[str, str]:
    pairs = [item.partition("=") for item in comma_list(text)]
    if any(not sep or not name for name, sep, _ in pairs):
        raise CommandError(f"--system-env: expected NAME=VALUE,..., got {text!r}")
    return {name.strip(): value.strip() for name, _, value in pairs}


def _override(value: Any, **changes: Any) -> Any:
    return replace(value, **{k: v for k, v in changes.items() if v is not None})
