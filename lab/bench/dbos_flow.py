"""PEER BASELINE: DBOS Transact (PyPI `dbos`, the optional `lab` extra) running the same four
steps as a durable workflow: placement, then reserve stock, charge, book shipment, confirm,
each a DBOS transaction (its write and DBOS's checkpoint in one PostgreSQL commit) on the
plain tables of lab.bench.flow_sql, with the workflow's state in DBOS's system tables.

Child processes of `manage.py bench` (no Django here), one per core:

    python -m lab.bench.dbos_flow prepare --url postgres://.../saga_j_dbos_x
    python -m lab.bench.dbos_flow serve --url ... --index 0 --max-threads 16

`serve` launches DBOS once, then for each load it reads on stdin ({"run", "threads",
"orders" | "duration", "rate"}) has `threads` callers run workflows back to back (a call
returns once its order is confirmed), paced to `rate` per second if given, and answers one
JSON line: {"placed": n, "failed": n, "errors": [...], "seconds": s}. The latencies are
read afterwards from the order rows (the database's clock).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from lab.bench import flow_sql

ISOLATION = "READ COMMITTED"  # what the system and the naive chain run at, for a like-for-like


def _sqlalchemy_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"postgresql+psycopg://{rest}" if scheme in ("postgres", "postgresql") else url


def _config(url: str, name: str, pool: int, *, migrate: bool) -> dict[str, Any]:
    return {"name": "saga-bench", "system_database_url": _sqlalchemy_url(url),
            "executor_id": name, "sys_db_pool_size": pool, "log_level": "WARNING",
            "run_migrations": migrate}


Workflow = Callable[[str, str, str], None]


def build_workflow(url: str, pool: int, *, migrate: bool = False) -> Workflow:
    """The order workflow, registered with DBOS (call before DBOS.launch())."""
    from dbos import DBOS, SQLAlchemyDatasource

    ds = SQLAlchemyDatasource.create(_sqlalchemy_url(url), run_migrations=migrate,
                                     engine_kwargs={"pool_size": pool, "max_overflow": pool})

    def execute(sql: str, params: dict[str, Any]) -> object:
        return ds.sql_session().connection().exec_driver_sql(sql, params)

    @ds.transaction(isolation_level=ISOLATION)
    def place_order(order_id: str, run: str, lines: str) -> None:
        execute(flow_sql.PLACE, {"id": order_id, "run": run, "lines": lines})

    @ds.transaction(isolation_level=ISOLATION)
    def reserve_stock(order_id: str) -> None:
        flow_sql.reserve_stock(execute, order_id)

    @ds.transaction(isolation_level=ISOLATION)
    def charge_payment(order_id: str) -> None:
        flow_sql.charge_payment(execute, order_id)

    @ds.transaction(isolation_level=ISOLATION)
    def book_shipment(order_id: str) -> None:
        flow_sql.book_shipment(execute, order_id)

    @ds.transaction(isolation_level=ISOLATION)
    def confirm_order(order_id: str) -> None:
        flow_sql.confirm_order(execute, order_id)

    @DBOS.workflow(name="bench_order_workflow")
    def order_workflow(order_id: str, run: str, lines: str) -> None:
        place_order(order_id, run, lines)
        reserve_stock(order_id)
        charge_payment(order_id)
        book_shipment(order_id)
        confirm_order(order_id)

    return order_workflow


def prepare(url: str) -> None:
    """Create the plain tables, seed the stock, and create DBOS's own tables (once, before the
    concurrent runners start)."""
    import psycopg
    from dbos import DBOS

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(flow_sql.CREATE_TABLES)
        conn.execute(flow_sql.SEED_STOCK, {"products": 8})
    build_workflow(url, 2, migrate=True)
    DBOS(config=_config(url, "bench-prepare", 2, migrate=True))  # type: ignore[arg-type]
    DBOS.launch()
    DBOS.destroy()


class Callers:
    """`threads` callers running workflows back to back until `orders` are placed or
    `duration` passes, paced to `rate` per second in total when given."""

    def __init__(self, workflow: Workflow, run: str, skus: list[str],
                 *, threads: int, orders: int | None, duration: float | None,
                 rate: float | None, seed: int) -> None:
        self.workflow, self.run, self.skus = workflow, run, skus
        self.threads, self.orders, self.duration, self.rate = threads, orders, duration, rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.claimed = self.placed = self.failed = 0
        self.errors: list[str] = []
        self.started = 0.0

    def _claim(self) -> float | None:
        with self.lock:
            elapsed = time.monotonic() - self.started
            if (self.orders is not None and self.claimed >= self.orders) or \
                    (self.duration is not None and elapsed >= self.duration):
                return None
            slot = self.claimed
            self.claimed += 1
        return self.started + slot / self.rate if self.rate else 0.0

    def _lines(self, rng: random.Random) -> str:
        skus = rng.sample(self.skus, k=rng.randint(1, min(3, len(self.skus))))
        return json.dumps([{"sku": sku, "quantity": rng.randint(1, 3)} for sku in skus])

    def _caller(self, seed: float) -> None:
        rng = random.Random(seed)
        while (when := self._claim()) is not None:
            if (wait := when - time.monotonic()) > 0:
                time.sleep(wait)
            try:
                self.workflow(str(uuid.uuid4()), self.run, self._lines(rng))
                with self.lock:
                    self.placed += 1
            except Exception as exc:  # counted and shown: a run with failures is not ok
                with self.lock:
                    self.failed += 1
                    if len(self.errors) < 10:
                        self.errors.append(repr(exc)[:300])

    def go(self) -> dict[str, Any]:
        self.started = time.monotonic()
        workers = [threading.Thread(target=self._caller, args=(self.rng.random(),), daemon=True)
                   for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return {"placed": self.placed, "failed": self.failed, "errors": self.errors,
                "seconds": round(time.monotonic() - self.started, 3)}


def serve(url: str, index: int, max_threads: int) -> None:
    """Launch DBOS once, then run each load read from stdin (one JSON object a line:
    run, threads, orders, duration, rate) and answer each with one JSON line."""
    import psycopg
    from dbos import DBOS

    with psycopg.connect(url) as conn:
        skus = [row[0] for row in conn.execute(flow_sql.SKUS)]
    pool = max_threads + 2
    workflow = build_workflow(url, pool)
    DBOS(config=_config(url, f"bench-{index}", pool, migrate=False))  # type: ignore[arg-type]
    DBOS.launch()
    print(json.dumps({"ready": True}), flush=True)
    try:
        for line in sys.stdin:
            load = json.loads(line)
            callers = Callers(workflow, load["run"], skus, threads=load["threads"],
                              orders=load.get("orders"), duration=load.get("duration"),
                              rate=load.get("rate"), seed=index)
            print(json.dumps(callers.go()), flush=True)
    finally:
        DBOS.destroy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["prepare", "serve"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--max-threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepare(args.url)
        print(json.dumps({"prepared": True}), flush=True)
    else:
        serve(args.url, args.index, args.max_threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
