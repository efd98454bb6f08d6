"""A chaos run: orders placed through the API while faults are injected; then the faults stop,
the system is given a deadline to converge on its own (the reconciler on beat included), the
audit checks the invariants, and the report says what happened.

It passes only if, at the deadline, every saga is converged or needs a person's attention with
a reason, the audit finds no violation, every confirmed order got exactly one confirmation
e-mail (and no other order any), the API never answered a server error nor refused service,
and every fault asked for could be injected.
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone

from common.progress import Progress
from lab.chaos.faults import (
    DEFAULT_FAULT_ENV,
    PROCESS_FAULTS,
    FaultInjector,
    expected_system_faults,
    system_faults,
)
from lab.figures import distribution, machine, percentile
from lab.stack import observe
from lab.stack.clients import CHAOS_TOKENS, ClientResults, OrderClients, OrderMix
from lab.stack.database import run_manage
from lab.stack.processes import StackConfig
from lab.stack.target import Target, target

# Short timings, so recovery happens within a run's patience (every process gets them).
CHAOS_TIMINGS = {
    "OUTBOX_SWEEP_GRACE_SECONDS": "2", "OUTBOX_LEASE_SECONDS": "5",
    "OUTBOX_SWEEP_INTERVAL_SECONDS": "1", "OUTBOX_BACKOFF_BASE_SECONDS": "0.1",
    "OUTBOX_BACKOFF_CAP_SECONDS": "2", "SAGA_STEP_DEADLINE_SECONDS": "5",
    "SAGA_RECONCILE_INTERVAL_SECONDS": "1", "SAGA_BACKOFF_BASE_SECONDS": "0.5",
    "SAGA_BACKOFF_CAP_SECONDS": "3", "SAGA_VERIFY_INTERVAL_SECONDS": "5",
    "ORDER_THROTTLE_RATE": "1000000/minute",
}


@dataclass
class ChaosOptions:
    orders: int | None = 200
    duration: float | None = None
    clients: int = 4
    rate: float | None = 10.0  # orders/s in total, so faults land among the orders
    fault_interval: float = 3.0
    faults: tuple[str, ...] = PROCESS_FAULTS
    fault_env: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FAULT_ENV))
    deadline: float = 120.0
    fault_tail: float = 60.0  # at most this long with faults on after the last order
    workers: int = 2
    concurrency: int = 2
    scratch: bool = True
    keep: bool = False
    attach: str | None = None
    tokens: list[str] = field(default_factory=list)
    seed: int | None = None
    label: str = ""


def run_chaos(opts: ChaosOptions, ui: Progress) -> dict[str, Any]:
    if opts.seed is None:  # a run can be repeated with --seed (its timing cannot)
        opts.seed = random.randrange(1_000_000)
    config = StackConfig(workers=opts.workers, concurrency=opts.concurrency,
                         env=dict(CHAOS_TIMINGS), fault_env=opts.fault_env,
                         no_inline_hops=frozenset(range(2, opts.workers + 1, 2)),
                         mail_to_files=True)
    started = time.monotonic()
    with target(label="chaos", ui=ui, config=config, customers=opts.clients, scarce_stock=25,
                attach=opts.attach, tokens=opts.tokens, scratch=opts.scratch,
                keep=opts.keep, faults=True) as run:
        phases = {"start": round(time.monotonic() - started, 1)}
        report = _drive(run, opts, ui, phases)
        run.keep = run.keep or not report["ok"]
        return report


def _drive(run: Target, opts: ChaosOptions, ui: Progress, phases: dict[str, float]) -> dict:
    kinds = opts.faults if run.stack else tuple(k for k in opts.faults
                                                  if k in ("flush_broker",
                                                           "terminate_db_connections"))
    injector = FaultInjector(run.stack, run.redis_url, kinds=kinds,
                             interval=opts.fault_interval, seed=opts.seed)
    mix = OrderMix(tuple(run.catalogue.skus), CHAOS_TOKENS, refused_address=0.07, cancel=0.08,
                   scarce_sku=run.catalogue.scarce_sku, scarce=0.1)
    clients = OrderClients(run.base_url, run.tokens, mix, count=opts.orders,
                           duration=opts.duration, rate=opts.rate, seed=opts.seed)
    faults_from = timezone.now()
    mark = time.monotonic()
    if kinds:
        injector.start()
    try:
        results = clients.run(lambda r, c: ui.update(
            "placing orders", len(r.placed), opts.orders, unit="orders",
            note=f"faults {dict(injector.injected)}, http errors {len(r.server_errors)}"))
        results.merge(_fault_tail(run, opts, mix, injector, faults_from, ui))
    finally:
        injector.stopping.set()
        if kinds:
            injector.stop()
    phases["load"] = round(time.monotonic() - mark, 1)
    ui.say(f"placed {len(results.placed)} orders in {results.seconds:.1f}s; faults "
           f"{dict(injector.injected)}; stopping the faults ...")
    mark = time.monotonic()
    if run.stack:
        run.stack.without_faults()
    faults_until = timezone.now()
    phases["restart_without_faults"] = round(time.monotonic() - mark, 1)
    ids = [p.order_id for p in results.placed]
    in_flight = observe.unsettled(ids)
    mark = time.monotonic()
    waited = observe.wait_until_settled(ids, opts.deadline, lambda left, q, s: ui.update(
        "converging", len(ids) - left, len(ids), unit="sagas",
        note=f"{q.pending_deliveries} deliveries pending, {q.dead_deliveries} dead, "
             f"{s:.0f}s of {opts.deadline:.0f}s"))
    phases["converge"] = round(time.monotonic() - mark, 1)
    mark = time.monotonic()
    audit = _audit(run)
    phases["audit"] = round(time.monotonic() - mark, 1)
    logs = run.stack.logs() if run.stack else {}
    injected = Counter(injector.injected)
    if run.stack:
        injected.update(system_faults(faults_from, faults_until, logs, opts.fault_env))
    return _report(run, opts, results, injector, injected, ids, in_flight, waited, faults_until,
                   audit, phases)


def _emails(run: Target, final: dict[str, str]) -> dict[str, Any]:
    """The confirmation e-mails the workers wrote: exactly one per confirmed order."""
    if run.stack is None or not run.stack.config.mail_to_files:
        return {"checked": False}
    sent = Counter(re.findall(r"Subject: Your order (\S+) is confirmed", run.stack.mails()))
    return {"checked": True, "sent": sum(sent.values()),
            "sent_twice": sorted(i for i, n in sent.items() if n > 1)[:20],
            "sent_for_unconfirmed": sorted(i for i in sent if final.get(i) != "confirmed")[:20],
            "confirmed_without": sorted(i for i, status in final.items()
                                        if status == "confirmed" and not sent[i])[:20]}


def _fault_tail(run: Target, opts: ChaosOptions, mix: OrderMix, injector: FaultInjector,
                since: Any, ui: Progress) -> ClientResults:
    """Keep the faults on, and the customers ordering, until every kind of fault has been
    injected at least once (at most `fault_tail` seconds): a small run may miss a rare one
    (a gateway decline at 5 % of the charges), and those need new orders to happen."""
    wanted = expected_system_faults(opts.fault_env) if run.stack else set()

    def missing() -> list[str]:
        seen = system_faults(since, timezone.now(), run.stack.logs(), opts.fault_env) \
            if wanted and run.stack else Counter()
        return sorted({k for k in wanted if not seen.get(k)}
                      | {k for k in injector.kinds if not injector.injected.get(k)})

    if not missing():
        return ClientResults()
    tail = OrderClients(run.base_url, run.tokens, mix, duration=opts.fault_tail,
                        rate=opts.rate, seed=opts.seed)
    checked = [0.0]

    def progress(results: ClientResults, clients: OrderClients) -> None:
        if time.monotonic() - checked[0] >= 2.0:
            checked[0] = time.monotonic()
            still = missing()
            if not still:
                clients.stopping.set()
            ui.update("faults on until every kind is seen", len(results.placed),
                      unit="orders", note=f"missing {still}")

    return tail.run(progress)


def _audit(run: Target) -> dict[str, Any]:
    """`manage.py audit --json --strict` on the run's database, as an operator would run it."""
    env = run.stack.env("audit") if run.stack else dict(os.environ)
    result = run_manage(["audit", "--json", "--strict"], env, check=False)
    try:
        return json.loads(result.stdout)
    except ValueError:
        return {"ok": False, "checks": [], "error": (result.stdout + result.stderr)[-3000:]}


