"""Part 2: the naive baseline (lab.bench.naive) on the harness's building blocks: its own
gunicorn and Celery workers (the harness's `Stack` processes, same sizes, under
lab.bench.naive_settings; no beat: nothing to schedule), the harness's customers and HTTP
clients, its CPU sampler. The orders' own rows give the latencies."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from common.progress import Progress
from lab.bench import flow_sql
from lab.bench.ramp import Load, Plan, others_cores, ramp, step_figures
from lab.bench.system import StackSize
from lab.load.run import Sampler
from lab.stack import database
from lab.stack.clients import OrderClients, OrderMix
from lab.stack.processes import Stack
from lab.stack.seed import seed_customers
from lab.stack.target import flush_broker

SETTINGS = "lab.bench.naive_settings"


def run_naive(plan: Plan, size: StackSize, ui: Progress) -> dict[str, Any]:
    ui.say("2. BASELINE: the same four steps as a naive Celery chain (no outbox, no inbox, "
           "no reconciler)")
    scratch = database.ScratchDatabase("naive") if size.scratch else None
    log_dir = Path(tempfile.mkdtemp(prefix="saga-bench-naive-"))
    redis_url = settings.CELERY_BROKER_URL
    stack = Stack(scratch.url if scratch else database.current_url(), redis_url,
                  size.config({"DJANGO_SETTINGS_MODULE": SETTINGS}), log_dir)
    failed = False
    try:
        if scratch:
            ui.say(f"creating and migrating scratch database {scratch.name} ...")
            scratch.create(stack.env("migrate"))
            database.use(scratch.name)
        with connection.cursor() as cursor:
            cursor.execute(flow_sql.CREATE_TABLES)
            cursor.execute(flow_sql.SEED_STOCK, {"products": 8})
            cursor.execute(flow_sql.SKUS)
            skus = tuple(row[0] for row in cursor.fetchall())
        tokens = seed_customers(max(plan.clients), prefix="bench-naive-customer")
        flush_broker(redis_url)
        ui.say(f"starting gunicorn and {len(stack.workers)} workers (naive settings) ...")
        for proc in (stack.web, *stack.workers):
            proc.start(stack.env(proc.name))
        for proc in (stack.web, *stack.workers):
            proc.wait_ready()
        result = ramp(lambda load: _step(stack, tokens, skus, load, plan.deadline, ui),
                      plan, ui.say)
    except BaseException:
        failed = True
        raise
    finally:
        stack.stop()
        flush_broker(redis_url)
        if scratch:
            scratch.drop()
            database.use(database.name_of(scratch.base_url))
        else:
            with connection.cursor() as cursor:
                cursor.execute(flow_sql.DROP_TABLES)
        if failed:
            ui.say(f"kept the naive stack's logs in {log_dir}")
        else:
            shutil.rmtree(log_dir, ignore_errors=True)
    result["stack"] = {"workers": size.workers, "concurrency": size.concurrency,
                       "web_workers": size.web_workers, "web_threads": size.web_threads}
    return result


def _step(stack: Stack, tokens: list[str], skus: tuple[str, ...], load: Load, deadline: float,
          ui: Progress) -> dict[str, Any]:
    clients = OrderClients(stack.base_url, tokens[:load.clients], OrderMix(skus),
                           count=load.orders, duration=load.duration, rate=load.rate,
                           seed=load.clients)
    sampler = Sampler(stack, clients, 1.0)
    sampler.start()
    try:
        results = clients.run(lambda r, c: ui.update("placing orders", len(r.placed),
                                                     load.orders, unit="orders"))
        ids = [p.order_id for p in results.placed]
        where, params = flow_sql.BY_IDS, {"ids": ids}
        waited_from = time.monotonic()
        while (pending := _one(flow_sql.PENDING.format(orders=where), params)[0]) and \
                time.monotonic() - waited_from < deadline:
            ui.update("waiting for every order to finish", len(ids) - pending, len(ids),
                      unit="orders")
            time.sleep(0.2)
    finally:
        sampler.stop()
    confirmed, placed, span = _one(flow_sql.SPAN.format(orders=where), params)
    with connection.cursor() as cursor:
        cursor.execute(flow_sql.LATENCIES.format(orders=where), params)
        latencies = [row[0] for row in cursor.fetchall()]
    failures = [f"{pending} order(s) still pending after {deadline:.0f}s"] if pending else []
    if results.server_errors or results.gave_up:
        failures.append(f"{len(results.server_errors)} server error(s), "
                        f"{results.gave_up} order(s) not placed")
    summary = sampler.cpu.summary(sampler.samples[-1]["t"] if sampler.samples else 0)
    cpu = {role: s for role, s in summary.get("cpu_seconds", {}).items()
           if role not in ("harness", "beat")} if summary.get("available") else None
    step = step_figures(load, placed=placed, confirmed=confirmed, pending=pending,
                        span_seconds=span, placing_seconds=results.seconds,
                        latencies=latencies, cpu=cpu, failures=failures)
    step["others_cores_used"] = others_cores(summary)
    return step


def _one(sql: str, params: dict[str, Any]) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


