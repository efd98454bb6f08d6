"""The invariant audit: DESIGN.md's six invariants checked against the data.

1. every event has one delivery per subscribed handler, none lost (dead or stuck);
2. stock per product: on hand + shipped = received, held = what reservations hold, 0 <= held
   <= on hand;
3. money per order, by the gateway's ledger: net = total when confirmed, 0 when cancelled;
4. shipments per order, by the carrier's ledger: one live when confirmed, none when cancelled;
5. every saga converged (gap 0) or needing attention with a reason, none silently stuck;
6. the read models equal a rebuild from the event store (saga.audit_read_models).

Each check returns a `Check` with every violation (the report shows the first few).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from inventory.models import Stock
from orders.models import OrderSnapshot
from outbox import registry
from outbox.models import Delivery, Event
from payments.models import GatewayLedgerEntry
from saga.audit_read_models import check_read_models
from saga.models import OrderSaga
from shipping.models import CarrierLedgerEntry

PROVIDERS_DB = "providers"
ZERO = Decimal("0")


@dataclass
class Check:
    number: int
    name: str
    checked: int = 0
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_json(self, limit: int = 100) -> dict[str, Any]:
        return {"invariant": self.number, "name": self.name, "ok": self.ok,
                "checked": self.checked, "violation_count": len(self.violations),
                "violations": self.violations[:limit], "notes": self.notes}


def run_audit(*, strict: bool = False, now: datetime | None = None,
              progress: Callable[[int, int], object] | None = None) -> list[Check]:
    """Every invariant, in order. `strict`: a saga still in flight is a violation too (for a
    system at rest, e.g. after a chaos run has drained). `progress(done, total)` after each."""
    at = now or timezone.now()
    steps: list[Callable[[], Check]] = [
        lambda: check_deliveries(at), check_stock, check_money, check_shipments,
        lambda: check_sagas(at, strict=strict), check_read_models]
    checks = []
    for step in steps:
        checks.append(step())
        if progress:
            progress(len(checks), len(steps))
    return checks


def check_deliveries(now: datetime) -> Check:
    check = Check(1, "every event has one delivery per subscribed handler, none lost")
    expected = [(event_type, sub.name) for event_type in _event_types()
                for sub in registry.subscriptions(event_type)]
    # Done deliveries older than the retention may have been pruned: look within it.
    horizon = now - timedelta(days=settings.OUTBOX_PRUNE_AFTER_DAYS)
    check.checked = Event.objects.filter(recorded_at__gte=horizon).count()
    if expected:
        values = ", ".join(["(%s, %s)"] * len(expected))
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH expected(event_type, handler) AS (VALUES {values}) "
                "SELECT e.id, e.event_type, x.handler FROM outbox_event e "
                "JOIN expected x ON x.event_type = e.event_type "
                "LEFT JOIN outbox_delivery d ON d.event_id = e.id AND d.handler = x.handler "
                "WHERE d.id IS NULL AND e.recorded_at >= %s ORDER BY e.id",
                [v for pair in expected for v in pair] + [horizon])
            for event_id, event_type, handler in cursor.fetchall():
                check.violations.append(
                    f"event #{event_id} ({event_type}) has no delivery to {handler}")
    known = set(expected)
    for event_type, handler in (Delivery.objects.values_list("event__event_type", "handler")
                                .distinct().order_by()):
        if (event_type, handler) not in known:
            check.violations.append(f"deliveries of {event_type} go to {handler}, which does "
                                    "not subscribe to it")
    for delivery_id, handler, error in Delivery.objects.filter(
            status=Delivery.Status.DEAD).values_list("id", "handler", "last_error"):
        last = (error or "").strip().splitlines()[-1:] or ["no error recorded"]
        check.violations.append(f"delivery #{delivery_id} to {handler} is dead: {last[0][:200]}")
    # Pending past its due time by more than a sweep's lease and grace: nobody is sending it.
    stuck = now - timedelta(seconds=2 * settings.OUTBOX_LEASE_SECONDS
                            + settings.OUTBOX_SWEEP_GRACE_SECONDS + 60)
    for delivery_id, handler in Delivery.objects.filter(
            status=Delivery.Status.PENDING, next_attempt_at__lt=stuck).values_list("id", "handler"):
        check.violations.append(f"delivery #{delivery_id} to {handler} is pending long past due")
    check.notes.append("a delivery is never done twice: one row per (event, handler) is a "
                       "unique constraint, and a done row is never run again")
    return check


def _event_types() -> list[str]:
    return list(Event.objects.values_list("event_type", flat=True).distinct().order_by())


def _sum_lines(event_type: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT line->>'sku', sum((line->>'quantity')::bigint) FROM outbox_event, "
            "jsonb_array_elements(payload->'lines') AS line WHERE event_type = %s GROUP BY 1",
            [event_type])
        return {sku: int(n) for sku, n in cursor.fetchall()}


def check_stock() -> Check:
    from inventory.projections import read_models_from_events

    check = Check(2, "stock: on hand + shipped = received, 0 <= held = reserved <= on hand")
    received: dict[str, int] = defaultdict(int)
    for payload in Event.objects.filter(event_type="inventory.GoodsReceived").values_list(
            "payload", flat=True):
        received[payload["sku"]] += int(payload["quantity"])
    shipped = _sum_lines("inventory.StockCommitted")
    _, stocks, _ = read_models_from_events()
    held_by_reservations = {s.sku_id: s.held for s in stocks}
    for stock in Stock.objects.all():
        sku = stock.sku_id
        check.checked += 1
        if stock.on_hand + shipped.get(sku, 0) != received.get(sku, 0):
            check.violations.append(
                f"{sku}: on hand {stock.on_hand} + shipped {shipped.get(sku, 0)} != received "
                f"{received.get(sku, 0)}")
        if not 0 <= stock.held <= stock.on_hand:
            check.violations.append(f"{sku}: held {stock.held} is outside 0..on hand "
                                    f"{stock.on_hand} (available {stock.available})")
        if stock.held != held_by_reservations.get(sku, 0):
            check.violations.append(f"{sku}: held {stock.held} but the reservations hold "
                                    f"{held_by_reservations.get(sku, 0)}")
    return check


def _orders() -> dict[str, tuple[str, Decimal]]:
    return {stream_id: (state.get("status") or "", Decimal(state.get("total") or "0"))
            for stream_id, state in OrderSnapshot.objects.values_list("stream_id", "state")}


def check_money() -> Check:
    check = Check(3, "money: the gateway's net per order is its total when confirmed, 0 when "
                     "cancelled")
    net: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for order_id, kind, amount in GatewayLedgerEntry.objects.using(PROVIDERS_DB).values_list(
            "order_id", "kind", "amount"):
        net[order_id] += amount if kind == GatewayLedgerEntry.Kind.CHARGE else -amount
    orders = _orders()
    for order_id, (status, total) in orders.items():
        wanted = total if status == "confirmed" else ZERO if status == "cancelled" else None
        if wanted is None:
            continue  # pending: in flight
        check.checked += 1
        if net[order_id] != wanted:
            check.violations.append(f"order {order_id} is {status}: the gateway's net is "
                                    f"{net[order_id]:.2f}, it should be {wanted:.2f}")
    for order_id in set(net) - set(orders):
        if net[order_id]:
            check.violations.append(f"the gateway holds {net[order_id]:.2f} for unknown order "
                                    f"{order_id}")
    return check


def check_shipments() -> Check:
    check = Check(4, "shipments: one live booking per confirmed order, none per cancelled")
    live: dict[str, int] = defaultdict(int)
    for order_id in CarrierLedgerEntry.objects.using(PROVIDERS_DB).filter(
            status=CarrierLedgerEntry.Status.BOOKED).values_list("order_id", flat=True):
        live[order_id] += 1
    for order_id, (status, _) in _orders().items():
        wanted = 1 if status == "confirmed" else 0 if status == "cancelled" else None
        if wanted is None:
            continue
        check.checked += 1
        if live[order_id] != wanted:
            check.violations.append(f"order {order_id} is {status} with {live[order_id]} live "
                                    f"shipment(s) at the carrier, it should have {wanted}")
    return check


def check_sagas(now: datetime, *, strict: bool) -> Check:
    check = Check(5, "every saga converged or needing attention with a reason")
    budget = now - timedelta(seconds=settings.SAGA_BUDGET_SECONDS)
    placed = set(Event.objects.filter(event_type="orders.OrderPlaced")
                 .values_list("stream_id", flat=True))
    sagas = OrderSaga.objects.values_list("order_id", "state", "gap", "attention_reason",
                                          "started_at", "current_step")
    in_flight = 0
    seen = set()
    for order_id, state, gap, reason, started_at, step in sagas.iterator(chunk_size=5000):
        seen.add(order_id)
        check.checked += 1
        if state == OrderSaga.State.CONVERGED and gap:
            check.violations.append(f"saga {order_id} is converged with a gap of {gap}")
        elif state == OrderSaga.State.NEEDS_ATTENTION and not (reason or "").strip():
            check.violations.append(f"saga {order_id} needs attention but gives no reason")
        elif state in (OrderSaga.State.RUNNING, OrderSaga.State.COMPENSATING):
            if strict or started_at < budget:
                check.violations.append(f"saga {order_id} is still {state} (gap {gap}, step "
                                        f"{step}) and nobody is told why")
            else:
                in_flight += 1
    for order_id in placed - seen:
        check.violations.append(f"order {order_id} has no saga row")
    if in_flight:
        check.notes.append(f"{in_flight} saga(s) in flight within their budget")
    return check
