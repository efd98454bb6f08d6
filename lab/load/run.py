"""A load test: customers place orders through the API for a count or a duration (as fast as
they can, or at a rate); every order is then followed to a terminal state; the event store
gives the end-to-end latencies; a sampler records the backlog, CPU and memory over time.

At a fixed rate below the maximum, the slopes of the backlog and of the in-flight sagas say
whether the system keeps up (about 0) or falls behind (growing), and the workers' memory
slope whether anything leaks.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils import timezone

from common.progress import Progress
from lab import cpu
from lab.figures import distribution, machine, slope
from lab.stack import observe
from lab.stack.clients import ClientResults, OrderClients, OrderMix
from lab.stack.processes import Stack, StackConfig
from lab.stack.target import Target, target

# Production timings; only the placement throttle is lifted (the clients are the load).
LOAD_ENV = {"ORDER_THROTTLE_RATE": "1000000/minute"}


@dataclass
class LoadOptions:
    clients: int = 8
    orders: int | None = None
    duration: float | None = 30.0
    rate: float | None = None  # orders/s in total; None: as fast as the clients can
    deadline: float = 300.0  # for every order to reach a terminal state
    workers: int = 2
    concurrency: int = 2
    web_workers: int = 2
    web_threads: int = 4
    scratch: bool = True
    keep: bool = False
    attach: str | None = None
    tokens: list[str] = field(default_factory=list)
    seed: int | None = None
    label: str = ""
    sample_every: float = 1.0


class Sampler(threading.Thread):
    """Every `every` seconds: the backlog, the orders placed so far, memory; and CPU by role."""

    def __init__(self, stack: Stack | None, clients: OrderClients, every: float) -> None:
        super().__init__(daemon=True, name="sampler")
        self.stack, self.clients, self.every = stack, clients, every
        self.samples: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        roles = {"postgres": cpu.database_backends}
        if stack:
            roles.update(web=lambda: [stack.web.pid], beat=lambda: [stack.beat.pid],
                         worker=lambda: [w.pid for w in stack.workers])
        # The harness is this process alone: its children are the stack's processes.
        self.cpu = cpu.CpuMeter(roles, alone={"harness": lambda: [os.getpid()]})
        self.began = time.monotonic()

    def run(self) -> None:
        self.began = time.monotonic()
        try:
            while True:
                self.sample()
                if self.stopping.wait(self.every):
                    break
            self.sample()
        finally:
            connection.close()

    def sample(self) -> None:
        queue = observe.backlog()
        self.cpu.sample()
        row: dict[str, Any] = {
            "t": round(time.monotonic() - self.began, 2),
            "placed": len(self.clients.results.placed),
            "pending_deliveries": queue.pending_deliveries,
            "in_flight_sagas": queue.in_flight_sagas,
            "dead_deliveries": queue.dead_deliveries,
        }
        if self.stack:
            row["worker_rss_mb"] = round(sum(cpu.rss_bytes(p) for w in self.stack.workers
                                             for p in cpu.tree(w.pid)) / 2**20, 1)
            row["web_rss_mb"] = round(sum(cpu.rss_bytes(p)
                                          for p in cpu.tree(self.stack.web.pid)) / 2**20, 1)
        self.samples.append(row)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


def run_loadtest(opts: LoadOptions, ui: Progress) -> dict[str, Any]:
    config = StackConfig(workers=opts.workers, concurrency=opts.concurrency,
                         web_workers=opts.web_workers, web_threads=opts.web_threads,
                         env=dict(LOAD_ENV))
    with target(label="load", ui=ui, config=config, customers=opts.clients,
                attach=opts.attach, tokens=opts.tokens, scratch=opts.scratch,
                keep=opts.keep) as run:
        report = measure(run, opts, ui)
        run.keep = run.keep or not report["ok"]
        return report


def measure(run: Target, opts: LoadOptions, ui: Progress) -> dict[str, Any]:
    mix = OrderMix(tuple(run.catalogue.skus))
    clients = OrderClients(run.base_url, run.tokens, mix, count=opts.orders,
                           duration=opts.duration, rate=opts.rate, seed=opts.seed)
    sampler = Sampler(run.stack, clients, opts.sample_every)
    sampler.start()
    try:
        results = clients.run(lambda r, c: _placing(ui, opts, r, sampler))
        load_seconds = time.monotonic() - sampler.began
        ids = [p.order_id for p in results.placed]
        waited_from = time.monotonic()
        left = ids
        while left:
            still = _pending(left)
            left = [i for i in left if i in still]
            ui.update("waiting for every order to finish", len(ids) - len(left), len(ids),
                      unit="orders",
                      note=f"backlog {_last(sampler, 'pending_deliveries')} deliveries")
            if not left or time.monotonic() - waited_from > opts.deadline:
                break
            time.sleep(0.5)
        drain_seconds = time.monotonic() - waited_from
    finally:
        sampler.stop()
    return _report(run, opts, results, sampler, ids, left, load_seconds, drain_seconds)


def _pending(ids: list[str]) -> set[str]:
    return set(observe.OrderView.objects.filter(id__in=ids, status="pending")
               .values_list("id", flat=True))


def _last(sampler: Sampler, key: str) -> Any:
    return sampler.samples[-1].get(key, "?") if sampler.samples else "?"


def _placing(ui: Progress, opts: LoadOptions, results: ClientResults,
             sampler: Sampler) -> None:
    """Progress of the placing phase: by orders for a count, by seconds for a duration."""
    seconds = time.monotonic() - results.started
    note = (f"{len(results.placed)} orders, {len(results.placed) / max(1e-9, seconds):.1f}/s; "
            f"backlog {_last(sampler, 'pending_deliveries')} deliveries, "
            f"{_last(sampler, 'in_flight_sagas')} sagas in flight")
    if opts.orders:
        ui.update("placing orders", len(results.placed), opts.orders, unit="orders", note=note)
    else:
        ui.update("placing orders", min(seconds, opts.duration or seconds), opts.duration,
                  unit="s", note=note)


def _report(run: Target, opts: LoadOptions, results: Any, sampler: Sampler, ids: list[str],
            left: list[str], load_seconds: float, drain_seconds: float) -> dict[str, Any]:
    statuses = observe.order_statuses(ids)
    latencies = observe.placed_to_confirmed(ids)
    first_placed, last_confirmed = observe.event_span(ids)
    span = (last_confirmed - first_placed).total_seconds() if first_placed and last_confirmed \
        else None
    # The backlog first climbs to its steady level (rate x latency): the trend is taken after
    # a warm-up of a fifth of the load (at most 30 s).
    warm_up = min(30.0, load_seconds / 5)
    during_load = [s for s in sampler.samples if warm_up <= s["t"] <= load_seconds]
    trend = {key: _per_minute(during_load, key)
             for key in ("pending_deliveries", "in_flight_sagas", "worker_rss_mb", "web_rss_mb")
             if during_load and key in during_load[0]}
    trend["after_warm_up_seconds"] = round(warm_up, 1)
    failures = []
    if left:
        failures.append(f"{len(left)} order(s) still pending after {opts.deadline:.0f}s")
    if results.server_errors:
        failures.append(f"{len(results.server_errors)} server error(s) from the API")
    if results.gave_up:
        failures.append(f"{results.gave_up} order(s) could not be placed at all")
    return {
        "kind": "loadtest", "ok": not failures, "failures": failures, "label": opts.label,
        "finished_at": timezone.now().isoformat(), "machine": machine(),
        "config": {"seed": opts.seed, "clients": opts.clients, "orders": opts.orders,
                   "duration": opts.duration, "rate": opts.rate, "workers": opts.workers,
                   "concurrency": opts.concurrency,
                   "web_workers": opts.web_workers, "web_threads": opts.web_threads,
                   "attach": opts.attach, "database": run.database_name, "notes": run.notes},
        "orders": {"placed": len(ids), "confirmed": statuses.get("confirmed", 0),
                   "cancelled": statuses.get("cancelled", 0), "pending": len(left)},
        "throughput": {
            "accepted_per_second": round(len(ids) / results.seconds, 1),
            "confirmed_per_second": round(statuses.get("confirmed", 0) / span, 1)
            if span else None,
            "placing_seconds": round(results.seconds, 1),
            "first_placed_to_last_confirmed_seconds": round(span, 1) if span else None,
            "drain_after_load_seconds": round(drain_seconds, 1)},
        "latency_placed_to_confirmed": distribution(list(latencies.values()), unit="ms"),
        "latency_api_placement": distribution([p.seconds for p in results.placed], unit="ms"),
        "http": {"statuses": dict(results.statuses), "server_errors": results.server_errors,
                 "transport_errors": results.transport_errors, "rejected": results.rejected},
        "trend_during_load_per_minute": trend,
        "memory_mb": {key: {"first": values[0], "last": values[-1], "max": max(values)}
                      for key in ("worker_rss_mb", "web_rss_mb")
                      if (values := [s[key] for s in sampler.samples if key in s])},
        "cpu": sampler.cpu.summary(sampler.samples[-1]["t"] if sampler.samples else 0),
        "samples": sampler.samples,
        "logs": str(run.log_dir),
    }


def _per_minute(samples: list[dict[str, Any]], key: str) -> float | None:
    value = slope([(s["t"], s[key]) for s in samples])
    return None if value is None else round(value * 60, 2)


def summary(report: dict[str, Any]) -> str:
    t, o = report["throughput"], report["orders"]
    lat, api = report["latency_placed_to_confirmed"], report["latency_api_placement"]
    cpu = report["cpu"]
    lines = [
        f"load test: {'OK' if report['ok'] else 'FAILED'}"
        + (f" ({'; '.join(report['failures'])})" if report["failures"] else ""),
        f"  orders: {o['placed']} placed, {o['confirmed']} confirmed, {o['cancelled']} "
        f"cancelled, {o['pending']} pending",
        f"  accepted {t['accepted_per_second']}/s; confirmed end to end "
        f"{t['confirmed_per_second']}/s",
        f"  placed -> confirmed: p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms "
        f"(max {lat['max']} ms); API placement p50 {api['p50']} ms, p99 {api['p99']} ms",
        f"  trend during the load (per minute): {report['trend_during_load_per_minute']}",
        f"  memory (MB, first/last/max): {report['memory_mb']}",
    ]
    if cpu.get("available"):
        lines.append(f"  CPU (cores used): {cpu['cores_used']}; others on the machine "
                     f"{cpu['others_cores_used']} of {cpu['machine_cores']}")
    return "\n".join(lines)


def default_output() -> Path:
    return Path("bench-results") / "loadtest.json"
