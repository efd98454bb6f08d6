"""BASELINES ONLY: the order's four steps as plain SQL on plain tables of their own, shared by
the naive Celery chain (lab.bench.naive) and the DBOS workflow (lab.bench.dbos_flow), so the
two do exactly the same database work. No event store, no outbox, no inbox, no reconciler.

Every statement takes the order id (`%(id)s`, psycopg style); the order's lines live on its row.
No Django import: the DBOS driver runs without Django.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Execute = Callable[[str, dict[str, Any]], object]

CREATE_TABLES = """
CREATE TABLE IF NOT EXISTS bench_flow_stock (
    sku text PRIMARY KEY, price numeric(12, 2) NOT NULL,
    on_hand integer NOT NULL, reserved integer NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS bench_flow_order (
    id text PRIMARY KEY, run text NOT NULL, lines jsonb NOT NULL, total numeric(12, 2) NOT NULL,
    status text NOT NULL, placed_at timestamptz NOT NULL, confirmed_at timestamptz);
CREATE INDEX IF NOT EXISTS bench_flow_order_run ON bench_flow_order (run);
CREATE TABLE IF NOT EXISTS bench_flow_reservation (
    order_id text PRIMARY KEY, reserved_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS bench_flow_payment (
    order_id text PRIMARY KEY, amount numeric(12, 2) NOT NULL, charged_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS bench_flow_shipment (
    order_id text PRIMARY KEY, booked_at timestamptz NOT NULL);
"""
DROP_TABLES = """
DROP TABLE IF EXISTS bench_flow_shipment, bench_flow_payment, bench_flow_reservation,
    bench_flow_order, bench_flow_stock;
"""
SEED_STOCK = """
INSERT INTO bench_flow_stock (sku, price, on_hand)
SELECT 'FLOW-' || n, n * 3 + 1.25, 1000000000 FROM generate_series(1, %(products)s) AS n
ON CONFLICT (sku) DO NOTHING
"""
SKUS = "SELECT sku FROM bench_flow_stock ORDER BY sku"

# Placement: the order row, priced from the stock table (unknown skus price at 0: a baseline).
PLACE = """
INSERT INTO bench_flow_order (id, run, lines, total, status, placed_at)
SELECT %(id)s, %(run)s, %(lines)s::jsonb, coalesce(sum(s.price * l.quantity), 0), 'pending',
       clock_timestamp()
FROM jsonb_to_recordset(%(lines)s::jsonb) AS l(sku text, quantity integer)
LEFT JOIN bench_flow_stock s ON s.sku = l.sku
"""
_LINES = """(SELECT l.sku, l.quantity FROM bench_flow_order o,
             jsonb_to_recordset(o.lines) AS l(sku text, quantity integer) WHERE o.id = %(id)s)"""
# Rows locked in sku order first, so two reservations never deadlock.
LOCK_STOCK = f"""
SELECT s.sku FROM bench_flow_stock s JOIN {_LINES} AS l ON l.sku = s.sku
ORDER BY s.sku FOR UPDATE OF s
"""
RESERVE = f"""
UPDATE bench_flow_stock s SET reserved = s.reserved + l.quantity FROM {_LINES} AS l
WHERE s.sku = l.sku AND s.on_hand - s.reserved >= l.quantity
"""
RECORD_RESERVATION = """
INSERT INTO bench_flow_reservation (order_id, reserved_at) VALUES (%(id)s, clock_timestamp())
"""
CHARGE = """
INSERT INTO bench_flow_payment (order_id, amount, charged_at)
SELECT id, total, clock_timestamp() FROM bench_flow_order WHERE id = %(id)s
"""
BOOK = "INSERT INTO bench_flow_shipment (order_id, booked_at) VALUES (%(id)s, clock_timestamp())"
CONFIRM = """
UPDATE bench_flow_order SET status = 'confirmed', confirmed_at = clock_timestamp()
WHERE id = %(id)s AND status = 'pending'
"""

# What a run measured, read back from the order rows (the database's own clock); `{orders}`
# is a condition choosing the run's orders (BY_RUN or BY_IDS).
BY_RUN = "run = %(run)s"
BY_IDS = "id = ANY(%(ids)s)"
PENDING = "SELECT count(*) FROM bench_flow_order WHERE {orders} AND status = 'pending'"
LATENCIES = """
SELECT extract(epoch FROM confirmed_at - placed_at)::float FROM bench_flow_order
WHERE {orders} AND status = 'confirmed'
"""
SPAN = """
SELECT count(*) FILTER (WHERE status = 'confirmed'), count(*),
       extract(epoch FROM max(confirmed_at) - min(placed_at))::float
FROM bench_flow_order WHERE {orders}
"""


def reserve_stock(execute: Execute, order_id: str) -> None:
    params = {"id": order_id}
    execute(LOCK_STOCK, params)
    execute(RESERVE, params)
    execute(RECORD_RESERVATION, params)


def charge_payment(execute: Execute, order_id: str) -> None:
    execute(CHARGE, {"id": order_id})


def book_shipment(execute: Execute, order_id: str) -> None:
    execute(BOOK, {"id": order_id})


def confirm_order(execute: Execute, order_id: str) -> None:
    execute(CONFIRM, {"id": order_id})
