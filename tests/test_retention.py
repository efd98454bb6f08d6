"""Bounded growth (issue 14.11): the retention jobs move or delete only what is past its
retention, an order's timeline is capped, and a saga that needs a person is visited ever less
often. Orders run through the real handlers in-process (`drain`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from rest_framework.test import APIClient

from outbox.archive import archive_events
from outbox.models import ArchivedEvent, Delivery, Event
from payments.models import GatewayCall
from payments.retention import forget_gateway_calls
from saga import bookkeeping, reconciler
from saga.models import ArchivedAction, ReconciliationAction
from saga.retention import archive_actions
from tests.saga_world import (
    catalogue_fixture,  # noqa: F401
    customer_fixture,  # noqa: F401
    place,
    providers_closed,  # noqa: F401
    saga,
)
from tests.support.delivery import drain

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "providers"])


def days_ago(days: float) -> timezone.datetime:
    return timezone.now() - timedelta(days=days)


def test_event_archiving_is_off_by_default_and_moves_only_old_events_no_delivery_needs(
        catalogue, customer):
    assert django_settings.EVENT_ARCHIVE_AFTER_DAYS == 0
    old_order, new_order = place(customer), place(customer)
    drain()
    Event.objects.filter(correlation_id=old_order).update(recorded_at=days_ago(40))
    old_ids = set(Event.objects.filter(correlation_id=old_order).values_list("id", flat=True))
    # Done deliveries are pruned after their own retention; one still pending keeps its event.
    kept = Delivery.objects.filter(event_id__in=old_ids).order_by("id").first()
    Delivery.objects.filter(event_id__in=old_ids).exclude(event_id=kept.event_id).delete()
    Delivery.objects.filter(id=kept.id).update(status="pending")
    before_new = Event.objects.filter(correlation_id=new_order).count()

    assert archive_events() == 0  # off: nothing moves

    moved = archive_events(older_than=timedelta(days=30), batch=2)  # several small batches

    assert moved == len(old_ids) - 1
    assert set(ArchivedEvent.objects.values_list("id", flat=True)) == old_ids - {kept.event_id}
    assert list(Event.objects.filter(correlation_id=old_order).values_list("id", flat=True)) \
        == [kept.event_id]
    assert Event.objects.filter(correlation_id=new_order).count() == before_new
    archived = ArchivedEvent.objects.order_by("id").first()
    original_type = archived.event_type
    assert archived.correlation_id == old_order and original_type.count(".") == 1


def test_gateway_calls_past_retention_are_deleted_and_newer_ones_kept(settings):
    settings.GATEWAY_CALLS_KEEP_DAYS = 30
    calls = GatewayCall.objects.using("providers")
    old = [calls.create(operation="charge", idempotency_key=f"old-{i}", outcome="succeeded")
           for i in range(3)]
    calls.filter(id__in=[c.id for c in old]).update(created_at=days_ago(31))
    young = calls.create(operation="charge", idempotency_key="young", outcome="succeeded",
                         created_at=days_ago(29))

    assert forget_gateway_calls(batch=2) == 3

    assert list(calls.values_list("id", flat=True)) == [young.id]


def test_decided_actions_past_retention_are_archived_and_proposed_ones_stay(
        catalogue, customer, settings):
    settings.RECONCILIATION_ACTIONS_KEEP_DAYS = 90
    order_id = place(customer)
    drain()
    make = ReconciliationAction.objects.create
    old_applied = make(saga_id=order_id, kind="retry_payment", reason="stalled")
    old_rejected = make(saga_id=order_id, kind="refund_extra_charge", reason="dup",
                        status="rejected")
    old_proposed = make(saga_id=order_id, kind="refund_extra_charge", reason="dup",
                        status="proposed")
    young = make(saga_id=order_id, kind="retry_payment", reason="stalled")
    ReconciliationAction.objects.exclude(id=young.id).update(created_at=days_ago(91))
    young.created_at = days_ago(89)
    young.save()

    assert archive_actions() == 2

    assert set(ReconciliationAction.objects.values_list("id", flat=True)) == {
        old_proposed.id, young.id}
    archived = {a.id: a for a in ArchivedAction.objects.all()}
    assert set(archived) == {old_applied.id, old_rejected.id}
    assert (archived[old_rejected.id].saga_id, archived[old_rejected.id].status,
            archived[old_rejected.id].reason) == (order_id, "rejected", "dup")


def test_an_orders_timeline_shows_its_newest_events_and_says_when_it_left_some_out(
        catalogue, customer, settings):
    order_id = place(customer)
    drain()
    every = list(Event.objects.filter(correlation_id=order_id).order_by("id")
                 .values_list("event_type", flat=True))
    client = APIClient()
    client.force_authenticate(customer)

    whole = client.get(f"/api/orders/{order_id}/").json()["saga"]
    assert [e["type"] for e in whole["timeline"]] == every
    assert whole["timeline_truncated"] is False

    settings.SAGA_TIMELINE_LIMIT = 3
    capped = client.get(f"/api/orders/{order_id}/").json()["saga"]
    assert [e["type"] for e in capped["timeline"]] == every[-3:]  # newest, oldest first
    assert capped["timeline_truncated"] is True


def test_a_saga_that_needs_attention_is_visited_ever_less_often(catalogue, customer, settings):
    settings.SAGA_BUDGET_SECONDS = 60
    settings.SAGA_BACKOFF_BASE_SECONDS = 5
    settings.SAGA_BACKOFF_CAP_SECONDS = 20  # a running saga's visits stop growing here
    settings.SAGA_ATTENTION_BACKOFF_CAP_SECONDS = 600
    order_id = place(customer)
    Delivery.objects.filter(event__correlation_id=order_id).update(
        next_attempt_at=timezone.now() + timedelta(days=1))
    now = timezone.now() + timedelta(minutes=2)
    waits = []
    for _ in range(9):
        reconciler.run_pass(now=now)
        stuck = saga(order_id)
        assert stuck.state == "needs_attention"
        waits.append((stuck.next_check_at - now).total_seconds())
        now = stuck.next_check_at
    assert waits == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert ReconciliationAction.objects.filter(kind="needs_attention").count() == 1


def test_an_event_does_not_bring_a_saga_that_needs_attention_back_to_every_pass(
        catalogue, customer, settings):
    settings.SAGA_BUDGET_SECONDS = 60
    order_id = place(customer)
    Delivery.objects.filter(event__correlation_id=order_id).update(
        next_attempt_at=timezone.now() + timedelta(days=1))
    now = timezone.now() + timedelta(minutes=2)
    for _ in range(4):
        reconciler.run_pass(now=now)
        now = saga(order_id).next_check_at
    before = saga(order_id)
    assert before.state == "needs_attention"

    Delivery.objects.filter(event__correlation_id=order_id).update(
        next_attempt_at=timezone.now())
    drain(lose="payments.")  # stock is held at last (an event on the saga), still no charge

    after = saga(order_id)
    assert after.last_event_id != before.last_event_id and after.state == "needs_attention"
    assert (after.checks, after.next_check_at) == (before.checks, before.next_check_at)


def test_the_attention_backoff_doubles_up_to_its_own_cap(settings):
    settings.SAGA_BACKOFF_BASE_SECONDS = 1
    settings.SAGA_BACKOFF_CAP_SECONDS = 4
    settings.SAGA_ATTENTION_BACKOFF_CAP_SECONDS = 64
    running = [bookkeeping.backoff(n).total_seconds() for n in range(8)]
    attention = [bookkeeping.backoff(n, needs_attention=True).total_seconds() for n in range(8)]
    assert running == [1, 2, 4, 4, 4, 4, 4, 4]
    assert attention == [1, 2, 4, 8, 16, 32, 64, 64]
