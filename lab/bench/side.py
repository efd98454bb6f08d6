"""Parts 4 and 5: the outbox alone (lab.outbox_bench.run, `manage.py bench_outbox`'s code: its own
workers, the no-op subscriber, fast path and backlog) and a reconciler pass over drifted sagas
alone and beside many converged ones. Both on one scratch database (or this process's)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from common.progress import Progress
from lab.outbox_bench import run as outbox_benchmark
from lab.reconciler_bench.run import PREFIX, cleanup
from lab.stack import database
from saga.models import OrderSaga
from saga.reconciler import run_pass

DRIFTED = f"{PREFIX}drift-"
CONVERGED = f"{PREFIX}done-"
INSERT_CHUNK = 200_000


@dataclass(frozen=True)
class OutboxSize:
    fast_events: int = 500
    rate: float = 50.0
    backlog_events: int = 20_000
    workers: int = 1
    concurrency: int = 4
    timeout: float = 300.0


@dataclass(frozen=True)
class ReconcilerSize:
    drifted: int = 1_000
    converged: int = 1_000_000
    rounds: int = 5


@contextmanager
def side_database(scratch: bool, ui: Progress) -> Iterator[None]:
    """A migrated scratch database for parts 4 and 5 (dropped afterwards), or this one."""
    if not scratch:
        yield
        return
    db = database.ScratchDatabase("side")
    ui.say(f"creating and migrating scratch database {db.name} ...")
    env = {**os.environ, "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "bench"}
    try:
        db.create(env)
        database.use(db.name)
        yield
    finally:
        db.drop()
        database.use(database.name_of(db.base_url))


def run_outbox(size: OutboxSize, ui: Progress) -> dict[str, Any]:
    ui.say("4. the outbox alone: no-op deliveries, fast path and backlog (lab.outbox_bench.run)")
    result = outbox_benchmark.run_benchmark(
        fast_events=size.fast_events, rate=size.rate, backlog_events=size.backlog_events,
        workers=size.workers, concurrency=size.concurrency, attach=False, timeout=size.timeout,
        say=lambda text: ui.say(f"  {text}"))
    for phase in ("fast_path", "backlog"):
        if phase in result:
            r = result[phase]
            ui.say(f"    {phase}: {r['deliveries_completed_per_second']} deliveries/s, "
                   f"commit->handled p50 {r['latency_ms']['p50']} ms")
    return result


def run_reconciler(size: ReconcilerSize, ui: Progress) -> dict[str, Any]:
    ui.say(f"5. the reconciler: a pass over {size.drifted} drifted sagas, alone and beside "
           f"{size.converged} converged ones")
    cleanup()
    try:
        now = timezone.now()
        # Waiting on a step still within its deadline: a pass observes them, finds nothing to
        # correct and books the next check (drift in flight, the common case).
        _copies(OrderSaga(state=OrderSaga.State.RUNNING, gap=4, order_status="pending",
                          current_step="reserve_stock", started_at=now, step_started_at=now,
                          step_deadline=now + timedelta(days=1)), DRIFTED, size.drifted)
        alone = _passes(size, ui)
        ui.say(f"    alone: median {alone['pass_ms']['median']} ms")
        started = time.monotonic()
        _copies(OrderSaga(state=OrderSaga.State.CONVERGED, gap=0, order_status="confirmed",
                          stock="committed", shipment="booked", current_step="done",
                          started_at=now - timedelta(days=1), converged_at=now),
                CONVERGED, size.converged,
                progress=ui.counter("writing converged sagas", "sagas"))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) saga_ordersaga")
        ui.say(f"    {size.converged} converged sagas written in "
               f"{time.monotonic() - started:.1f}s (generate_series)")
        beside = _passes(size, ui)
        ui.say(f"    beside them: median {beside['pass_ms']['median']} ms")
    finally:
        cleanup()
    return {"drifted": size.drifted, "converged": size.converged, "alone": alone,
            "beside_converged": beside,
            "ratio_of_medians": round(beside["pass_ms"]["median"] / alone["pass_ms"]["median"],
                                      2) if alone["pass_ms"]["median"] else None}


def _copies(template: OrderSaga, prefix: str, count: int,
            progress: Callable[[int, int], object] | None = None) -> None:
    """`count` sagas like `template`, ids `<prefix>0000001`...: one row saved through the ORM
    (every column gets its model default), copied in SQL with generate_series."""
    template.order_id = f"{prefix}template"
    template.save(force_insert=True)
    columns = ", ".join(connection.ops.quote_name(f.column)
                        for f in OrderSaga._meta.concrete_fields if not f.primary_key)
    insert = (f"INSERT INTO saga_ordersaga (order_id, {columns}) "
              f"SELECT %s || lpad(g::text, 7, '0'), {columns} FROM saga_ordersaga, "
              f"generate_series(%s, %s) AS g WHERE order_id = %s")
    with connection.cursor() as cursor:
        for first in range(1, count + 1, INSERT_CHUNK):
            last = min(count, first + INSERT_CHUNK - 1)
            cursor.execute(insert, [prefix, first, last, template.order_id])
            if progress:
                progress(last, count)
        cursor.execute("DELETE FROM saga_ordersaga WHERE order_id = %s", [template.order_id])


def _passes(size: ReconcilerSize, ui: Progress) -> dict[str, Any]:
    """`rounds` timed passes over the drifted sagas, made due again before each; one untimed
    pass first warms the caches (the first pass after a bulk insert is not the steady state)."""
    seconds, examined = [], []
    for round_ in range(size.rounds + 1):
        OrderSaga.objects.filter(order_id__startswith=DRIFTED).update(
            next_check_at=timezone.now() - timedelta(seconds=1), checks=0)
        started = time.perf_counter()
        report = run_pass(limit=size.drifted)
        if round_:
            seconds.append(time.perf_counter() - started)
            examined.append(report.examined)
    ms = [s * 1000 for s in seconds]
    return {"rounds": size.rounds, "examined": examined,
            "pass_ms": {"median": round(statistics.median(ms), 1), "min": round(min(ms), 1),
                        "max": round(max(ms), 1)}}
