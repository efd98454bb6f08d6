"""How a reconciler pass scales: the same drifted sagas timed alone, then among many converged
ones. The claim reads a partial index that holds only the sagas not converged, so the second
figure should match the first. Rows are marked `bench-` and removed afterwards."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from saga.models import OrderSaga, ReconciliationAction
from saga.reconciler import run_pass

PREFIX = "bench-"


class NotAScratchDatabase(RuntimeError):
    pass


def _drifted(count: int) -> None:
    """Sagas waiting on a step still within its deadline: each pass observes them, finds
    nothing to correct and books the next check (the common case of drift in flight)."""
    now = timezone.now()
    OrderSaga.objects.bulk_create([
        OrderSaga(order_id=f"{PREFIX}drift-{i:06d}", state=OrderSaga.State.RUNNING, gap=4,
                  order_status="pending", current_step="reserve_stock", started_at=now,
                  step_started_at=now, step_deadline=now + timedelta(days=1),
                  next_check_at=now - timedelta(seconds=1))
        for i in range(count)], batch_size=5000)


def _converged(count: int, say: Callable[[str], object]) -> None:
    now = timezone.now()
    for start in range(0, count, 20_000):
        OrderSaga.objects.bulk_create([
            OrderSaga(order_id=f"{PREFIX}done-{i:07d}", state=OrderSaga.State.CONVERGED,
                      gap=0, order_status="confirmed", stock="committed", shipment="booked",
                      current_step="done", started_at=now - timedelta(days=1), converged_at=now)
            for i in range(start, min(count, start + 20_000))], batch_size=5000)
        say(f"  {min(count, start + 20_000)} converged sagas written")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE saga_ordersaga")


def _measure(drifted: int, rounds: int) -> dict[str, Any]:
    seconds, queries = [], []
    for round_ in range(rounds + 1):  # the first one warms the caches and is not counted
        OrderSaga.objects.filter(order_id__startswith=f"{PREFIX}drift-").update(
            next_check_at=timezone.now() - timedelta(seconds=1), checks=0)
        with (CaptureQueriesContext(connection) as default,
              CaptureQueriesContext(connections["providers"]) as providers):
            started = time.perf_counter()
            report = run_pass(limit=drifted)
            seconds.append(time.perf_counter() - started)
        if report.examined != drifted:
            raise AssertionError(f"the pass examined {report.examined}, not {drifted}")
        if round_ == 0:
            seconds.pop()
            continue
        queries.append(len(default) + len(providers))
    return {"rounds": rounds, "sagas_examined": drifted,
            "pass_seconds": {"median": statistics.median(seconds), "min": min(seconds),
                             "max": max(seconds)},
            "queries_per_pass": statistics.median(queries)}


def run_benchmark(*, converged: int, drifted: int, rounds: int,
                  say: Callable[[str], object] = print) -> dict[str, Any]:
    due_elsewhere = OrderSaga.objects.exclude(state=OrderSaga.State.CONVERGED).exclude(
        order_id__startswith=PREFIX).count()
    if due_elsewhere:
        raise NotAScratchDatabase(f"{due_elsewhere} real sagas are in flight here: run the "
                                  "benchmark on a scratch database")
    cleanup()
    try:
        _drifted(drifted)
        say(f"{drifted} drifted sagas alone")
        alone = _measure(drifted, rounds)
        say(f"writing {converged} converged sagas")
        _converged(converged, say)
        say(f"{drifted} drifted sagas among {converged} converged")
        among = _measure(drifted, rounds)
    finally:
        cleanup()
    return {"converged": converged, "drifted": drifted, "drifted_alone": alone,
            "drifted_among_converged": among,
            "ratio_of_medians": among["pass_seconds"]["median"]
            / alone["pass_seconds"]["median"]}


def cleanup() -> None:
    ReconciliationAction.objects.filter(saga__order_id__startswith=PREFIX).delete()
    OrderSaga.objects.filter(order_id__startswith=PREFIX).delete()
