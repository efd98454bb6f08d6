"""`manage.py chaos`: run the real stack under faults, let it converge, audit it, report.

    manage.py chaos                                  # 200 orders, every fault kind
    manage.py chaos --orders 2000 --rate 4 --deadline 300      # the longer run (~9 min)
    manage.py chaos --attach http://127.0.0.1:8000 --tokens KEY1,KEY2   # Redis faults only

Exits with status 1 on any invariant violation, any saga still pending at the deadline, or
any server error from the API. The report goes to --output (bench-results/chaos.json).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from lab.chaos.faults import DEFAULT_FAULT_ENV, PROCESS_FAULTS
from lab.chaos.run import ChaosOptions, default_output, run_chaos
from lab.chaos.summary import summary
from lab.cli import (
    add_report_arguments,
    comma_list,
    customer_tokens,
    run_and_report,
)


class Command(BaseCommand):
    help = ("Start the real stack (or attach to one), place orders through the API while "
            "injecting faults, stop the faults, wait for convergence, audit, and report.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=200, help="orders to place (200)")
        parser.add_argument("--duration", type=float,
                            help="place orders for this many seconds (with --orders: "
                                 "whichever comes first; --orders 0 for no count)")
        parser.add_argument("--clients", type=int, default=4, help="concurrent customers (4)")
        parser.add_argument("--rate", type=float, default=10.0,
                            help="orders per second in total (10; 0: as fast as they can)")
        parser.add_argument("--fault-interval", type=float, default=3.0,
                            help="mean seconds between process faults (3)")
        parser.add_argument("--faults", default=",".join(PROCESS_FAULTS),
                            help=f"process faults to inject (default: {','.join(PROCESS_FAULTS)})")
        for name, value in DEFAULT_FAULT_ENV.items():
            option = "--" + name.lower().replace("_", "-")
            parser.add_argument(option, default=value,
                                help=f"{name} while faults are on (default: {value}; '' for none)")
        parser.add_argument("--deadline", type=float, default=120.0,
                            help="seconds to converge after the faults stop (120)")
        parser.add_argument("--fault-tail", type=float, default=60.0,
                            help="after the last order, keep the faults on until every kind "
                                 "was injected, for at most this many seconds (60)")
        parser.add_argument("--workers", type=int, default=2, help="Celery workers (2)")
        parser.add_argument("--concurrency", type=int, default=2,
                            help="prefork processes per worker (2)")
        parser.add_argument("--use-current-database", action="store_true",
                            help="run on DATABASE_URL itself instead of a scratch database")
        parser.add_argument("--keep", action="store_true",
                            help="keep the scratch database and the logs (always kept on failure)")
        parser.add_argument("--attach", metavar="URL",
                            help="drive a running stack instead of starting one (DATABASE_URL "
                                 "and REDIS_URL must be its own)")
        parser.add_argument("--tokens", default="", help="customers' API tokens, for --attach")
        parser.add_argument("--seed", type=int, help="random seed (orders and fault schedule)")
        add_report_arguments(parser, default_output(), "chaos")

    def handle(self, *args: Any, **o: Any) -> None:
        unknown = set(comma_list(o["faults"])) - set(PROCESS_FAULTS)
        if unknown:
            raise CommandError(f"unknown faults {sorted(unknown)}; known: {PROCESS_FAULTS}")
        if not o["orders"] and not o["duration"]:
            raise CommandError("give --orders or --duration")
        opts = ChaosOptions(
            orders=o["orders"] or None, duration=o["duration"], clients=o["clients"],
            rate=o["rate"] or None, fault_interval=o["fault_interval"],
            faults=tuple(comma_list(o["faults"])),
            fault_env={name: o[name.lower()] for name in DEFAULT_FAULT_ENV},
            deadline=o["deadline"], fault_tail=o["fault_tail"], workers=o["workers"],
            concurrency=o["concurrency"],
            scratch=not o["use_current_database"] and not o["attach"],
            keep=o["keep"], attach=o["attach"],
            tokens=customer_tokens(comma_list(o["tokens"]), o["clients"]), seed=o["seed"],
            label=o["label"])
        run_and_report(self, lambda ui: run_chaos(opts, ui), summary, o, "chaos run")
