"""Part 1: this system end to end, API -> confirmed, on the harness's stack (gunicorn, Celery
workers, beat) and with its HTTP clients and measurements (lab.load.run); one stack
for every step of the ramp."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from common.progress import Progress
from lab.bench.ramp import Load, Plan, others_cores, ramp, step_figures
from lab.load.run import LOAD_ENV, LoadOptions
from lab.load.run import measure as measure_load
from lab.stack.processes import StackConfig
from lab.stack.target import Target, target


@dataclass(frozen=True)
class StackSize:
    # One worker of four processes: on two cores its processes wait on PostgreSQL much of
    # the time, and one consumer costs less than two (measured: 36 vs 30 orders/s).
    workers: int = 1
    concurrency: int = 4
    web_workers: int = 2
    web_threads: int = 4
    scratch: bool = True  # a scratch database; else the one this process uses
    env: dict[str, str] = field(default_factory=dict)  # settings for the system's processes

    def config(self, env: dict[str, str] | None = None) -> StackConfig:
        return StackConfig(workers=self.workers, concurrency=self.concurrency,
                           web_workers=self.web_workers, web_threads=self.web_threads,
                           env=dict(env or {}))


def run_system(plan: Plan, size: StackSize, ui: Progress) -> dict[str, Any]:
    ui.say("1. this system, API -> confirmed")
    with target(label="bench", ui=ui, config=size.config({**LOAD_ENV, **size.env}),
                customers=max(plan.clients),
                scratch=size.scratch) as run:
        result = ramp(lambda load: _step(run, load, plan, ui), plan, ui.say)
    result["stack"] = {"workers": size.workers, "concurrency": size.concurrency,
                       "web_workers": size.web_workers, "web_threads": size.web_threads,
                       "env": size.env}
    return result


def _step(run: Target, load: Load, plan: Plan, ui: Progress) -> dict[str, Any]:
    opts = LoadOptions(clients=load.clients, orders=load.orders, duration=load.duration,
                       rate=load.rate, deadline=plan.deadline, sample_every=1.0)
    report = measure_load(replace(run, tokens=run.tokens[:load.clients]), opts, ui)
    orders, throughput = report["orders"], report["throughput"]
    cpu = report["cpu"].get("cpu_seconds", {}) if report["cpu"].get("available") else None
    if cpu:
        cpu = {role: s for role, s in cpu.items() if role != "harness"}
    failures = list(report["failures"])
    if orders["cancelled"]:
        failures.append(f"{orders['cancelled']} order(s) cancelled")
    step = step_figures(
        load, placed=orders["placed"], confirmed=orders["confirmed"], pending=orders["pending"],
        span_seconds=throughput["first_placed_to_last_confirmed_seconds"],
        placing_seconds=throughput["placing_seconds"],
        latencies=[], cpu=cpu, failures=failures)
    # The load test's own distributions (from the event store), and its backlog trend.
    step["latency_ms"] = report["latency_placed_to_confirmed"]
    step["confirmed_per_second"] = throughput["confirmed_per_second"]
    step["accepted_per_second"] = throughput["accepted_per_second"]
    step["api_placement_ms"] = report["latency_api_placement"]
    step["backlog_trend_per_minute"] = report["trend_during_load_per_minute"]
    step["others_cores_used"] = others_cores(report["cpu"])
    return step
