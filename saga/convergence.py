"""How far the whole system is from converged, now and over time.

`figures()` reads the current numbers with a handful of indexed queries (used by /metrics,
the admin's convergence page and the samples beat takes every 10 s); `take_sample()` keeps them
in the small `ConvergenceSample` table that the convergence chart draws: every sample for a
day, then the last of each hour for a week, then none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Max, Min, Sum, Window
from django.db.models.functions import TruncHour
from django.utils import timezone

from outbox.models import Delivery
from saga.models import ConvergenceSample, OrderSaga

KEEP_EVERY_SAMPLE = timedelta(days=1)
KEEP_HOURLY_SAMPLES = timedelta(days=7)


@dataclass(frozen=True)
class Figures:
    by_state: dict[str, int]
    total_gap: int
    oldest_in_flight_seconds: float
    dead_deliveries: int
    outbox_pending: int
    oldest_pending_seconds: float


def figures(now: datetime | None = None) -> Figures:
    now = now or timezone.now()
    counts = dict(OrderSaga.objects.values_list("state").annotate(n=Count("order_id"))
                  .order_by())
    in_flight = OrderSaga.objects.exclude(state=OrderSaga.State.CONVERGED).aggregate(
        gap=Sum("gap"), oldest=Min("started_at"))
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING).aggregate(
        n=Count("id"), oldest=Min("created_at"))
    return Figures(
        by_state={state: counts.get(state, 0) for state in OrderSaga.State.values},
        total_gap=in_flight["gap"] or 0,
        oldest_in_flight_seconds=_age(now, in_flight["oldest"]),
        dead_deliveries=Delivery.objects.filter(status=Delivery.Status.DEAD).count(),
        outbox_pending=pending["n"],
        oldest_pending_seconds=_age(now, pending["oldest"]),
    )


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since else 0.0


def take_sample(now: datetime | None = None) -> ConvergenceSample:
    now = now or timezone.now()
    current = figures(now)
    sample = ConvergenceSample.objects.create(
        taken_at=now,
        running=current.by_state["running"],
        compensating=current.by_state["compensating"],
        converged=current.by_state["converged"],
        needs_attention=current.by_state["needs_attention"],
        total_gap=current.total_gap,
        oldest_in_flight_seconds=current.oldest_in_flight_seconds,
        dead_deliveries=current.dead_deliveries,
        outbox_pending=current.outbox_pending,
    )
    downsample(now)
    return sample


def downsample(now: datetime) -> int:
    """Past a day keep the last sample of each hour, past a week none; returns how many went.

    Rows older than a day were thinned when they crossed the line, so each run reads only
    the hours of the past week (a few hundred rows at most)."""
    gone, _ = ConvergenceSample.objects.filter(taken_at__lt=now - KEEP_HOURLY_SAMPLES).delete()
    thinned = ConvergenceSample.objects.filter(taken_at__gte=now - KEEP_HOURLY_SAMPLES,
                                               taken_at__lt=now - KEEP_EVERY_SAMPLE)
    last_of_each_hour = list(
        thinned.annotate(last=Window(Max("taken_at"), partition_by=[TruncHour("taken_at")]))
        .filter(taken_at=F("last")).values_list("id", flat=True))
    dropped, _ = thinned.exclude(id__in=last_of_each_hour).delete()
    return gone + dropped
