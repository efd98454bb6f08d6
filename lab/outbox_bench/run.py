"""Measuring the outbox end to end: real appends, the real broker, real workers, and the
no-op subscriber of `outbox.diagnostics`. Used by `manage.py bench_outbox`; never by a test
that asserts a time."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from lab.cpu import CpuMeter, database_backends, descendants
from lab.outbox_bench.workers import StartedWorker, no_workers, running_workers
from outbox import relay, store
from outbox.diagnostics import HANDLER, STREAM_TYPE, DiagnosticPing
from outbox.models import Delivery, Event


@dataclass
class PhaseResult:
    name: str
    events: int
    append_seconds: float
    events_appended_per_second: float
    drain_seconds: float
    deliveries_completed_per_second: float
    latency_ms: dict[str, float] = field(default_factory=dict)
    # CPU spent per delivery while draining, by part: the figure that a busy, shared machine
    # does not distort (throughput there depends on what else is running).
    cpu_ms_per_delivery: dict[str, float] = field(default_factory=dict)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def latency_summary(latencies: list[float]) -> dict[str, float]:
    ms = [x * 1000 for x in latencies]
    return {
        "p50": round(_percentile(ms, 0.50), 2),
        "p90": round(_percentile(ms, 0.90), 2),
        "p99": round(_percentile(ms, 0.99), 2),
        "max": round(max(ms), 2) if ms else float("nan"),
        "mean": round(statistics.fmean(ms), 2) if ms else float("nan"),
    }


def append_pings(stream_id: str, count: int, *, pace: Callable[[int], None] | None = None
                 ) -> dict[int, float]:
    """Append `count` pings, one per transaction; returns event id -> commit time (epoch s)."""
    committed: dict[int, float] = {}
    for seq in range(count):
        if pace is not None:
            pace(seq)
        with transaction.atomic():
            ping = DiagnosticPing(run=stream_id, seq=seq)
            rows = store.append(STREAM_TYPE, stream_id, seq, [ping], correlation_id=stream_id,
                                actor="bench_outbox")
        committed[rows[0].id] = time.time()
    return committed


def _deliveries(event_ids: list[int], status: str) -> Any:
    # A range, not a long IN list; counting the pending ones reads the small partial index,
    # so polling costs the database little while the workers drain.
    return Delivery.objects.filter(
        event_id__gte=min(event_ids), event_id__lte=max(event_ids), handler=HANDLER,
        status=status,
    )


def wait_until_done(event_ids: list[int], timeout: float,
                    while_waiting: Callable[[], None] | None = None) -> dict[int, float]:
    """Wait until every event's no-op delivery is done; returns event id -> handled-at."""
    deadline = time.monotonic() + timeout
    wanted = set(event_ids)
    while True:
        if not _deliveries(event_ids, Delivery.Status.PENDING).exists():
            rows = _deliveries(event_ids, Delivery.Status.DONE).values_list("event_id", "done_at")
            handled = {event_id: at.timestamp() for event_id, at in rows if event_id in wanted}
            if len(handled) == len(wanted):
                return handled
            raise RuntimeError(f"{len(wanted) - len(handled)} deliveries went dead")
        if time.monotonic() > deadline:
            pending = _deliveries(event_ids, Delivery.Status.PENDING).count()
            raise TimeoutError(f"{pending} of {len(event_ids)} deliveries still pending after "
                               f"{timeout}s (are workers consuming the queue?)")
        if while_waiting is not None:
            while_waiting()
        time.sleep(0.05)


def warm_up(run: str, timeout: float, workers: list[StartedWorker]) -> None:
    """Wait until the workers answer: a few pings, all handled (the pool processes have
    connected to the database and the broker by then). A worker that dies fails at once."""
    committed = append_pings(f"{run}-warmup", 8)
    wait_until_done(list(committed), timeout,
                    while_waiting=lambda: [w.check_alive() for w in workers])


def fast_path(run: str, count: int, rate: float, timeout: float) -> PhaseResult:
    """Events one per transaction at `rate` per second on an idle system: each is sent on
    commit and handled at once; latency is commit to handled."""
    start = time.monotonic()

    def pace(seq: int) -> None:
        wait = start + seq / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    committed = append_pings(f"{run}-fast", count, pace=pace)
    appended = time.monotonic() - start
    handled = wait_until_done(list(committed), timeout)
    latencies = [handled[i] - committed[i] for i in committed]
    span = max(handled.values()) - min(committed.values())
    return PhaseResult(
        name="fast_path", events=count, append_seconds=round(appended, 3),
        events_appended_per_second=round(count / appended, 1),
        drain_seconds=round(span, 3), deliveries_completed_per_second=round(count / span, 1),
        latency_ms=latency_summary(latencies),
    )


