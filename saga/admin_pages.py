"""What the saga admin pages show: one saga in full, and the whole system's convergence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.safestring import SafeString

from orders.events import OrderStatus
from outbox.models import Delivery, Event
from saga.chart import convergence_svg
from saga.convergence import figures
from saga.disagreements import disagreements, side_by_side
from saga.models import ConvergenceSample, OrderSaga, ReconciliationAction
from saga.observation import Observation, observe
from saga.serializers import source_of
from saga.swimlane import swimlane_svg

CHART_SPAN = timedelta(days=1)
CHART_POINTS = 720  # a day of 10 s samples is 8,640: every n-th of them draws the same picture


def participants_side_by_side(saga: OrderSaga, obs: Observation) -> list[dict[str, Any]]:
    """Every facet: desired, observed in the events, observed at the participants, and why
    they disagree."""
    reasons = {d.participant: d.reason for d in disagreements(saga, obs)}
    return [{
        "name": facet.name, "desired": facet.desired, "events": facet.events,
        "participants": facet.records, "agrees": facet.agrees,
        "reason": reasons.get(facet.name, ""),
    } for facet in side_by_side(saga, obs)]


def timeline_with_causation(order_id: str) -> list[dict[str, Any]]:
    rows = Event.objects.filter(correlation_id=order_id).order_by("id")
    return [{
        "id": row.id, "at": row.recorded_at, "type": row.event_type,
        "source": source_of(row.stream_type), "stream": f"{row.stream_type}/{row.stream_id}",
        "version": row.version, "caused_by": (row.metadata or {}).get("causation_id"),
        "actor": (row.metadata or {}).get("actor"),
    } for row in rows]


def deliveries_of(order_id: str) -> list[dict[str, Any]]:
    rows = (Delivery.objects.filter(event__correlation_id=order_id)
            .select_related("event").order_by("id"))
    return [{
        "id": row.id, "event_id": row.event_id, "event_type": row.event.event_type,
        "handler": row.handler, "status": row.status, "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at, "done_at": row.done_at,
        "error": ((row.last_error or "").strip().splitlines() or [""])[-1],
    } for row in rows]


def saga_swimlane(timeline: list[dict[str, Any]],
                  actions: list[ReconciliationAction]) -> SafeString:
    """The events by the context that wrote them, and the reconciler's acts in its lane."""
    return swimlane_svg(
        [{"at": e["at"], "source": e["source"], "label": e["type"]} for e in timeline]
        + [{"at": a.created_at, "lane": "reconciler", "label": f"{a.kind} ({a.status})"}
           for a in actions])


def saga_page_context(saga: OrderSaga) -> dict[str, Any]:
    deliveries = deliveries_of(saga.order_id)
    obs = observe([saga])[saga.order_id]
    timeline = timeline_with_causation(saga.order_id)
    actions = list(saga.actions.order_by("-id"))
    return {
        "saga": saga,
        "participants": participants_side_by_side(saga, obs),
        "disagreements": disagreements(saga, obs),
        "timeline": timeline,
        "swimlane": saga_swimlane(timeline, actions),
        "deliveries": deliveries,
        "dead_count": sum(d["status"] == Delivery.Status.DEAD for d in deliveries),
        "saga_actions": actions,
        "can_cancel": saga.order_status == OrderStatus.PENDING,
    }


def convergence_context() -> dict[str, Any]:
    now = timezone.now()
    samples = list(ConvergenceSample.objects.filter(taken_at__gte=now - CHART_SPAN)
                   .order_by("taken_at"))
    stride = -(-len(samples) // CHART_POINTS) or 1
    samples = samples[::-stride][::-1]  # thinned, always ending with the newest sample
    oldest = (OrderSaga.objects.exclude(state=OrderSaga.State.CONVERGED)
              .order_by("started_at").first())
    return {
        "figures": figures(now),
        "chart": convergence_svg(samples),
        "samples": len(samples),
        "oldest": oldest,
        "oldest_age": (now - oldest.started_at) if oldest else None,
        "attention": OrderSaga.objects.filter(
            state=OrderSaga.State.NEEDS_ATTENTION).order_by("started_at")[:20],
    }
