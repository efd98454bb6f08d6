"""`manage.py loadtest`: drive the real HTTP API with N concurrent customers, follow every
order to a terminal state, and report throughput, latency, backlog, CPU and memory.

    manage.py loadtest --clients 8 --duration 30          # as fast as they can, from cold
    manage.py loadtest --clients 8 --duration 300 --rate 40   # sustained, at a fixed rate
    manage.py loadtest --attach http://127.0.0.1:8000 --tokens KEY1,KEY2 --orders 500

The report goes to --output (bench-results/loadtest.json); exit status 1 if an order is still
pending at the deadline or the API answered a server error.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from lab.cli import (
    add_report_arguments,
    comma_list,
    customer_tokens,
    run_and_report,
)
from lab.load.run import LoadOptions, default_output, run_loadtest, summary


class Command(BaseCommand):
    help = ("Place orders through the HTTP API from concurrent clients (starting the stack, "
            "or attached to one), follow them to a terminal state, report the figures.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clients", type=int, default=8, help="concurrent customers (8)")
        parser.add_argument("--orders", type=int, help="orders to place")
        parser.add_argument("--duration", type=float,
                            help="seconds to place orders for (30 when --orders is not given)")
        parser.add_argument("--rate", type=float,
                            help="orders per second in total (default: as fast as they can)")
        parser.add_argument("--deadline", type=float, default=300.0,
                            help="seconds for every order to reach a terminal state (300)")
        parser.add_argument("--workers", type=int, default=2, help="Celery workers (2)")
        parser.add_argument("--concurrency", type=int, default=2,
                            help="prefork processes per worker (2)")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (2)")
        parser.add_argument("--web-threads", type=int, default=4,
                            help="threads per gunicorn worker (4)")
        parser.add_argument("--use-current-database", action="store_true",
                            help="run on DATABASE_URL itself instead of a scratch database")
        parser.add_argument("--keep", action="store_true",
                            help="keep the scratch database and the logs")
        parser.add_argument("--attach", metavar="URL",
                            help="drive a running stack instead of starting one (DATABASE_URL "
                                 "must be its own, to read the events)")
        parser.add_argument("--tokens", default="", help="customers' API tokens, for --attach")
        parser.add_argument("--sample-every", type=float, default=1.0,
                            help="seconds between backlog/CPU/memory samples (1)")
        parser.add_argument("--seed", type=int, help="random seed of the order mix")
        add_report_arguments(parser, default_output(), "loadtest")

    def handle(self, *args: Any, **o: Any) -> None:
        duration = o["duration"] if o["duration"] or o["orders"] else 30.0
        opts = LoadOptions(
            clients=o["clients"],
            orders=o["orders"], duration=duration, rate=o["rate"], deadline=o["deadline"],
            workers=o["workers"], concurrency=o["concurrency"], web_workers=o["web_workers"],
            web_threads=o["web_threads"], scratch=not o["use_current_database"],
            keep=o["keep"], attach=o["attach"],
            tokens=customer_tokens(comma_list(o["tokens"]), o["clients"]), seed=o["seed"],
            label=o["label"], sample_every=o["sample_every"])
        run_and_report(self, lambda ui: run_loadtest(opts, ui), summary, o, "load test")