def backlog(run: str, count: int, timeout: float, meter: CpuMeter) -> PhaseResult:
    """Append `count` events with the relay suppressed (as after an outage), make them due,
    then let the sweep drain them through the workers in batches."""
    start = time.monotonic()
    with relay.suppressed():
        committed = append_pings(f"{run}-backlog", count)
    appended = time.monotonic() - start
    event_ids = list(committed)
    Delivery.objects.filter(event_id__in=event_ids).update(next_attempt_at=timezone.now())

    meter.sample()
    drain_start = time.time()
    next_sweep = 0.0

    def sweep_like_beat() -> None:
        nonlocal next_sweep
        if time.monotonic() >= next_sweep:
            relay.sweep()
            next_sweep = time.monotonic() + settings.OUTBOX_SWEEP_INTERVAL_SECONDS

    sweep_like_beat()
    handled = wait_until_done(event_ids, timeout, while_waiting=sweep_like_beat)
    meter.sample()
    cpu = meter.per_unit_ms(count)
    drained = max(handled.values()) - drain_start
    latencies = [handled[i] - committed[i] for i in event_ids]
    return PhaseResult(
        name="backlog", events=count, append_seconds=round(appended, 3),
        events_appended_per_second=round(count / appended, 1),
        drain_seconds=round(drained, 3),
        deliveries_completed_per_second=round(count / drained, 1),
        latency_ms=latency_summary(latencies), cpu_ms_per_delivery=cpu,
    )


def cpu_meter(worker_pids: list[int]) -> CpuMeter:
    """CPU by part: the workers' main processes take messages from the broker and hand them
    to their pool processes, which run the deliveries; the database's backends; this one."""
    return CpuMeter(alone={
        "worker_main": lambda: worker_pids,
        "worker_pool": lambda: [p for pid in worker_pids for p in descendants(pid)],
        "postgres": lambda: database_backends(include_own=True),
        "bench_process": lambda: [os.getpid()],
    })


def remove_run(run: str) -> int:
    """Delete the bench's own diagnostic events and deliveries (they are not business facts)."""
    events = Event.objects.filter(stream_type=STREAM_TYPE, stream_id__startswith=run)
    Delivery.objects.filter(event__in=events).delete()
    deleted, _ = events.delete()
    return deleted


def vacuum_outbox_tables() -> None:
    """Reclaim the dead row versions a run leaves (where autovacuum is off, as on some
    development servers, they would slow every later run and the application itself)."""
    if connection.in_atomic_block:
        return  # VACUUM cannot run inside a transaction (e.g. under a test)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) outbox_delivery, outbox_event")


def run_benchmark(*, fast_events: int, rate: float, backlog_events: int, workers: int,
                  concurrency: int, attach: bool, timeout: float,
                  keep: bool = False, say: Callable[[str], None] = print) -> dict[str, Any]:
    run = f"bench-{uuid.uuid4().hex[:10]}"
    results: dict[str, Any] = {
        "run": run,
        "started_at": timezone.now().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "workers": "attached" if attach else {"count": workers, "concurrency": concurrency},
        "settings": {
            "OUTBOX_BATCH_SIZE": settings.OUTBOX_BATCH_SIZE,
            "CELERY_WORKER_PREFETCH_MULTIPLIER": settings.CELERY_WORKER_PREFETCH_MULTIPLIER,
            "OUTBOX_CHAOS": settings.OUTBOX_CHAOS,
            "OUTBOX_ASYNC_COMMIT": settings.OUTBOX_ASYNC_COMMIT,
        },
    }
    vacuum_outbox_tables()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as log_dir:
        context = no_workers() if attach else running_workers(workers, concurrency,
                                                                Path(log_dir))
        try:
            with context as started:
                say("waiting for the workers to answer...")
                try:
                    warm_up(run, timeout=60, workers=started)
                except TimeoutError:
                    for worker in started:
                        say(f"--- {worker.log.name}\n"
                            f"{worker.log.read_text(errors='replace')[-3000:]}")
                    raise
                meter = cpu_meter([worker.process.pid for worker in started])
                if fast_events:
                    say(f"fast path: {fast_events} events at {rate:g}/s, one per transaction")
                    results["fast_path"] = asdict(fast_path(run, fast_events, rate, timeout))
                if backlog_events:
                    say(f"backlog: {backlog_events} events appended with the relay suppressed, "
                        "drained by the sweep")
                    results["backlog"] = asdict(backlog(run, backlog_events, timeout, meter))
        finally:
            if not keep:
                remove_run(run)
                vacuum_outbox_tables()
    return results
