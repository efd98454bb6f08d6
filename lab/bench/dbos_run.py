"""Part 3: DBOS Transact, the nearest Python peer, running the four steps as a durable workflow
(lab.bench.dbos_flow) in its own scratch database on the same PostgreSQL: one long-lived
DBOS process per core, their callers splitting each step's clients and rate. Skipped, with
the reason, when `dbos` is not installed (it is the optional `lab` extra)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from typing import IO, Any

import psycopg
from django.conf import settings
from psycopg import sql

from common.progress import Progress
from lab import cpu
from lab.bench import flow_sql
from lab.bench.ramp import Load, Plan, others_cores, ramp, step_figures
from lab.stack import database

NOT_INSTALLED = ("DBOS Transact is not installed: it is an optional bench dependency "
                 "(pip install -e '.[lab]')")


def dbos_version() -> str | None:
    if importlib.util.find_spec("dbos") is None:
        return None
    return importlib.metadata.version("dbos")


class Peer:
    """The DBOS processes, each answering one load at a time over its stdin and stdout."""

    def __init__(self, url: str, processes: int, max_threads: int) -> None:
        self.url = url
        argv = [sys.executable, "-m", "lab.bench.dbos_flow", "serve", "--url", url,
                "--max-threads", str(max_threads)]
        self.procs = [subprocess.Popen([*argv, "--index", str(i)], cwd=settings.BASE_DIR,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True,
                                       start_new_session=True)
                      for i in range(processes)]
        for proc in self.procs:
            _answer(proc)  # {"ready": true}

    def run(self, load: Load, run: str) -> list[dict[str, Any]]:
        """Split the load's clients (and its orders and rate with them) over the processes."""
        busy = [(proc, threads) for proc, threads in
                zip(self.procs, _split(load.clients, len(self.procs)), strict=True) if threads]
        orders = _split(load.orders, len(busy)) if load.orders else [None] * len(busy)
        for (proc, threads), count in zip(busy, orders, strict=True):
            ask = {"run": run, "threads": threads, "orders": count, "duration": load.duration,
                   "rate": load.rate * threads / load.clients if load.rate else None}
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(ask) + "\n")
            proc.stdin.flush()
        return [_answer(proc) for proc, _ in busy]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.stdin:
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _answer(proc: subprocess.Popen[str]) -> dict[str, Any]:
    stdout: IO[str] | None = proc.stdout
    assert stdout is not None
    for line in stdout:
        try:
            return json.loads(line)
        except ValueError:
            continue  # a stray line of the library's
    raise RuntimeError(f"the DBOS process exited ({proc.wait()})")


def run_dbos(plan: Plan, processes: int, ui: Progress) -> dict[str, Any]:
    ui.say("3. PEER: DBOS Transact, the four steps as a durable workflow")
    version = dbos_version()
    if version is None:
        ui.say(f"  skipped: {NOT_INSTALLED}")
        return {"skipped": NOT_INSTALLED}
    name = f"{database.name_of(database.current_url())}_dbos_{secrets.token_hex(3)}"[:63]
    url = database.with_name(database.current_url(), name)
    _admin("CREATE DATABASE {}", name)
    peer = None
    try:
        ui.say(f"  preparing {name} (plain tables, DBOS system tables) ...")
        subprocess.run([sys.executable, "-m", "lab.bench.dbos_flow", "prepare", "--url", url],
                       cwd=settings.BASE_DIR, check=True, capture_output=True, timeout=300)
        peer = Peer(url, processes, max(plan.clients))
        counter = iter(range(1, 1_000_000))
        result = ramp(lambda load: _step(peer, url, load, f"run-{next(counter)}"), plan, ui.say)
    finally:
        if peer is not None:
            peer.stop()
        _admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
    result["dbos_version"] = version
    result["processes"] = processes
    result["isolation"] = "READ COMMITTED"
    return result


def _admin(statement: str, name: str) -> None:
    with psycopg.connect(database.with_name(database.current_url(), "postgres"),
                         autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(name)))


def _step(peer: Peer, url: str, load: Load, run: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        backends = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() " \
                   "AND pid <> pg_backend_pid()"
        meter = cpu.CpuMeter({
            "dbos": lambda: [p.pid for p in peer.procs],
            "postgres": lambda: [row[0] for row in conn.execute(backends)],
        })
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(1.0):
                meter.sample()

        meter.sample()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        try:
            answers = peer.run(load, run)
        finally:
            stop.set()
            sampler.join()
        meter.sample()
        params = {"run": run}
        confirmed, placed, span = conn.execute(flow_sql.SPAN.format(orders=flow_sql.BY_RUN),
                                               params).fetchone()
        latencies = [row[0] for row in conn.execute(
            flow_sql.LATENCIES.format(orders=flow_sql.BY_RUN), params)]
    failed = sum(a["failed"] for a in answers)
    failures = [f"{failed} workflow(s) failed: {answers[0]['errors'][:1]}"] if failed else []
    summary = meter.summary(time.monotonic() - started)
    step = step_figures(load, placed=placed, confirmed=confirmed, pending=placed - confirmed,
                        span_seconds=span, placing_seconds=max(a["seconds"] for a in answers),
                        latencies=latencies, cpu=summary.get("cpu_seconds"), failures=failures)
    step["others_cores_used"] = others_cores(summary)
    return step
