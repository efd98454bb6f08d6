"""What a chaos run injects, and how it counts what was injected.

Process faults are injected by the harness, on a schedule and at random (every kind once
first, in a random order, then kinds at random): SIGKILL of a worker (restarted after a
pause), SIGKILL of beat (restarted), FLUSHDB of the broker's Redis database (ours alone; never
FLUSHALL, other processes share the server), and `pg_terminate_backend` of the workers'
database connections (found by their application_name).

Delivery and provider faults are the system's own, switched on by its settings while faults
are on: `OUTBOX_CHAOS` (duplicate and delayed deliveries), `PAYMENTS_FAULTS` (declines, errors,
slow answers, lost answers, duplicate charges), `SHIPPING_FAULTS` (errors, slow and lost
answers). They are counted afterwards: the gateway's request log and ledger say what it did;
the relay and the carrier log a line for each fault they inject.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

import redis
from django.db import connection
from django.db.models import Q

from common.faults import parse_rates
from common.providers import PROVIDERS_DB
from lab.stack.processes import WORKER_APPLICATION, Stack
from payments.models import GatewayCall, GatewayLedgerEntry

PROCESS_FAULTS = ("kill_worker", "kill_beat", "flush_broker", "terminate_db_connections")
DEFAULT_FAULT_ENV = {
    "PAYMENTS_FAULTS": "decline=0.05,error=0.1,lost_response=0.08,duplicate=0.05,slow_ms=100",
    "SHIPPING_FAULTS": "error=0.1,lost_response=0.08,slow_ms=100",
    "OUTBOX_CHAOS": "duplicate=0.1,delay_ms=300",
}
# The kinds the system injects itself, as counted by `system_faults`.
SYSTEM_FAULTS = ("duplicate_delivery", "delayed_delivery", "gateway_decline", "gateway_error",
                 "gateway_slow_answer", "gateway_lost_response", "gateway_duplicate_charge",
                 "carrier_error", "carrier_slow_answer", "carrier_lost_response")
_LOGGED = {
    re.compile(r"outbox chaos: delivery batch duplicated"): "duplicate_delivery",
    re.compile(r"outbox chaos: delivery batch delayed"): "delayed_delivery",
    re.compile(r"simulated carrier fault: error"): "carrier_error",
    re.compile(r"simulated carrier fault: slow_ms"): "carrier_slow_answer",
    re.compile(r"simulated carrier fault: lost_response"): "carrier_lost_response",
}


class FaultInjector(threading.Thread):
    """Injects process faults every `interval` seconds on average until stopped."""

    def __init__(self, stack: Stack | None, redis_url: str, *, kinds: tuple[str, ...],
                 interval: float, restart_after: float = 1.0, seed: int | None = None) -> None:
        super().__init__(daemon=True, name="fault-injector")
        self.stack, self.redis_url, self.kinds = stack, redis_url, kinds
        self.interval, self.restart_after = interval, restart_after
        self.rng = random.Random(seed)
        self.injected: Counter[str] = Counter()
        self.timeline: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.every_kind_once = threading.Event()
        self._began = time.monotonic()

    def run(self) -> None:
        self._began = time.monotonic()
        order = list(self.kinds)
        self.rng.shuffle(order)
        try:
            while not self.stopping.wait(self.interval * self.rng.uniform(0.5, 1.5)):
                kind = order.pop(0) if order else self.rng.choice(self.kinds)
                try:
                    detail = getattr(self, kind)()
                    self.injected[kind] += 1
                    self.timeline.append({"at": round(time.monotonic() - self._began, 2),
                                          "fault": kind, "detail": detail})
                except Exception as exc:  # a fault that could not be injected is reported
                    self.errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:500])
                if not order and set(self.injected) >= set(self.kinds):
                    self.every_kind_once.set()
        finally:
            connection.close()
            self.every_kind_once.set()  # a waiter is never left hanging (errors say why)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=120)

    # --- the faults -------------------------------------------------------------------------

    def kill_worker(self) -> str:
        assert self.stack is not None
        index = self.rng.randint(1, len(self.stack.workers))
        self.stack.kill_worker(index)
        self.stopping.wait(self.restart_after)
        self.stack.start_worker(index)
        return f"worker-{index}"

    def kill_beat(self) -> str:
        assert self.stack is not None
        self.stack.kill_beat()
        self.stopping.wait(self.restart_after)
        self.stack.start_beat()
        return "beat"

    def flush_broker(self) -> str:
        client = redis.Redis.from_url(self.redis_url)
        try:
            keys = client.dbsize()
            client.flushdb()
        finally:
            client.close()
        return f"{keys} keys"

    def terminate_db_connections(self) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                           "FROM pg_stat_activity WHERE datname = current_database() "
                           "AND application_name LIKE %s", [f"{WORKER_APPLICATION}%"])
            return f"{cursor.fetchone()[0]} connections"


# Which counted kind each fault setting produces.
_KIND_OF_SETTING = {
    ("PAYMENTS_FAULTS", "decline"): "gateway_decline",
    ("PAYMENTS_FAULTS", "error"): "gateway_error",
    ("PAYMENTS_FAULTS", "lost_response"): "gateway_lost_response",
    ("PAYMENTS_FAULTS", "duplicate"): "gateway_duplicate_charge",
    ("PAYMENTS_FAULTS", "slow_ms"): "gateway_slow_answer",
    ("SHIPPING_FAULTS", "error"): "carrier_error",
    ("SHIPPING_FAULTS", "lost_response"): "carrier_lost_response",
    ("SHIPPING_FAULTS", "slow_ms"): "carrier_slow_answer",
    ("OUTBOX_CHAOS", "duplicate"): "duplicate_delivery",
    ("OUTBOX_CHAOS", "delay_ms"): "delayed_delivery",
}


def expected_system_faults(fault_env: dict[str, str]) -> set[str]:
    """The kinds the fault settings switch on (a rate above zero)."""
    return {kind for (variable, name), kind in _KIND_OF_SETTING.items()
            if parse_rates(fault_env.get(variable, "")).get(name, 0) > 0}


def system_faults(since: datetime, until: datetime, logs: dict[str, str],
                  fault_env: dict[str, str]) -> Counter[str]:
    """The faults the system injected itself between `since` and `until`."""
    found: Counter[str] = Counter()
    for text in logs.values():
        for pattern, kind in _LOGGED.items():
            found[kind] += len(pattern.findall(text))
    calls = GatewayCall.objects.using(PROVIDERS_DB).filter(created_at__range=(since, until))
    found["gateway_error"] = calls.filter(outcome=GatewayCall.Answer.ERROR,
                                          detail="random fault").count()
    found["gateway_decline"] = calls.filter(outcome=GatewayCall.Answer.DECLINED).exclude(
        detail__in=["tok_decline", "replayed decline"]).count()
    lost = calls.filter(outcome=GatewayCall.Answer.LOST_RESPONSE)
    entries = lost.filter(operation=GatewayCall.Operation.CHARGE).values_list("detail", flat=True)
    by_token = GatewayLedgerEntry.objects.using(PROVIDERS_DB).filter(
        entry_id__in=list(entries), token="tok_lost_response").count()
    found["gateway_lost_response"] = lost.count() - by_token  # tok_lost_response is the mix
    found["gateway_duplicate_charge"] = GatewayLedgerEntry.objects.using(PROVIDERS_DB).filter(
        ~Q(duplicate_of=""), created_at__range=(since, until)).count()
    if "slow_ms" in fault_env.get("PAYMENTS_FAULTS", ""):
        found["gateway_slow_answer"] = calls.count()  # each answer waited 0..slow_ms
    return Counter({kind: found.get(kind, 0) for kind in SYSTEM_FAULTS})