def _report(run: Target, opts: ChaosOptions, results: ClientResults, injector: FaultInjector,
            injected: Counter[str], ids: list[str], in_flight: list[str], waited: float,
            faults_until: Any, audit: dict[str, Any], phases: dict[str, float]) -> dict:
    states = observe.saga_states(ids)
    statuses = observe.order_statuses(ids)
    pending = observe.unsettled(ids)
    times = observe.converged_after(in_flight, faults_until)
    backlog = observe.backlog()
    violations = [{"invariant": c["invariant"], "name": c["name"],
                   "count": c["violation_count"], "first": c["violations"][:10]}
                  for c in audit.get("checks", []) if not c["ok"]]
    by_token: dict[str, Counter[str]] = {}
    final = dict(observe.OrderView.objects.filter(id__in=ids).values_list("id", "status"))
    for placed in results.placed:
        key = placed.token + (" + refused address" if placed.refused_address else "")
        by_token.setdefault(key, Counter())[final.get(placed.order_id, "missing")] += 1
    emails = _emails(run, final)
    wanted = set(injector.kinds)
    if run.stack:
        wanted |= expected_system_faults(opts.fault_env)
    missing = sorted(kind for kind in wanted if not injected.get(kind))
    failures = []
    if violations or not audit.get("ok", False):
        failures.append(f"{sum(v['count'] for v in violations)} invariant violation(s)"
                        + (f": {audit['error'][:300]}" if audit.get("error") else ""))
    if pending:
        failures.append(f"{len(pending)} saga(s) still pending at the deadline")
    if results.server_errors:
        failures.append(f"{sum(n for s, n in results.statuses.items() if s >= 500)} server "
                        "error(s) from the API")
    if results.gave_up:
        failures.append(f"{results.gave_up} order(s) could not be placed at all")
    if emails.get("sent_twice") or emails.get("sent_for_unconfirmed") \
            or emails.get("confirmed_without"):
        failures.append("confirmation e-mails not exactly one per confirmed order")
    if injector.errors:
        failures.append(f"{len(injector.errors)} fault(s) could not be injected")
    return {
        "kind": "chaos", "ok": not failures, "failures": failures, "label": opts.label,
        "finished_at": timezone.now().isoformat(), "machine": machine(),
        "config": {"seed": opts.seed, "orders": opts.orders, "duration": opts.duration,
                   "clients": opts.clients,
                   "rate": opts.rate, "fault_interval": opts.fault_interval,
                   "workers": opts.workers, "concurrency": opts.concurrency,
                   "fault_settings": opts.fault_env, "deadline": opts.deadline,
                   "attach": opts.attach, "database": run.database_name, "notes": run.notes},
        "orders": {"placed": len(ids), "confirmed": statuses.get("confirmed", 0),
                   "cancelled": statuses.get("cancelled", 0),
                   "pending": statuses.get("pending", 0),
                   "needs_attention": states.get("needs_attention", 0),
                   "by_token": {k: dict(v) for k, v in sorted(by_token.items())},
                   "cancel_requests": dict(Counter(p.cancel_status for p in results.placed
                                                   if p.cancel_status is not None))},
        "http": {"statuses": dict(results.statuses), "server_errors": results.server_errors,
                 "transport_errors": results.transport_errors, "rejected": results.rejected,
                 "gave_up": results.gave_up,
                 "placement_latency": distribution([p.seconds for p in results.placed],
                                                   unit="ms")},
        "sagas": {"states": dict(states), "still_pending_at_deadline": pending[:50],
                  "needs_attention": observe.needing_attention(ids)},
        "invariants": {"ok": bool(audit.get("ok")), "violations": violations},
        "emails": emails,
        "deliveries": {"dead": backlog.dead_deliveries, "pending": backlog.pending_deliveries,
                       "dead_samples": observe.dead_deliveries()},
        "convergence": {
            "in_flight_at_end_of_faults": len(in_flight),
            "all_settled_after_seconds": round(waited, 1) if not pending else None,
            "per_saga_seconds": {
                "median": round(statistics.median(times), 2) if times else None,
                "p90": round(percentile(times, 0.9), 2) if times else None,
                "max": round(max(times), 2) if times else None}},
        "corrections": observe.corrections(ids),
        "faults": {"injected": dict(sorted(injected.items())), "missing_kinds": missing,
                   "every_kind_injected": not missing, "injector_errors": injector.errors,
                   "timeline": injector.timeline},
        "phases_seconds": phases, "logs": str(run.log_dir),
    }


def default_output() -> Path:
    return Path("bench-results") / "chaos.json"
