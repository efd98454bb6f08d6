"""The saga as the API shows it: the `saga` block of an order, and the staff list of sagas."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from outbox.models import Event
from saga import desired
from saga.disagreements import as_json, disagreements, side_by_side
from saga.models import OrderSaga, ReconciliationAction
from saga.observation import Observation, observe


def _money(value: Any) -> str:
    return f"{value:.2f}"


def participants(saga: OrderSaga, obs: Observation | None = None) -> dict[str, Any]:
    """Each participant as the events say (`observed`, `charged`...), and, given what the
    participants themselves say (`obs`), as their own records and the providers' ledgers say
    (`at_participant`, `net_at_provider`, `at_provider`)."""
    by_name = {f.name: f for f in desired.facets(saga.observed())}
    outcome = desired.DesiredOutcome(saga.desired_outcome)
    block: dict[str, Any] = {
        "stock": {"observed": by_name["stock"].observed, "desired": by_name["stock"].desired},
        "payment": {
            "charged": _money(saga.charged),
            "refunded": _money(saga.refunded),
            "net": _money(saga.net),
            "desired_net": _money(desired.desired_net(outcome, saga.total)),
        },
        "shipment": {"observed": by_name["shipment"].observed,
                     "desired": by_name["shipment"].desired},
    }
    if obs is not None:
        records = {f.name: f.records for f in side_by_side(saga, obs)}
        block["stock"]["at_participant"] = records["stock"]
        block["payment"]["net_at_provider"] = _money(obs.money.net if obs.money
                                                     else desired.ZERO)
        block["shipment"]["at_provider"] = records["shipment"]
    return block


def source_of(stream_type: str) -> str:
    """The context that wrote an event ("saga" for the reconciler's commands)."""
    return stream_type.split(".", 1)[0]


def timeline(order_id: str, *, limit: int | None = None) -> tuple[list[dict[str, Any]], bool]:
    """The newest `limit` (SAGA_TIMELINE_LIMIT) events of the order's saga (all streams sharing
    its correlation id), oldest first, and whether older ones were left out: a saga the
    reconciler keeps correcting must not grow its order's answer without bound."""
    limit = limit or settings.SAGA_TIMELINE_LIMIT
    rows = list(Event.objects.filter(correlation_id=order_id).order_by("-id")
                .values_list("recorded_at", "event_type", "stream_type")[:limit + 1])
    truncated = len(rows) > limit
    return ([{"at": at.isoformat(), "type": event_type, "source": source_of(stream_type)}
             for at, event_type, stream_type in reversed(rows[:limit])], truncated)


def saga_block(order_id: str, saga: OrderSaga | None = None) -> dict[str, Any] | None:
    """The order's `saga` block of the API contract, or None if it has no saga row."""
    saga = saga or OrderSaga.objects.filter(order_id=order_id).first()
    if saga is None:
        return None
    obs = observe([saga])[saga.order_id]
    events, truncated = timeline(order_id)
    return {
        "state": saga.state,
        "desired_outcome": saga.desired_outcome,
        "gap": saga.gap,
        "current_step": saga.current_step,
        "attention_reason": saga.attention_reason or None,
        "participants": participants(saga, obs),
        "disagreements": as_json(disagreements(saga, obs)),
        "timeline": events,
        "timeline_truncated": truncated,
    }


class SagaSerializer(serializers.ModelSerializer):
    """One row of `GET /api/sagas/`."""

    age_seconds = serializers.SerializerMethodField()
    participants = serializers.SerializerMethodField()

    class Meta:
        model = OrderSaga
        fields = ["order_id", "customer_id", "order_status", "state", "desired_outcome", "gap",
                  "current_step", "step_deadline", "attention_reason", "total", "participants",
                  "last_event_type", "last_event_at", "started_at", "converged_at",
                  "age_seconds"]

    def get_age_seconds(self, saga: OrderSaga) -> float:
        end = saga.converged_at or timezone.now()
        return round((end - saga.started_at).total_seconds(), 3)

    @extend_schema_field(serializers.DictField())
    def get_participants(self, saga: OrderSaga) -> dict[str, Any]:
        return participants(saga)


class ActionSerializer(serializers.ModelSerializer):
    """One ReconciliationAction: what was done or proposed about a saga, by whom, and why."""

    class Meta:
        model = ReconciliationAction
        fields = ["id", "order_id", "kind", "subject", "status", "actor", "reason", "evidence",
                  "moves_money", "command_event_id", "created_at", "decided_by", "decided_at",
                  "decision_note"]

    order_id = serializers.CharField(source="saga_id", read_only=True)


class NoteSerializer(serializers.Serializer):
    """An operator's note: required to acknowledge a saga."""

    note = serializers.CharField(max_length=1000)


class OptionalNoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
